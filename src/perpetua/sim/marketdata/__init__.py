"""Recorded market data: one event vocabulary, one loader interface, many file formats.

``load(path)`` detects the format from the file's name and header and yields events (``Bar``,
``Trade``, ``BookSnapshot``, ``BookDelta``, ``FundingRate``) in file order, with prices in collateral
quantums and sizes in synthetic quantums (``Scale``). A new format is one function registered in
``perpetua.sim.marketdata.formats``; nothing downstream changes.
"""

from perpetua.sim.marketdata.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    FundingRate,
    MarketEvent,
    Scale,
    Trade,
)
from perpetua.sim.marketdata.formats import FORMATS, detect_format, load

__all__ = [
    "FORMATS",
    "Bar",
    "BookDelta",
    "BookSnapshot",
    "FundingRate",
    "MarketEvent",
    "Scale",
    "Trade",
    "detect_format",
    "load",
]
