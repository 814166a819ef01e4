"""The operator's view of an EVM chain: deploy, call, transact, read the clock.

`Chain` is the interface the client is written against; `BoaChain` implements it on an in-process
EVM (titanoboa over py-evm). A JSON-RPC implementation (eth_call, eth_sendRawTransaction, receipts,
logs) would implement the same five methods; `advance_time` then only exists on dev nodes
(`evm_increaseTime`).

Gas in a `Receipt` is what an L1 transaction would be charged: 21,000 + calldata (4 gas per zero
byte, 16 per non-zero byte) + execution - refund (capped at a fifth), each transaction starting
with cold accounts and storage (EIP-2929), as on Ethereum.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

from eth_abi import decode

from perpetua.core.errors import PerpetuaError

TX_BASE_GAS = 21_000
BLOCK_TIME_S = 12


class ChainError(PerpetuaError):
    """A chain interaction failed."""


class ChainRevert(ChainError):
    """A transaction or call reverted; `reason` is the contract's revert string (or '')."""

    def __init__(self, function: str, reason: str) -> None:
        super().__init__(f"{function} reverted: {reason}")
        self.function = function
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Receipt:
    function: str
    gas_used: int
    """The whole transaction: base + calldata + execution - capped refund."""
    execution_gas: int
    calldata_bytes: int
    block_number: int
    timestamp: int
    events: list[Event] = field(default_factory=list)
    return_value: Any = None


class Chain(Protocol):
    def deploy(self, contract: str, *args: Any, sender: str) -> str: ...

    def call(self, address: str, function: str, *args: Any) -> Any: ...

    def transact(self, sender: str, address: str, function: str, *args: Any) -> Receipt: ...

    def now(self) -> int: ...

    def block_number(self) -> int: ...

    def advance_time(self, seconds: int) -> None: ...

    def events(self, address: str, name: str | None = None) -> list[tuple[int, int, Event]]:
        """(block number, timestamp, event) of accepted transactions, oldest first (eth_getLogs)."""
        ...

    def transactions(self, address: str, function: str) -> list[tuple[int, tuple[Any, ...]]]:
        """(block number, decoded arguments) of accepted calls to `function` (the calldata an
        L1 indexer reads, e.g. the rollup-mode state diffs)."""
        ...


def calldata_gas(data: bytes) -> int:
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def contract_source(name: str) -> str:
    return resources.files("perpetua.chain").joinpath("contracts", f"{name}.vy").read_text()


@functools.cache
def _deployer(name: str) -> Any:
    import boa

    return boa.loads_partial(contract_source(name), name=name)


def _revert_reason(computation: Any) -> str:
    output = bytes(getattr(computation, "output", b"") or b"")
    if output[:4] == bytes.fromhex("08c379a0"):
        return str(decode(["string"], output[4:])[0])
    return ""


_GLOBAL_ENV = threading.Lock()
"""titanoboa deploys into its process-global current environment, so a deploy swaps this chain's env
in for the duration; two chains deploying from two threads at once would deploy into each other's
state (seen as missing bytecode and lost journal checkpoints). Deploys hold this lock."""


class BoaChain:
    """An in-process EVM of its own (a private titanoboa `Env`)."""

    def __init__(self, start_timestamp: int | None = None) -> None:
        import boa

        self._boa = boa
        self.env = boa.Env()
        if start_timestamp is not None:
            self.env.evm.patch.timestamp = start_timestamp
        self.contracts: dict[str, Any] = {}
        self.names: dict[str, str] = {}
        self._events: list[tuple[str, int, int, Event]] = []
        self._transactions: list[tuple[str, str, int, tuple[Any, ...]]] = []

    def deploy(self, contract: str, *args: Any, sender: str) -> str:
        with _GLOBAL_ENV, self._boa.swap_env(self.env):
            self.env.eoa = sender
            instance = _deployer(contract).deploy(*args)
        address = str(instance.address)
        self.contracts[address] = instance
        self.names[address] = contract
        return address

    def deploy_source(self, source: str, name: str, *args: Any, sender: str) -> str:
        """Deploys a contract from source text (benchmarks' baselines)."""
        with _GLOBAL_ENV, self._boa.swap_env(self.env):
            self.env.eoa = sender
            instance = self._boa.loads_partial(source, name=name).deploy(*args)
        address = str(instance.address)
        self.contracts[address] = instance
        self.names[address] = name
        return address

    def _function(self, address: str, function: str) -> Any:
        return getattr(self.contracts[str(address)], function)

    def call(self, address: str, function: str, *args: Any) -> Any:
        try:
            return self._function(address, function)(*args)
        except self._boa.BoaError:
            raise ChainRevert(function, _revert_reason(self.contracts[str(address)]._computation)) from None

    def transact(self, sender: str, address: str, function: str, *args: Any) -> Receipt:
        contract = self.contracts[str(address)]
        fn = getattr(contract, function)
        data = fn.prepare_calldata(*args)
        self.env.evm.reset_access_counters()
        try:
            result = fn(*args, sender=sender)
        except self._boa.BoaError:
            raise ChainRevert(function, _revert_reason(contract._computation)) from None
        computation = contract._computation
        intrinsic = TX_BASE_GAS + calldata_gas(data)
        used = intrinsic + computation.get_gas_used()
        used -= min(computation.get_gas_refund(), used // 5)
        events = [Event(type(log).__name__, {k: v for k, v in log._asdict().items() if k != "address"})
                  for log in contract.get_logs()]
        block, now = self.block_number(), self.now()
        address = str(address)
        self._events += [(address, block, now, e) for e in events]
        self._transactions.append((address, function, block, args))
        return Receipt(function, used, computation.get_gas_used(), len(data), self.block_number(),
                       self.now(), events, result)

    def events(self, address: str, name: str | None = None) -> list[tuple[int, int, Event]]:
        return [(b, t, e) for a, b, t, e in self._events
                if a == str(address) and (name is None or e.name == name)]

    def transactions(self, address: str, function: str) -> list[tuple[int, tuple[Any, ...]]]:
        return [(b, args) for a, f, b, args in self._transactions if a == str(address) and f == function]

    def now(self) -> int:
        return int(self.env.evm.patch.timestamp)

    def block_number(self) -> int:
        return int(self.env.evm.patch.block_number)

    def advance_time(self, seconds: int) -> None:
        """Moves the clock and mines at least one block (a new block resets per-block limits)."""
        self.env.evm.patch.timestamp += seconds
        self.env.evm.patch.block_number += max(1, seconds // BLOCK_TIME_S)
