"""StarkFactService: verify a batch proof, and only then register the exchange contract's fact.

The exchange contract asks its verifier `is_valid(fact)`. Until an EVM STARK verifier exists, the
fact registry is fed by this service: it holds the registry's verifier key(s), checks
`verify_batch_proof` (the positions-root transition over the payload's changed leaves, bound to
the payload hash and the batch commitment, >= 100 conjectured bits) and checks that the L1 batch
it is asked to vouch for carries the same roots, DA hash and commitment; then it computes the
fact the contract will ask for and registers it. A batch whose proof fails is refused
(`BatchRefused`) and nothing is registered, so the contract rejects its state update.

This layer may not import `perpetua.chain` (import-linter layers), so the L1 side is a protocol:
`perpetua.chain.client.OperatorClient` satisfies `FactRegistrar` (`fact_for`, `register_fact`)
and `BatchSubmitter` (`submit_batch(batch, register_fact=False)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from perpetua.circuits.batch import BatchProof, BatchProofError, check_batch_proof
from perpetua.circuits.statement import Checked, Statement
from perpetua.circuits.ticks import globals_state
from perpetua.rollup.batch import Batch, decode_diff
from perpetua.rollup.config import GeneralConfig
from perpetua.rollup.state import RollupState


class FactRegistrar(Protocol):
    def fact_for(self, batch: Any) -> bytes: ...

    def register_fact(self, fact: bytes) -> Any: ...


class BatchSubmitter(Protocol):
    def submit_batch(self, batch: Any, *, register_fact: bool = True) -> Any: ...


class BatchRefused(Exception):
    """The batch's proof does not verify, or the L1 batch is not the proven one."""


@dataclass
class StarkFactService:
    registrar: FactRegistrar
    min_security_bits: float = 100
    config: GeneralConfig | None = None
    """The rollup's config: when set (the normal flow), a proof must carry the arithmetic part
    (every covered transaction's rules) besides the root transition."""
    last_globals: RollupState | None = None
    """The globals (funding indices and timestamp, oracle prices, system time) at the end of the
    last certified batch, as a state with no position; None before the first (then the operator's
    genesis values are taken as claimed)."""
    last_open_interest: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    """(long, short) open interest per config asset after the last certified batch (None before
    the first: the operator's genesis claim is taken)."""
    refused: list[tuple[int, str]] = field(default_factory=list)
    """(rollup sequence, reason) of every refused batch, for the operator's view."""

    def certify(self, batch: Batch, proof: BatchProof | bytes, l1_batch: Any) -> bytes:
        """Verify, compare the L1 batch with the proven one, register its fact; returns the fact."""
        try:
            proven, checked = check_batch_proof(batch, proof, self.min_security_bits, self.config)
            statement = Statement.from_bytes(proven.statement)[0] if checked is not None else None
            end = self._check_globals(batch, statement)
            open_end = self._check_open_interest(statement, checked)
            for name, want in (("old_root", proven.old_root), ("new_root", proven.new_root),
                               ("batch_commitment", proven.commitment), ("da_hash", proven.payload_hash)):
                if getattr(l1_batch, name) != want:
                    raise BatchProofError(f"the L1 batch's {name} is not the proven one")
        except BatchProofError as e:
            self.refused.append((batch.sequence, str(e)))
            raise BatchRefused(str(e)) from e
        fact = self.registrar.fact_for(l1_batch)
        self.registrar.register_fact(fact)
        self.last_globals = end
        self.last_open_interest = open_end
        return fact

    def _check_globals(self, batch: Batch, statement: Statement | None) -> RollupState | None:
        """The statement's starting globals (funding indices and timestamp, which assets are funded,
        oracle prices, system time) must be where the previous certified batch's payload left
        them; returns this batch's end globals (its payload's)."""
        if self.config is None or statement is None:
            return None
        start = _globals(statement.start_globals(self.config))
        if self.last_globals is not None and start != _globals(self.last_globals):
            raise BatchProofError("the batch does not start at the previous batch's funding indices, prices and times")
        diff = decode_diff(batch.payload)
        return globals_state(dict(diff.funding_indices), diff.funding_timestamp, dict(diff.oracle_prices),
                             diff.system_time)

    def _check_open_interest(self, statement: Statement | None, checked: Checked | None
                             ) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        """The statement's starting open interest must be the last certified batch's end (it is
        what shows a socialized loss's payers and an eager tick's settlements are every holder);
        returns this batch's end, as the statement check moved it."""
        if statement is None or checked is None:
            return None
        if self.last_open_interest is not None and (statement.open_long, statement.open_short) != self.last_open_interest:
            raise BatchProofError("the batch does not start at the previous batch's open interest")
        return checked.open_long, checked.open_short

    def submit(self, batch: Batch, proof: BatchProof | bytes, l1_batch: Any, client: BatchSubmitter) -> Any:
        """certify, then send the state update without any other registration."""
        self.certify(batch, proof, l1_batch)
        return client.submit_batch(l1_batch, register_fact=False)


def _globals(state: RollupState) -> tuple[object, ...]:
    return state.funding_indices, state.funding_timestamp, state.oracle_prices, state.system_time
