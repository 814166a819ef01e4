"""The v3 trader the API tests drive: the load benchmark's client (``bench/_client.py``), one copy for
both."""

from bench._client import Trader, now_iso

__all__ = ["Trader", "now_iso"]
