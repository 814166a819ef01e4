"""The journal in PostgreSQL (psycopg 3; the ``postgres`` extra): the production option behind the
same interface as ``SqliteJournal``.

Same records and snapshots, same rules: consecutive seqs only (a gap or a repeat raises
``JournalError``), a batch is committed in one transaction and durable when ``append`` returns (the
server's ``synchronous_commit`` decides what durable means; ``on`` by default), two snapshots kept.
One autocommit connection (each write an explicit transaction), used by one thread at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from perpetua.store.codec import decode_command, encode_command
from perpetua.store.journal import JournalError, JournalRecord, Snapshot, decode_meta, encode_meta

_SCHEMA = """
CREATE TABLE IF NOT EXISTS perpetua_journal (
    seq BIGINT PRIMARY KEY, command TEXT NOT NULL, meta TEXT
);
CREATE TABLE IF NOT EXISTS perpetua_snapshots (
    seq BIGINT PRIMARY KEY, state_hash TEXT NOT NULL, format TEXT NOT NULL, data BYTEA NOT NULL
);
"""


class PostgresJournal:
    """The journal in two tables of a PostgreSQL database (``url``: ``postgresql://...``)."""

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as err:  # pragma: no cover - depends on the installed extras
            raise JournalError("database_url: PostgreSQL needs psycopg (pip install 'perpetua[postgres]')") from err
        self.url = url
        try:
            self._db: Any = psycopg.connect(url, autocommit=True)
        except psycopg.Error as err:
            raise JournalError(f"database_url: cannot connect: {str(err).strip()[:300]}") from None
        with self._db.transaction():
            self._db.execute(_SCHEMA)
        self._last = self._query_last()

    def _query_last(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM perpetua_journal").fetchone()
        return int(row[0])

    def append(self, records: Sequence[JournalRecord]) -> None:
        if not records:
            return
        expected = self._last + 1
        for i, rec in enumerate(records):
            if rec.seq != expected + i:
                raise JournalError(f"record seq {rec.seq} does not follow {expected + i - 1}")
        rows = [(r.seq, encode_command(r.command), encode_meta(r.meta)) for r in records]
        import psycopg

        try:
            with self._db.transaction(), self._db.cursor() as cur:
                cur.executemany("INSERT INTO perpetua_journal (seq, command, meta) VALUES (%s, %s, %s)", rows)
        except psycopg.errors.UniqueViolation:
            raise JournalError(f"record seq {records[0].seq} is already in the journal") from None
        self._last = records[-1].seq

    def records(self, after_seq: int = 0) -> Iterator[JournalRecord]:
        # A server-side cursor: a long journal streams instead of loading at once.
        with self._db.transaction(), self._db.cursor(name="perpetua_replay") as cur:
            cur.itersize = 5000
            cur.execute("SELECT seq, command, meta FROM perpetua_journal WHERE seq > %s ORDER BY seq", (after_seq,))
            for seq, command, meta in cur:
                yield JournalRecord(int(seq), decode_command(command), decode_meta(meta))

    def last_seq(self) -> int:
        return self._last

    def save_snapshot(self, snapshot: Snapshot) -> None:
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO perpetua_snapshots (seq, state_hash, format, data) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (seq) DO UPDATE SET state_hash = EXCLUDED.state_hash, format = EXCLUDED.format,"
                " data = EXCLUDED.data",
                (snapshot.seq, snapshot.state_hash, snapshot.format, snapshot.data),
            )
            self._db.execute(
                "DELETE FROM perpetua_snapshots WHERE seq NOT IN"
                " (SELECT seq FROM perpetua_snapshots ORDER BY seq DESC LIMIT 2)"
            )

    def snapshots(self) -> list[Snapshot]:
        """Every kept snapshot, newest first."""
        rows = self._db.execute(
            "SELECT seq, state_hash, format, data FROM perpetua_snapshots ORDER BY seq DESC"
        ).fetchall()
        return [Snapshot(int(s), str(h), str(f), bytes(d)) for s, h, f, d in rows]

    def latest_snapshot(self) -> Snapshot | None:
        snaps = self.snapshots()
        return snaps[0] if snaps else None

    def close(self) -> None:
        self._db.close()
