"""The server's settings: defaults for a local development exchange, a TOML file, then environment.

Precedence: environment (``PERPETUA_<NAME>``, e.g. ``PERPETUA_PORT=9000``) over the file's
``[server]`` table over the defaults below. Unknown keys are refused, naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perpetua.crypto.assets import DEFAULT_NETWORK, Network


class ServerConfigError(ValueError):
    """A setting is unknown or has the wrong type; the message names it."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: str = "perpetua-data"
    """Where the SQLite journal (journal.db) and read models (read.db) live."""
    database_url: str = ""
    """A postgresql:// URL puts the journal in PostgreSQL (read models stay local)."""
    host: str = "127.0.0.1"
    port: int = 8080
    network_id: int = int(DEFAULT_NETWORK)
    """Ethereum chain id: Sepolia (faucet on) by default; 1 for mainnet (faucet off)."""
    markets_path: str = ""
    """Market configuration TOML; empty: the packaged default."""
    snapshot_every: int = 10_000
    """Journal records between snapshots."""
    synchronous: str = "FULL"
    """SQLite journal synchronous mode: FULL survives power loss, NORMAL only process crashes."""
    faucet_amount: str = "10000"
    """USDC credited by POST /v3/testnet/tokens."""
    initial_oracle_prices: dict[str, str] = field(
        default_factory=lambda: {"BTC-USD": "40000", "ETH-USD": "2000", "SOL-USD": "100"}
    )
    """Oracle prices set at first start, until signed oracle ticks arrive."""
    rate_limit_per_s: float = 50.0
    """Sustained requests per second per API key (private) or per client address (public)."""
    rate_limit_burst: int = 200
    verify_workers: int = 0
    """Processes verifying STARK signatures; 0 verifies in a thread of the server process."""
    max_batch: int = 512
    """Commands applied and committed together (group commit)."""
    clock_interval_s: float = 1.0
    """How often the server submits the premium samples and funding ticks that are due (0: never, an
    outside job submits them)."""

    @property
    def network(self) -> Network:
        return Network(self.network_id)

    @property
    def faucet_enabled(self) -> bool:
        return self.network_id == Network.SEPOLIA


def _coerce(name: str, kind: Any, value: Any) -> Any:
    try:
        if kind in (int, "int"):
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind in (float, "float"):
            return float(value)
        if kind in (str, "str"):
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        raise ServerConfigError(f"{name}: expected {kind}, got {value!r}") from None
    if isinstance(value, str):
        pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ServerConfigError(f"{name}: expected MARKET=PRICE,... got {value!r}")
        return {k.strip(): v.strip() for k, v in pairs}
    if not isinstance(value, dict):
        raise ServerConfigError(f"{name}: expected a table, got {value!r}")
    return {str(k): str(v) for k, v in value.items()}


def load_server_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any
) -> ServerConfig:
    """Defaults, then the file's ``[server]`` table, then ``PERPETUA_*`` variables, then ``overrides``."""
    env = os.environ if env is None else env
    fields = {f.name: f.type for f in dataclasses.fields(ServerConfig)}
    values: dict[str, Any] = {}
    if path:
        table = tomllib.loads(Path(path).read_text()).get("server", {})
        for key, value in table.items():
            if key not in fields:
                raise ServerConfigError(f"{key}: unknown setting in [server] of {path}")
            values[key] = _coerce(key, fields[key], value)
    for name, kind in fields.items():
        text = env.get(f"PERPETUA_{name.upper()}")
        if text is not None:
            values[name] = _coerce(f"PERPETUA_{name.upper()}", kind, text)
    for key, value in overrides.items():
        if key not in fields:
            raise ServerConfigError(f"{key}: unknown setting")
        values[key] = value
    cfg = ServerConfig(**values)
    try:
        cfg.network  # noqa: B018 - validates the chain id
    except ValueError:
        raise ServerConfigError(f"network_id: {cfg.network_id} is not a supported network") from None
    if cfg.clock_interval_s < 0:
        raise ServerConfigError("clock_interval_s: must be >= 0")
    if cfg.snapshot_every <= 0 or cfg.max_batch <= 0 or cfg.rate_limit_per_s <= 0 or cfg.rate_limit_burst <= 0:
        raise ServerConfigError("snapshot_every, max_batch and the rate limits must be positive")
    return cfg
