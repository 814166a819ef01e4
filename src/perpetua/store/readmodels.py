"""Read models: query tables derived from journal records and their events, never the source of truth.

Each applied journal record is projected once (``project``), in seq order; the tables remember the
last projected seq (``position``), so after a crash recovery replays the journal and projects only the
records past it. Deleting the file loses nothing: a full replay rebuilds it.

Amounts are stored as integers (quantums, ns; funding rates in ppb); the API formats them. Events
the projection does not know are ignored, so a core that adds events never breaks a running server.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from perpetua.core.commands import CreateAccount, DepositCollateral, PlaceOrder
from perpetua.core.events import (
    AccountCreated,
    CollateralDeposited,
    CollateralWithdrawn,
    Event,
    FundingPaid,
    FundingRateUpdated,
    FundingSettled,
    OraclePriceUpdated,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderTriggered,
)
from perpetua.store.journal import JournalRecord

log = logging.getLogger("perpetua.store")

CANDLE_RESOLUTIONS_S: dict[str, int] = {
    "1MIN": 60,
    "5MINS": 300,
    "15MINS": 900,
    "30MINS": 1800,
    "1HOUR": 3600,
    "4HOURS": 14400,
    "1DAY": 86400,
}
"""v3 candle resolutions and their length in seconds."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rm_position (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    eth_address TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    position_id INTEGER PRIMARY KEY, account_id TEXT UNIQUE, user_id TEXT, eth_address TEXT,
    account_number INTEGER, stark_key TEXT, stark_key_y TEXT, created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS accounts_by_user ON accounts (eth_address, account_number);
