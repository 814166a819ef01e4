"""Recorded market data: one event vocabulary, one loader interface, many file formats.

``load(path)`` detects the format from the file's name and header and yields events (``Bar``,
``Trade``, ``BookSnapshot``, ``BookDelta``, ``FundingRate``) in file order, with prices in collateral
quantums and sizes in synthetic quantums (``Scale``). A new format is one function registered in
``perpetua.sim.marketdata.formats``; nothing downstream changes.
"""

import heapq
from collections.abc import Iterable, Iterator

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


def merge(*streams: Iterable[MarketEvent]) -> Iterator[MarketEvent]:
    """Several recordings as one stream in time order (ties: the earlier stream first), lazily."""
    return heapq.merge(*streams, key=lambda e: e.timestamp_ns)

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
    "merge",
]
