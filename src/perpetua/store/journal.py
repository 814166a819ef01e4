"""The journal: every command the sequencer applied, in order, durable before it is acknowledged.

A record is (seq, command, meta). ``seq`` counts from 1 without gaps. ``meta`` is optional JSON the
edge attaches (the v3 fields a command does not carry: an order's limit fee and signature, the
Ethereum address and API key of an onboarding); read models are rebuilt from commands, their events
and this meta. Snapshots (the serialised state after record ``seq``) bound recovery time.

``Journal`` is the interface; ``SqlJournal`` implements it once over a SQL connection, with
``SqliteJournal`` (stdlib, WAL mode) the embedded default and ``perpetua.store.postgres.PostgresJournal``
the production option.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from perpetua.core.commands import Command
from perpetua.store.codec import decode_command, encode_command


@dataclass(frozen=True, slots=True)
class JournalRecord:
    seq: int
    command: Command
    meta: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state after record ``seq``: ``data`` in ``format``, and its state hash to check on load."""

    seq: int
    state_hash: str
    format: str
    data: bytes


class JournalError(Exception):
    """The journal refused a write (a gap or a repeated sequence number) or cannot be read."""


class Journal(Protocol):
    def append(self, records: Sequence[JournalRecord]) -> None:
        """Append consecutive records and commit them: durable when this returns."""

    def records(self, after_seq: int = 0) -> Iterator[JournalRecord]:
        """The records with seq > ``after_seq``, in order."""

    def last_seq(self) -> int:
        """The seq of the last record (0 when empty)."""

    def save_snapshot(self, snapshot: Snapshot) -> None: ...

    def latest_snapshot(self) -> Snapshot | None: ...

    def close(self) -> None: ...


def encode_meta(meta: dict[str, Any] | None) -> str | None:
    return None if meta is None else json.dumps(meta, separators=(",", ":"))


def decode_meta(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    data = json.loads(text)
    return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class SqlDialect:
    """What differs between the SQL backends in the statements they share: the table names, the
    driver's parameter marker, and how a snapshot replaces one with the same seq."""

    journal: str
    snapshots: str
    param: str
    replace_snapshot: str

    def params(self, n: int) -> str:
        return ", ".join([self.param] * n)


class SqlJournal:
    """The journal over a SQL connection: the seq rules, the row encoding, the queries and the
    snapshot policy, for every backend.

    A backend sets ``_db`` (a connection whose ``execute`` returns a cursor) and ``dialect``, calls
    ``_open`` once its tables exist, and supplies how a batch is committed (``_insert``), how the
    journal is read (``_select``) and what a snapshot write runs in (``_snapshot_write``).
    """

    dialect: ClassVar[SqlDialect]
    _db: Any
    _last: int

    def _open(self) -> None:
        d = self.dialect
        self._sql_insert = f"INSERT INTO {d.journal} (seq, command, meta) VALUES ({d.params(3)})"
        self._sql_select = f"SELECT seq, command, meta FROM {d.journal} WHERE seq > {d.param} ORDER BY seq"
        self._last = self._query_last()

    def _insert(self, sql: str, rows: list[tuple[int, str, str | None]]) -> None:
        """Run ``sql`` for every row in one transaction, committed when this returns."""
        raise NotImplementedError

    def _select(self, sql: str, after_seq: int) -> Iterable[tuple[Any, Any, Any]]:
        """The rows of ``sql`` with ``after_seq`` as its parameter."""
        raise NotImplementedError

    def _snapshot_write(self) -> AbstractContextManager[object]:
        """What saving a snapshot (write it, prune the old ones) runs in."""
        raise NotImplementedError

    def _query_last(self) -> int:
        row = self._db.execute(f"SELECT COALESCE(MAX(seq), 0) FROM {self.dialect.journal}").fetchone()
        return int(row[0])

    def append(self, records: Sequence[JournalRecord]) -> None:
        if not records:
            return
        expected = self._last + 1
        for i, rec in enumerate(records):
            if rec.seq != expected + i:
                raise JournalError(f"record seq {rec.seq} does not follow {expected + i - 1}")
        rows = [(r.seq, encode_command(r.command), encode_meta(r.meta)) for r in records]
        self._insert(self._sql_insert, rows)
        self._last = records[-1].seq

    def records(self, after_seq: int = 0) -> Iterator[JournalRecord]:
        for seq, command, meta in self._select(self._sql_select, after_seq):
            yield JournalRecord(int(seq), decode_command(command), decode_meta(meta))

    def last_seq(self) -> int:
        return self._last

    def save_snapshot(self, snapshot: Snapshot) -> None:
        table = self.dialect.snapshots
        with self._snapshot_write():
            self._db.execute(
                self.dialect.replace_snapshot, (snapshot.seq, snapshot.state_hash, snapshot.format, snapshot.data)
            )
            # Keep the two newest: one to fall back on if the newest does not load.
            self._db.execute(f"DELETE FROM {table} WHERE seq NOT IN (SELECT seq FROM {table} ORDER BY seq DESC LIMIT 2)")

    def snapshots(self) -> list[Snapshot]:
        """Every kept snapshot, newest first."""
        rows = self._db.execute(
            f"SELECT seq, state_hash, format, data FROM {self.dialect.snapshots} ORDER BY seq DESC"
        ).fetchall()
        return [Snapshot(int(s), str(h), str(f), bytes(d)) for s, h, f, d in rows]

    def latest_snapshot(self) -> Snapshot | None:
        snaps = self.snapshots()
        return snaps[0] if snaps else None

    def close(self) -> None:
        self._db.close()


class SqliteJournal(SqlJournal):
    """The journal in one SQLite file, WAL mode.

    ``synchronous`` is FULL by default: a commit is on disk when ``append`` returns (NORMAL keeps
    it safe against a process crash, not against a power loss, and commits faster).
    """

    dialect = SqlDialect(
        journal="journal",
        snapshots="snapshots",
        param="?",
        replace_snapshot="INSERT OR REPLACE INTO snapshots (seq, state_hash, format, data) VALUES (?, ?, ?, ?)",
    )

    def __init__(self, path: str | Path, synchronous: str = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL", "EXTRA", "OFF"):
            raise ValueError(f"synchronous: {synchronous!r} is not a SQLite synchronous mode")
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS journal (
                seq INTEGER PRIMARY KEY, command TEXT NOT NULL, meta TEXT
            );
            CREATE TABLE IF NOT EXISTS snapshots (
                seq INTEGER PRIMARY KEY, state_hash TEXT NOT NULL, format TEXT NOT NULL, data BLOB NOT NULL
            );
            """
        )
        self._open()

    def _insert(self, sql: str, rows: list[tuple[int, str, str | None]]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(sql, rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _select(self, sql: str, after_seq: int) -> Iterable[tuple[Any, Any, Any]]:
        return self._db.execute(sql, (after_seq,))

    def _snapshot_write(self) -> AbstractContextManager[object]:
        return nullcontext()  # autocommit: each statement commits on its own
