"""Snapshots and recovery: latest snapshot + journal replay gives the identical state hash.

A snapshot is the pickled ``ExchangeState`` (format ``pickle-v1``) with its state hash. On load the
hash is recomputed; a snapshot that does not reproduce its hash, or was taken under another market
configuration, is skipped and recovery falls back to an older one or to a full replay. Pickle is
only ever read from the operator's own journal, never from users.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

from perpetua.core.events import Event
from perpetua.core.markets import ExchangeConfig
from perpetua.core.sequencer import Sequencer
from perpetua.core.state import ExchangeState
from perpetua.store.journal import Journal, JournalRecord, Snapshot

SNAPSHOT_FORMAT = "pickle-v1"

Replayed = Callable[[JournalRecord, list[Event]], None]
"""Called with each replayed record and the events it produced (to catch read models up)."""


def take_snapshot(seq: int, sequencer: Sequencer) -> Snapshot:
    """The state after journal record ``seq``."""
    state = sequencer.state
    return Snapshot(seq, state.state_hash(), SNAPSHOT_FORMAT, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def restore_snapshot(config: ExchangeConfig, snapshot: Snapshot, *, keep_log: bool = True) -> Sequencer | None:
    """A sequencer holding the snapshot's state, or None if the snapshot is unusable."""
    if snapshot.format != SNAPSHOT_FORMAT:
        return None
    try:
        state = pickle.loads(snapshot.data)  # the operator's own journal
    except Exception:
        return None
    if not isinstance(state, ExchangeState) or state.config != config:
        return None
    if state.state_hash() != snapshot.state_hash:
        return None
    seq = Sequencer(config, keep_log=keep_log)
    seq.state = state
    return seq


def _candidate_snapshots(journal: Journal) -> list[Snapshot]:
    listing = getattr(journal, "snapshots", None)
    if callable(listing):
        snaps: list[Snapshot] = listing()
        return snaps
    latest = journal.latest_snapshot()
    return [latest] if latest is not None else []


def recover(
    config: ExchangeConfig,
    journal: Journal,
    on_replayed: Replayed | None = None,
    *,
    use_snapshots: bool = True,
    max_snapshot_seq: int | None = None,
    keep_log: bool = True,
) -> tuple[Sequencer, int]:
    """Rebuild the sequencer from ``journal``: the newest usable snapshot, then every later record.

    ``max_snapshot_seq`` skips newer snapshots: a read model projected up to that seq needs every
    later record replayed. ``keep_log=False`` gives a sequencer that keeps no command log (a
    journaled server). Returns the sequencer (its command log holds only the replayed tail, if
    kept) and the last seq.
    """
    sequencer: Sequencer | None = None
    start = 0
    if use_snapshots:
        for snap in _candidate_snapshots(journal):
            if max_snapshot_seq is not None and snap.seq > max_snapshot_seq:
                continue
            sequencer = restore_snapshot(config, snap, keep_log=keep_log)
            if sequencer is not None:
                start = snap.seq
                break
    if sequencer is None:
        sequencer = Sequencer(config, keep_log=keep_log)
    last = start
    apply = sequencer.apply
    for record in journal.records(start):
        events = apply(record.command)
        if on_replayed is not None:
            on_replayed(record, events)
        last = record.seq
    sequencer.log.clear()
    return sequencer, last
