"""A persistent (copy-on-write) integer-keyed map for the rollup state.

`apply` must leave its input state untouched while states hold up to millions of positions, so
copying a whole dict per transaction is out. The map is 256 x 256 buckets (by the key's low 16
bits); an update copies the top tuple (256 refs), one row tuple (256 refs) and one bucket
(~N/65536 entries), so old and new maps share everything else. Lookups are two tuple indexings
and a dict lookup. `changed_keys(old, new)` finds the difference by skipping shared rows and
buckets (identity), so a batch's state diff costs in proportion to what changed.
Values are never mutated in place; `None` in an update deletes the key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

V = TypeVar("V")

_BITS = 8
_FAN = 1 << _BITS
_MASK = _FAN - 1
_EMPTY_BUCKET: dict[int, Any] = {}
_EMPTY_ROW: tuple[dict[int, Any], ...] = (_EMPTY_BUCKET,) * _FAN
_EMPTY_TOP = (_EMPTY_ROW,) * _FAN


class PMap(Generic[V]):
    """An immutable map int -> V with cheap `updated` copies."""

    __slots__ = ("_count", "_top")

    def __init__(self, items: Mapping[int, V] | None = None) -> None:
        self._top: tuple[tuple[dict[int, V], ...], ...] = _EMPTY_TOP
        self._count = 0
        if items:
            filled = self.updated(items)
            self._top, self._count = filled._top, filled._count

    def get(self, key: int, default: V) -> V:
        return self._top[(key >> _BITS) & _MASK][key & _MASK].get(key, default)

    def __contains__(self, key: int) -> bool:
        return key in self._top[(key >> _BITS) & _MASK][key & _MASK]

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        for row in self._top:
            if row is not _EMPTY_ROW:
                for bucket in row:
                    yield from bucket

    def items(self) -> Iterator[tuple[int, V]]:
        for row in self._top:
            if row is not _EMPTY_ROW:
                for bucket in row:
                    yield from bucket.items()

    def updated(self, changes: Mapping[int, V | None]) -> PMap[V]:
        """A new map with `changes` applied (None deletes); this map is unchanged."""
        top = list(self._top)
        rows: dict[int, list[dict[int, V]]] = {}
        copied: set[int] = set()
        count = self._count
        for key, value in changes.items():
            hi, lo = (key >> _BITS) & _MASK, key & _MASK
            row = rows.get(hi)
            if row is None:
                row = rows[hi] = list(top[hi])
            slot = hi << _BITS | lo
            if slot not in copied:
                row[lo] = dict(row[lo])
                copied.add(slot)
            bucket = row[lo]
            if value is None:
                if key in bucket:
                    del bucket[key]
                    count -= 1
            else:
                if key not in bucket:
                    count += 1
                bucket[key] = value
        for hi, row in rows.items():
            top[hi] = tuple(row)
        new: PMap[V] = PMap.__new__(PMap)
        new._top = tuple(top)
        new._count = count
        return new


def changed_keys(old: PMap[V], new: PMap[V]) -> list[int]:
    """Keys whose value differs (by identity) or that exist in only one of the maps, sorted."""
    out: list[int] = []
    for row_old, row_new in zip(old._top, new._top, strict=True):
        if row_old is row_new:
            continue
        for b_old, b_new in zip(row_old, row_new, strict=True):
            if b_old is b_new:
                continue
            for key, value in b_new.items():
                if b_old.get(key) is not value:
                    out.append(key)
            out.extend(key for key in b_old if key not in b_new)
    out.sort()
    return out
