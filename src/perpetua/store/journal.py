"""The journal: every command the sequencer applied, in order, durable before it is acknowledged.

A record is (seq, command, meta). ``seq`` counts from 1 without gaps. ``meta`` is optional JSON the
edge attaches (the v3 fields a command does not carry: an order's limit fee and signature, the
Ethereum address and API key of an onboarding); read models are rebuilt from commands, their events
and this meta. Snapshots (the serialised state after record ``seq``) bound recovery time.

``Journal`` is the interface; ``SqliteJournal`` (stdlib, WAL mode) is the embedded default and
``perpetua.store.postgres.PostgresJournal`` the production option.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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


class SqliteJournal:
    """The journal in one SQLite file, WAL mode.

    ``synchronous`` is FULL by default: a commit is on disk when ``append`` returns (NORMAL keeps
    it safe against a process crash, not against a power loss, and commits faster).
    """

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
        self._last = self._query_last()

    def _query_last(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()
        return int(row[0])

    def append(self, records: Sequence[JournalRecord]) -> None:
        if not records:
            return
        expected = self._last + 1
        for i, rec in enumerate(records):
            if rec.seq != expected + i:
                raise JournalError(f"record seq {rec.seq} does not follow {expected + i - 1}")
        rows = [(r.seq, encode_command(r.command), encode_meta(r.meta)) for r in records]
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT INTO journal (seq, command, meta) VALUES (?, ?, ?)", rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._last = records[-1].seq

    def records(self, after_seq: int = 0) -> Iterator[JournalRecord]:
        cursor = self._db.execute(
            "SELECT seq, command, meta FROM journal WHERE seq > ? ORDER BY seq", (after_seq,)
        )
        for seq, command, meta in cursor:
            yield JournalRecord(int(seq), decode_command(command), decode_meta(meta))

    def last_seq(self) -> int:
        return self._last

    def save_snapshot(self, snapshot: Snapshot) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO snapshots (seq, state_hash, format, data) VALUES (?, ?, ?, ?)",
            (snapshot.seq, snapshot.state_hash, snapshot.format, snapshot.data),
        )
        # Keep the two newest: one to fall back on if the newest does not load.
        self._db.execute(
            "DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 2)"
        )

    def snapshots(self) -> list[Snapshot]:
        """Every kept snapshot, newest first."""
        rows = self._db.execute("SELECT seq, state_hash, format, data FROM snapshots ORDER BY seq DESC")
        return [Snapshot(int(s), str(h), str(f), bytes(d)) for s, h, f, d in rows]

    def latest_snapshot(self) -> Snapshot | None:
        snaps = self.snapshots()
        return snaps[0] if snaps else None

    def close(self) -> None:
        self._db.close()
