"""The journal in PostgreSQL (psycopg 3; the ``postgres`` extra): the production option behind the
same interface as ``SqliteJournal``.

Same records and snapshots, same rules: consecutive seqs only (a gap or a repeat raises
``JournalError``), a batch is committed in one transaction and durable when ``append`` returns (the
server's ``synchronous_commit`` decides what durable means; ``on`` by default), two snapshots kept.
One autocommit connection (each write an explicit transaction), used by one thread at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from perpetua.store.journal import JournalError, SqlDialect, SqlJournal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS perpetua_journal (
    seq BIGINT PRIMARY KEY, command TEXT NOT NULL, meta TEXT
);
CREATE TABLE IF NOT EXISTS perpetua_snapshots (
    seq BIGINT PRIMARY KEY, state_hash TEXT NOT NULL, format TEXT NOT NULL, data BYTEA NOT NULL
);
"""


class PostgresJournal(SqlJournal):
    """The journal in two tables of a PostgreSQL database (``url``: ``postgresql://...``)."""

    dialect = SqlDialect(
        journal="perpetua_journal",
        snapshots="perpetua_snapshots",
        param="%s",
        replace_snapshot=(
            "INSERT INTO perpetua_snapshots (seq, state_hash, format, data) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (seq) DO UPDATE SET state_hash = EXCLUDED.state_hash, format = EXCLUDED.format,"
            " data = EXCLUDED.data"
        ),
    )

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
        self._open()

    def _insert(self, sql: str, rows: list[tuple[int, str, str | None]]) -> None:
        import psycopg

        try:
            with self._db.transaction(), self._db.cursor() as cur:
                cur.executemany(sql, rows)
        except psycopg.errors.UniqueViolation:
            raise JournalError(f"record seq {rows[0][0]} is already in the journal") from None

    def _select(self, sql: str, after_seq: int) -> Iterator[tuple[Any, Any, Any]]:
        # A server-side cursor: a long journal streams instead of loading at once.
        with self._db.transaction(), self._db.cursor(name="perpetua_replay") as cur:
            cur.itersize = 5000
            cur.execute(sql, (after_seq,))
            yield from cur

    def _snapshot_write(self) -> AbstractContextManager[object]:
        return self._db.transaction()  # type: ignore[no-any-return]
