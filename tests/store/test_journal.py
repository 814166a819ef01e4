from __future__ import annotations

from pathlib import Path

import pytest

from perpetua.core.markets import load_config
from perpetua.core.sequencer import Sequencer, replay
from perpetua.store.journal import JournalError, JournalRecord, SqliteJournal
from perpetua.store.readmodels import ReadModels
from perpetua.store.recovery import recover, take_snapshot
from tests.store.flows import FIRST_ID, random_flow

CONFIG = load_config()


def _run(journal: SqliteJournal, cmds: list, snapshot_every: int = 0, start: int = 0,
         seq: Sequencer | None = None) -> Sequencer:
    seq = seq or Sequencer(CONFIG)
    for i, cmd in enumerate(cmds, start=start + 1):
        seq.apply(cmd)
        journal.append([JournalRecord(i, cmd, {"i": i})])
        if snapshot_every and i % snapshot_every == 0:
            journal.save_snapshot(take_snapshot(i, seq))
    return seq


def test_append_and_read_back(tmp_path: Path) -> None:
    cmds = random_flow(3, 200)
    journal = SqliteJournal(tmp_path / "j.db")
    _run(journal, cmds)
    journal.close()
    reopened = SqliteJournal(tmp_path / "j.db")
    assert reopened.last_seq() == 200
    records = list(reopened.records())
    assert [r.command for r in records] == cmds
    assert records[4].meta == {"i": 5}
    assert [r.seq for r in reopened.records(190)] == list(range(191, 201))


def test_gaps_and_repeats_are_refused(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "j.db")
    cmd = random_flow(1, 1)[0]
    journal.append([JournalRecord(1, cmd)])
    with pytest.raises(JournalError):
        journal.append([JournalRecord(1, cmd)])
    with pytest.raises(JournalError):
        journal.append([JournalRecord(3, cmd)])
    assert journal.last_seq() == 1
    with pytest.raises(ValueError, match="synchronous"):
        SqliteJournal(tmp_path / "k.db", synchronous="bogus; DROP")


@pytest.mark.parametrize("snapshot_every", [0, 97, 250])
def test_recovery_reproduces_the_state_hash(tmp_path: Path, snapshot_every: int) -> None:
    cmds = random_flow(7, 600)
    journal = SqliteJournal(tmp_path / "j.db")
    live = _run(journal, cmds, snapshot_every)
    clean = replay(CONFIG, cmds)
    assert live.state_hash() == clean.state_hash()
    recovered, last = recover(CONFIG, journal)
    assert last == 600
    assert recovered.state_hash() == clean.state_hash()
    recovered.state.check()
    if snapshot_every:
        assert len(recovered.log) == 0  # only the tail after the snapshot was replayed, then cleared
    # The recovered sequencer carries on exactly as the original would.
    more = random_flow(8, 700)[-50:]
    more = [type(c)(**{**{f: getattr(c, f) for f in c.__slots__}, "timestamp_ns": c.timestamp_ns + 10**15})
            for c in more]
    _run(journal, more, start=600, seq=recovered)
    assert recovered.state_hash() == replay(CONFIG, cmds + more).state_hash()


def test_a_corrupt_snapshot_falls_back(tmp_path: Path) -> None:
    cmds = random_flow(9, 300)
    journal = SqliteJournal(tmp_path / "j.db")
    _run(journal, cmds, snapshot_every=100)
    newest = journal.latest_snapshot()
    assert newest is not None and newest.seq == 300
    journal._db.execute("UPDATE snapshots SET state_hash = 'bad' WHERE seq = 300")
    recovered, _ = recover(CONFIG, journal)
    assert recovered.state_hash() == replay(CONFIG, cmds).state_hash()


def test_read_models_catch_up_after_a_lag(tmp_path: Path) -> None:
    cmds = random_flow(11, 500)
    journal = SqliteJournal(tmp_path / "j.db")
    _run(journal, cmds, snapshot_every=200)
    # Full projection from scratch.
    full = ReadModels(":memory:")
    recover(CONFIG, journal, lambda rec, evs: full.project(rec, evs), use_snapshots=False)
    full.commit()
    # A projection that stopped at 150, caught up by a later recovery: same tables.
    lagging = ReadModels(tmp_path / "rm.db")
    seq = Sequencer(CONFIG)
    lagging.begin()
    for rec in list(journal.records())[:150]:
        lagging.project(rec, seq.apply(rec.command))
    lagging.commit()
    lagging.close()
    lagging = ReadModels(tmp_path / "rm.db")
    assert lagging.position == 150
    # Snapshots past the read models' position (200, 400) are skipped: every later record is projected.
    live, _ = recover(CONFIG, journal, lambda rec, evs: lagging.project(rec, evs), max_snapshot_seq=lagging.position)
    lagging.commit()
    assert lagging.position == full.position == 500
    for pid in range(FIRST_ID, FIRST_ID + 6):
        assert lagging.fills(pid, limit=10_000) == full.fills(pid, limit=10_000)
        assert lagging.orders(pid, limit=10_000) == full.orders(pid, limit=10_000)
        assert lagging.positions(pid, limit=10_000) == full.positions(pid, limit=10_000)
        # The position history agrees with the state's sizes.
        sizes = {mid: p.size for mid, p in live.state.accounts[pid].positions.items()}
        assert {mid: r["size"] for mid, r in full.open_positions(pid).items()} == sizes
    trades = full.trades("BTC-USD", limit=10_000)
    assert trades, "the flow should trade"
    candles = full.candles("BTC-USD", "1DAY")
    assert sum(c["trades"] for c in candles) == len(trades)
    assert sum(c["base_volume"] for c in candles) == sum(t["size"] for t in trades)
