"""The v3 trader the API tests drive: Perpetua's minimal v3 client (``perpetua.api.client``), one copy for
both."""

from perpetua.api.client import Trader, now_iso

__all__ = ["Trader", "now_iso"]