CREATE TABLE IF NOT EXISTS api_keys (
    key TEXT PRIMARY KEY, secret TEXT NOT NULL, passphrase TEXT NOT NULL, eth_address TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    order_id INTEGER PRIMARY KEY, position_id INTEGER NOT NULL, market TEXT NOT NULL, side INTEGER NOT NULL,
    type TEXT NOT NULL, time_in_force TEXT NOT NULL, size INTEGER NOT NULL, remaining INTEGER NOT NULL,
    price INTEGER NOT NULL, trigger_price INTEGER, trailing_percent TEXT, limit_fee TEXT,
    client_id TEXT NOT NULL, status TEXT NOT NULL, post_only INTEGER NOT NULL, reduce_only INTEGER NOT NULL,
    expires_ns INTEGER, cancel_reason TEXT, signature TEXT, hash TEXT, created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_account ON orders (position_id, status, order_id);
CREATE INDEX IF NOT EXISTS orders_by_client ON orders (position_id, client_id);
CREATE INDEX IF NOT EXISTS orders_by_hash ON orders (hash);
CREATE TABLE IF NOT EXISTS fills (
    fill_id INTEGER NOT NULL, position_id INTEGER NOT NULL, order_id INTEGER NOT NULL, market TEXT NOT NULL,
    side INTEGER NOT NULL, liquidity TEXT NOT NULL, type TEXT NOT NULL, price INTEGER NOT NULL,
    size INTEGER NOT NULL, fee INTEGER NOT NULL, created_ns INTEGER NOT NULL,
    PRIMARY KEY (fill_id, liquidity)
);
CREATE INDEX IF NOT EXISTS fills_by_account ON fills (position_id, fill_id);
CREATE TABLE IF NOT EXISTS trades (
    fill_id INTEGER PRIMARY KEY, market TEXT NOT NULL, side INTEGER NOT NULL, price INTEGER NOT NULL,
    size INTEGER NOT NULL, created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trades_by_market ON trades (market, fill_id);
CREATE TABLE IF NOT EXISTS transfers (
    seq INTEGER PRIMARY KEY, position_id INTEGER NOT NULL, type TEXT NOT NULL, amount INTEGER NOT NULL,
    status TEXT NOT NULL, created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS transfers_by_account ON transfers (position_id, seq);
CREATE TABLE IF NOT EXISTS funding_payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, position_id INTEGER NOT NULL, market TEXT NOT NULL,
    payment INTEGER NOT NULL, rate TEXT, position_size INTEGER, price INTEGER, created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS historical_funding (
    id INTEGER PRIMARY KEY AUTOINCREMENT, market TEXT NOT NULL, rate TEXT NOT NULL, price INTEGER,
    effective_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS oracle_prices (
    id INTEGER PRIMARY KEY AUTOINCREMENT, market TEXT NOT NULL, price INTEGER NOT NULL, created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS candles (
    market TEXT NOT NULL, resolution TEXT NOT NULL, started_ns INTEGER NOT NULL, open INTEGER NOT NULL,
    high INTEGER NOT NULL, low INTEGER NOT NULL, close INTEGER NOT NULL, base_volume INTEGER NOT NULL,
    quote_volume INTEGER NOT NULL, trades INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
    PRIMARY KEY (market, resolution, started_ns)
);
CREATE TABLE IF NOT EXISTS insurance_fund (
    id INTEGER PRIMARY KEY AUTOINCREMENT, balance INTEGER NOT NULL, change INTEGER NOT NULL,
    reason TEXT NOT NULL, created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS funding_by_account ON funding_payments (position_id, id);
CREATE TABLE IF NOT EXISTS positions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, position_id INTEGER NOT NULL, market TEXT NOT NULL,
    status TEXT NOT NULL, side INTEGER NOT NULL, size INTEGER NOT NULL, max_size INTEGER NOT NULL,
    entry_notional TEXT NOT NULL, sum_open INTEGER NOT NULL, sum_close INTEGER NOT NULL,
    close_notional TEXT NOT NULL, realized_notional TEXT NOT NULL, net_funding INTEGER NOT NULL,
    created_ns INTEGER NOT NULL, closed_ns INTEGER
);
CREATE INDEX IF NOT EXISTS positions_by_account ON positions (position_id, market, status);
CREATE INDEX IF NOT EXISTS historical_funding_by_market ON historical_funding (market, effective_ns);
"""

SCHEMA_VERSION = 3
"""Bumped when a table changes: an older read.db is dropped and rebuilt from the journal."""

Row = dict[str, Any]


def _narrowed(
    sql: str, first: Any, conditions: Sequence[tuple[str, Any]], order_by: str, limit: int
) -> tuple[str, list[Any]]:
    """A query and its parameters: ``sql`` (a SELECT whose WHERE binds ``first``), an ``AND`` clause for
    each condition whose value is given (None skips it; a list is bound as ``clause (?, ?, ...)`` and
    skipped when empty), then ``ORDER BY order_by LIMIT limit``."""
    params: list[Any] = [first]
    for clause, value in conditions:
        if isinstance(value, list):
            if value:
                sql += f" AND {clause} ({', '.join('?' for _ in value)})"
                params.extend(value)
        elif value is not None:
            sql += f" AND {clause}"
            params.append(value)
    sql += f" ORDER BY {order_by} LIMIT ?"
    params.append(limit)
    return sql, params


class ReadModels:
    """The query tables, in one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str | Path, resolutions: dict[str, int] | None = None) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # rebuilt from the journal if lost
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version != SCHEMA_VERSION:
            tables = [r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for name in tables:
                if not name.startswith("sqlite_"):
                    self._db.execute(f'DROP TABLE IF EXISTS "{name}"')
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT seq FROM rm_position WHERE id = 1").fetchone()
        self.position = int(row[0]) if row else 0
        self._in_batch = False
        self._keys: dict[str, Row] = {}
        """API keys by key, as looked up (every private request authenticates; a key row never changes)."""
        self._accounts: dict[tuple[str, int], Row] = {}
        self._resolutions = resolutions or {}
        """Synthetic resolution per market, for quote volumes (collateral quantums)."""

    # -- writing ----------------------------------------------------------------------------------

    def begin(self) -> None:
        if not self._in_batch:
            self._db.execute("BEGIN")
            self._in_batch = True

    def commit(self) -> None:
        if self._in_batch:
            self._db.execute(
                "INSERT INTO rm_position (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
                (self.position,),
            )
            self._db.execute("COMMIT")
            self._in_batch = False

    def project_many(self, items: Iterable[tuple[JournalRecord, Sequence[Event]]]) -> None:
        self.begin()
        for record, events in items:
            self.project(record, events)
        self.commit()

    def project(self, record: JournalRecord, events: Sequence[Event]) -> None:
        """Fold one journal record and its events into the tables (skipped if already projected).

        A record whose projection fails is logged and skipped (its partial writes undone): the journal
        already holds it, and a query table must never stop the exchange or its recovery."""
        if record.seq <= self.position:
            return
        self.begin()
        self._db.execute("SAVEPOINT record")
        try:
            self._project(record, events)
        except Exception:
            log.exception("read models: record %d not projected", record.seq)
            self._db.execute("ROLLBACK TO record")
        self._db.execute("RELEASE record")
        self.position = record.seq

    def _project(self, record: JournalRecord, events: Sequence[Event]) -> None:
        db = self._db
        cmd, meta = record.command, record.meta or {}
        now = cmd.timestamp_ns
        if isinstance(cmd, CreateAccount) and events and isinstance(events[0], AccountCreated):
            self._project_account(cmd, meta)
        key_change = meta.get("apiKeyChange")
        if isinstance(key_change, dict):
            self._project_key_change(key_change, now)
        for ev in events:
            if isinstance(ev, OrderFilled):
                self._project_fill(ev, now)
            elif isinstance(ev, OrderAccepted):
                self._project_accepted(ev, cmd, meta, now)
            elif isinstance(ev, OrderCanceled):
                db.execute(
                    "UPDATE orders SET status = 'CANCELED', cancel_reason = ?, remaining = ? WHERE order_id = ?",
                    (ev.reason.value, ev.remaining, ev.order_id),
                )
            elif isinstance(ev, OrderTriggered):
                db.execute("UPDATE orders SET status = 'OPEN' WHERE order_id = ?", (ev.order_id,))
            elif isinstance(ev, CollateralDeposited):
                transfer_type = str(meta.get("transferType", "DEPOSIT")) if isinstance(cmd, DepositCollateral) else "DEPOSIT"
                db.execute(
                    "INSERT INTO transfers (seq, position_id, type, amount, status, created_ns) VALUES (?, ?, ?, ?, 'CONFIRMED', ?)",
                    (record.seq, ev.position_id, transfer_type, ev.amount, now),
                )
            elif isinstance(ev, CollateralWithdrawn):
                db.execute(
                    "INSERT INTO transfers (seq, position_id, type, amount, status, created_ns) VALUES (?, ?, 'WITHDRAWAL', ?, 'CONFIRMED', ?)",
                    (record.seq, ev.position_id, ev.amount, now),
                )
            elif isinstance(ev, FundingPaid):
                db.execute(
                    "UPDATE positions SET net_funding = net_funding + ? WHERE position_id = ? AND market = ?"
                    " AND status = 'OPEN'",
                    (ev.amount, ev.position_id, ev.market_id),
                )
                db.execute(
                    "INSERT INTO funding_payments (position_id, market, payment, rate, position_size, price, created_ns)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (ev.position_id, ev.market_id, ev.amount, str(ev.rate_ppb), ev.position_size, ev.index_price,
                     ev.timestamp_ns),
                )
            elif isinstance(ev, FundingRateUpdated):
                db.execute(
                    "INSERT INTO historical_funding (market, rate, price, effective_ns) VALUES (?, ?, ?, ?)",
                    (ev.market_id, str(ev.rate_ppb), ev.index_price, ev.timestamp_ns),
                )
                if ev.rounding and not any(type(e).__name__ == "InsuranceFundChanged" for e in events):
                    self._insurance_change(ev.rounding, "FUNDING_ROUNDING", ev.timestamp_ns)
            elif type(ev).__name__ == "InsuranceFundChanged":
                self._insurance_change(ev.amount, ev.reason, ev.timestamp_ns, ev.balance)  # type: ignore[union-attr]
            elif type(ev).__name__ == "LiquidationFilled":
                self._project_liquidation_fill(ev, now)
            elif isinstance(ev, FundingSettled):
                # Funding settled lazily when positions were touched (no market: it sums them all).
                db.execute(
                    "INSERT INTO funding_payments (position_id, market, payment, created_ns) VALUES (?, '', ?, ?)",
                    (ev.position_id, ev.amount, now),
                )
            elif isinstance(ev, OraclePriceUpdated):
                db.execute(
                    "INSERT INTO oracle_prices (market, price, created_ns) VALUES (?, ?, ?)",
                    (ev.market_id, ev.price, now),
                )

    def _project_account(self, cmd: CreateAccount, meta: dict[str, Any]) -> None:
        db = self._db
        eth = meta.get("ethAddress")
        user_id = meta.get("userId")
        if eth is not None and user_id is not None:
            db.execute(
                "INSERT OR IGNORE INTO users (eth_address, user_id, created_ns) VALUES (?, ?, ?)",
                (eth, user_id, cmd.timestamp_ns),
            )
        db.execute(
            "INSERT OR REPLACE INTO accounts (position_id, account_id, user_id, eth_address, account_number, stark_key,"
            " stark_key_y, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                cmd.position_id, meta.get("accountId"), user_id, eth, meta.get("accountNumber"),
                f"{cmd.public_key:064x}", meta.get("starkKeyYCoordinate"), cmd.timestamp_ns,
            ),
        )
        key = meta.get("apiKey")
        if isinstance(key, dict) and eth is not None:
            self._put_api_key(key, eth, cmd.timestamp_ns)

    def _project_key_change(self, change: dict[str, Any], now: int) -> None:
        """An API key created or deleted with the Ethereum key (journaled in a record's meta)."""
        eth = change.get("ethAddress")
        if change.get("action") == "create" and isinstance(change.get("apiKey"), dict):
            self._put_api_key(change["apiKey"], eth, now)
        elif change.get("action") == "delete":
            self._db.execute("DELETE FROM api_keys WHERE key = ? AND eth_address = ?", (change.get("key"), eth))
            self._keys.pop(str(change.get("key")), None)

    def _put_api_key(self, key: dict[str, Any], eth_address: Any, created_ns: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO api_keys (key, secret, passphrase, eth_address, created_ns) VALUES (?, ?, ?, ?, ?)",
            (key["key"], key["secret"], key["passphrase"], eth_address, created_ns),
        )

    def _project_accepted(self, ev: OrderAccepted, cmd: Any, meta: dict[str, Any], now: int) -> None:
        # An order accepted by a PlaceOrder command: its own fields, plus the v3 fields from meta.
        if not isinstance(cmd, PlaceOrder):
            return
        self._db.execute(
            "INSERT OR REPLACE INTO orders (order_id, position_id, market, side, type, time_in_force, size, remaining,"
            " price, trigger_price, trailing_percent, limit_fee, client_id, status, post_only, reduce_only, expires_ns,"
            " cancel_reason, signature, hash, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
            (
                ev.order_id, ev.position_id, ev.market_id, ev.side, ev.order_type.value, cmd.time_in_force.value,
                ev.size, ev.size, ev.price, cmd.trigger_price, meta.get("trailingPercent"), meta.get("limitFee"),
                ev.client_id, "UNTRIGGERED" if ev.untriggered else "OPEN", int(cmd.post_only), int(cmd.reduce_only),
                cmd.expires_at_ns, meta.get("signature"), meta.get("hash"), now,
            ),
        )

    def _project_fill(self, ev: OrderFilled, now: int) -> None:
        db = self._db
        types = dict(
            db.execute(
                "SELECT order_id, type FROM orders WHERE order_id IN (?, ?)", (ev.taker_order_id, ev.maker_order_id)
            ).fetchall()
        )
        self._put_fill(
            ev.fill_id, ev.market_id, ev.taker_side, ev.price, ev.size, now,
            taker=(ev.taker_position_id, ev.taker_order_id, types.get(ev.taker_order_id, "LIMIT"), ev.taker_fee),
            maker=(ev.maker_position_id, ev.maker_order_id, types.get(ev.maker_order_id, "LIMIT"), ev.maker_fee),
        )
        for oid, remaining in ((ev.taker_order_id, ev.taker_remaining), (ev.maker_order_id, ev.maker_remaining)):
            db.execute(
                "UPDATE orders SET remaining = ?, status = CASE WHEN ? = 0 THEN 'FILLED' ELSE status END WHERE order_id = ?",
                (remaining, remaining, oid),
            )
        resolution = self._resolutions.get(ev.market_id, 1)
        quote = ev.size * ev.price // resolution
        for name, seconds in CANDLE_RESOLUTIONS_S.items():
            span = seconds * 1_000_000_000
            start = now - now % span
            db.execute(
                "INSERT INTO candles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (market, resolution, started_ns)"
                " DO UPDATE SET high = MAX(high, excluded.high), low = MIN(low, excluded.low), close = excluded.close,"
                " base_volume = base_volume + excluded.base_volume, quote_volume = quote_volume + excluded.quote_volume,"
                " trades = trades + 1, updated_ns = excluded.updated_ns",
                (ev.market_id, name, start, ev.price, ev.price, ev.price, ev.price, ev.size, quote, now),
            )

    def _project_liquidation_fill(self, ev: Any, now: int) -> None:
        """A liquidation fill: v3 fill type LIQUIDATED for the liquidated account, LIQUIDATION for the
        counterparty; both positions move; the liquidated account's penalty is its fee."""
        self._put_fill(
            ev.fill_id, ev.market_id, ev.liquidated_side, ev.price, ev.size, now,
            taker=(ev.liquidated_position_id, 0, "LIQUIDATED", ev.penalty),
            maker=(ev.counterparty_position_id, ev.maker_order_id, "LIQUIDATION", 0),
        )

    def _put_fill(
        self, fill_id: int, market: str, side: int, price: int, size: int, now: int, *,
        taker: tuple[int, int, str, int], maker: tuple[int, int, str, int],
    ) -> None:
        """A fill's two rows (taker and maker: position, order, v3 fill type, fee; the taker on ``side``),
        its public trade, and both positions moved."""
        (taker_pid, taker_oid, taker_type, taker_fee), (maker_pid, maker_oid, maker_type, maker_fee) = taker, maker
        rows = [
            (fill_id, taker_pid, taker_oid, market, side, "TAKER", taker_type, price, size, taker_fee, now),
            (fill_id, maker_pid, maker_oid, market, -side, "MAKER", maker_type, price, size, maker_fee, now),
        ]
        self._db.executemany("INSERT OR REPLACE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self._db.execute("INSERT OR REPLACE INTO trades VALUES (?, ?, ?, ?, ?, ?)", (fill_id, market, side, price, size, now))
        self._move_position(taker_pid, market, side * size, price, now)
        self._move_position(maker_pid, market, -side * size, price, now)

    def _move_position(self, position_id: int, market: str, delta: int, price: int, now: int) -> None:
        """A fill of ``delta`` (signed synthetic quantums) at ``price`` on the account's position history.

        Notionals are synthetic quantums x collateral quantums per whole unit (exact integers, kept as
        text since they pass 2^63; divide by the market's resolution for collateral quantums). Adding moves the average entry price;
        reducing realizes (price - entry) on the closed size; crossing zero closes the position and
        opens one on the other side at the fill price."""
        db = self._db
        row = db.execute(
            "SELECT id, size, max_size, entry_notional, sum_open, sum_close, close_notional, realized_notional"
            " FROM positions WHERE position_id = ? AND market = ? AND status = 'OPEN'", (position_id, market),
        ).fetchone()
        if row is None:
            self._open_position(position_id, market, delta, price, now)
            return
        pid, old, max_size, sum_open, sum_close = row[0], row[1], row[2], row[4], row[5]
        entry, close_notional, realized = int(row[3]), int(row[6]), int(row[7])
        new = old + delta
        if (old > 0) == (delta > 0):  # adding
            db.execute(
                "UPDATE positions SET size = ?, max_size = ?, entry_notional = ?, sum_open = ? WHERE id = ?",
                (new, max(max_size, abs(new)), str(entry + abs(delta) * price), sum_open + abs(delta), pid),
            )
            return
        closed = min(abs(delta), abs(old))
        cost = entry if closed == abs(old) else entry * closed // abs(old)
        realized += (closed * price - cost) if old > 0 else (cost - closed * price)
        remaining = old + (closed if old < 0 else -closed)
        db.execute(
            "UPDATE positions SET size = ?, entry_notional = ?, sum_close = ?, close_notional = ?, realized_notional = ?,"
            " status = ?, closed_ns = ? WHERE id = ?",
            (remaining, str(entry - cost), sum_close + closed, str(close_notional + closed * price), str(realized),
             "OPEN" if remaining else "CLOSED", None if remaining else now, pid),
        )
        if new != 0 and (new > 0) != (old > 0):  # flipped: the rest opens the other side
            self._open_position(position_id, market, new, price, now)

    def _open_position(self, position_id: int, market: str, size: int, price: int, now: int) -> None:
        self._db.execute(
            "INSERT INTO positions (position_id, market, status, side, size, max_size, entry_notional, sum_open,"
            " sum_close, close_notional, realized_notional, net_funding, created_ns)"
            " VALUES (?, ?, 'OPEN', ?, ?, ?, ?, ?, 0, '0', '0', 0, ?)",
            (position_id, market, 1 if size > 0 else -1, size, abs(size), str(abs(size) * price), abs(size), now),
        )

    def _insurance_change(self, change: int, reason: str, created_ns: int, balance: int | None = None) -> None:
        """One insurance-fund movement; ``balance`` (after it) is the running sum unless an event says."""
        if balance is None:
            row = self._db.execute("SELECT balance FROM insurance_fund ORDER BY id DESC LIMIT 1").fetchone()
            balance = (int(row[0]) if row else 0) + change
        self._db.execute(
            "INSERT INTO insurance_fund (balance, change, reason, created_ns) VALUES (?, ?, ?, ?)",
            (balance, change, reason, created_ns),
        )

    # -- queries ----------------------------------------------------------------------------------

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [dict(r) for r in self._db.execute(sql, params).fetchall()]

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self._db.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def api_key(self, key: str) -> Row | None:
        row = self._keys.get(key)
        if row is None:
            row = self._one("SELECT * FROM api_keys WHERE key = ?", (key,))
            if row is not None and len(self._keys) < 100_000:
                self._keys[key] = row
        return dict(row) if row is not None else None

    def api_keys_of(self, eth_address: str) -> list[Row]:
        return self._all("SELECT key FROM api_keys WHERE eth_address = ? ORDER BY created_ns", (eth_address,))

    def user(self, eth_address: str) -> Row | None:
        return self._one("SELECT * FROM users WHERE eth_address = ?", (eth_address,))

    def accounts_of(self, eth_address: str) -> list[Row]:
        return self._all("SELECT * FROM accounts WHERE eth_address = ? ORDER BY account_number", (eth_address,))

    def account(self, eth_address: str, account_number: int) -> Row | None:
        row = self._accounts.get((eth_address, account_number))
        if row is None:
            row = self._one(
                "SELECT * FROM accounts WHERE eth_address = ? AND account_number = ?", (eth_address, account_number)
            )
            if row is not None and len(self._accounts) < 100_000:
                self._accounts[(eth_address, account_number)] = row
        return dict(row) if row is not None else None

    def account_by_id(self, account_id: str) -> Row | None:
        return self._one("SELECT * FROM accounts WHERE account_id = ?", (account_id,))

    def account_by_position(self, position_id: int) -> Row | None:
        return self._one("SELECT * FROM accounts WHERE position_id = ?", (position_id,))

    def stark_key_taken(self, stark_key_hex: str) -> bool:
        return self._one("SELECT 1 AS x FROM accounts WHERE stark_key = ?", (stark_key_hex,)) is not None

    def order(self, order_id: int) -> Row | None:
        return self._one("SELECT * FROM orders WHERE order_id = ?", (order_id,))

    def order_by_client_id(self, position_id: int, client_id: str) -> Row | None:
        return self._one(
            "SELECT * FROM orders WHERE position_id = ? AND client_id = ? ORDER BY order_id DESC LIMIT 1",
            (position_id, client_id),
        )

    def order_hash_used(self, order_hash: str) -> bool:
        return self._one("SELECT 1 AS x FROM orders WHERE hash = ?", (order_hash,)) is not None

    def order_hashes(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT hash FROM orders WHERE hash IS NOT NULL")}

    def orders(
        self,
        position_id: int,
        *,
        market: str | None = None,
        statuses: Sequence[str] | None = None,
        side: int | None = None,
        order_type: str | None = None,
        limit: int = 100,
        before_ns: int | None = None,
    ) -> list[Row]:
        return self._all(*_narrowed(
            "SELECT * FROM orders WHERE position_id = ?", position_id,
            [("market = ?", market), ("status IN", list(statuses or ())), ("side = ?", side),
             ("type = ?", order_type), ("created_ns < ?", before_ns)],
            "order_id DESC", limit,
        ))

    def fills(
        self, position_id: int, *, market: str | None = None, order_id: int | None = None, limit: int = 100,
        before_ns: int | None = None,
    ) -> list[Row]:
        return self._all(*_narrowed(
            "SELECT * FROM fills WHERE position_id = ?", position_id,
            [("market = ?", market), ("order_id = ?", order_id), ("created_ns < ?", before_ns)], "fill_id DESC", limit,
        ))

    def trades(self, market: str, limit: int = 100, before_ns: int | None = None) -> list[Row]:
        return self._all(*_narrowed(
            "SELECT * FROM trades WHERE market = ?", market, [("created_ns < ?", before_ns)], "fill_id DESC", limit
        ))

    def trades_since(self, market: str, since_ns: int) -> list[Row]:
        return self._all("SELECT * FROM trades WHERE market = ? AND created_ns >= ?", (market, since_ns))

    def transfers(self, position_id: int, limit: int = 100) -> list[Row]:
        return self._all(
            "SELECT * FROM transfers WHERE position_id = ? ORDER BY seq DESC LIMIT ?", (position_id, limit)
        )

    def funding_payments(
        self, position_id: int, limit: int = 100, market: str | None = None, before_ns: int | None = None
    ) -> list[Row]:
        return self._all(*_narrowed(
            "SELECT * FROM funding_payments WHERE position_id = ?", position_id,
            [("market = ?", market), ("created_ns < ?", before_ns)], "id DESC", limit,
        ))

    def historical_funding(self, market: str, limit: int = 100, before_ns: int | None = None) -> list[Row]:
        return self._all(*_narrowed(
            "SELECT * FROM historical_funding WHERE market = ?", market, [("effective_ns < ?", before_ns)],
            "effective_ns DESC", limit,
        ))

    def oracle_prices(self, market: str, limit: int = 100) -> list[Row]:
        return self._all("SELECT * FROM oracle_prices WHERE market = ? ORDER BY id DESC LIMIT ?", (market, limit))

    def _position_rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        rows = self._all(sql, params)
        for r in rows:
            for name in ("entry_notional", "close_notional", "realized_notional"):
                r[name] = int(r[name])
        return rows

    def open_positions(self, position_id: int) -> dict[str, Row]:
        """The account's open position rows (entry price, PnL, funding), by market."""
        rows = self._position_rows("SELECT * FROM positions WHERE position_id = ? AND status = 'OPEN'", (position_id,))
        return {r["market"]: r for r in rows}

    def positions(self, position_id: int, *, market: str | None = None, status: str | None = None,
                  limit: int = 100) -> list[Row]:
        return self._position_rows(*_narrowed(
            "SELECT * FROM positions WHERE position_id = ?", position_id,
            [("market = ?", market), ("status = ?", status)], "id DESC", limit,
        ))

    def candles(self, market: str, resolution: str, limit: int = 100) -> list[Row]:
        return self._all(
            "SELECT * FROM candles WHERE market = ? AND resolution = ? ORDER BY started_ns DESC LIMIT ?",
            (market, resolution, limit),
        )

    def insurance_history(self, limit: int = 100) -> list[Row]:
        return self._all("SELECT * FROM insurance_fund ORDER BY id DESC LIMIT ?", (limit,))

    def close(self) -> None:
        self._db.close()
