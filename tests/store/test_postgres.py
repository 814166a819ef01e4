"""The PostgreSQL journal for real: a throwaway server (initdb + pg_ctl, as the ``postgres`` user
when run as root) for this module; the journal and recovery tests and a server restart against it.
Skipped only where no PostgreSQL binaries are installed."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perpetua.core.sequencer import Sequencer, replay
from perpetua.store.journal import JournalError, JournalRecord
from perpetua.store.recovery import recover, take_snapshot
from tests.store.flows import random_flow
from tests.store.test_journal import CONFIG

pytestmark = pytest.mark.slow


def _pg_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()])
    for path in reversed(candidates):
        if (Path(path) / "initdb").exists():
            return Path(path)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@pytest.fixture(scope="module")
def new_database() -> Iterator[Callable[[], str]]:
    """A factory of empty databases on a PostgreSQL server started for this module."""
    pg_bin = _pg_bin()
    if pg_bin is None:
        pytest.skip("no PostgreSQL binaries (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    data = Path(tempfile.mkdtemp(prefix="perpetua-pg-"))
    if as_root:
        shutil.chown(data, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    run(str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
    run(str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "-t", "60",
        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {data}", "start")
    counter = itertools.count()

    def create() -> str:
        import psycopg

        name = f"perpetua_{next(counter)}"
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{port}/{name}"

    try:
        yield create
    finally:
        subprocess.run([*prefix, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def _run(journal: object, cmds: list, snapshot_every: int = 0) -> Sequencer:
    seq = Sequencer(CONFIG)
    for i, cmd in enumerate(cmds, start=1):
        seq.apply(cmd)
        journal.append([JournalRecord(i, cmd, {"i": i})])  # type: ignore[attr-defined]
        if snapshot_every and i % snapshot_every == 0:
            journal.save_snapshot(take_snapshot(i, seq))  # type: ignore[attr-defined]
    return seq


def test_append_read_back_and_refuse_gaps(new_database: Callable[[], str]) -> None:
    from perpetua.store.postgres import PostgresJournal

    url = new_database()
    cmds = random_flow(3, 150)
    journal = PostgresJournal(url)
    _run(journal, cmds)
    with pytest.raises(JournalError):
        journal.append([JournalRecord(150, cmds[0])])
    with pytest.raises(JournalError):
        journal.append([JournalRecord(152, cmds[0])])
    journal.close()
    reopened = PostgresJournal(url)
    assert reopened.last_seq() == 150
    records = list(reopened.records())
    assert [r.command for r in records] == cmds and records[4].meta == {"i": 5}
    assert [r.seq for r in reopened.records(140)] == list(range(141, 151))
    reopened.close()


@pytest.mark.parametrize("snapshot_every", [0, 97])
def test_recovery_reproduces_the_state_hash(new_database: Callable[[], str], snapshot_every: int) -> None:
    from perpetua.store.postgres import PostgresJournal

    cmds = random_flow(7, 400)
    journal = PostgresJournal(new_database())
    live = _run(journal, cmds, snapshot_every)
    clean = replay(CONFIG, cmds)
    assert live.state_hash() == clean.state_hash()
    recovered, last = recover(CONFIG, journal, keep_log=False)
    assert last == 400 and recovered.state_hash() == clean.state_hash()
    if snapshot_every:
        assert [s.seq for s in journal.snapshots()] == [388, 291]
    journal.close()


def test_server_restart_on_postgres(new_database: Callable[[], str], tmp_path: Path) -> None:
    from tests.api.test_api import get, make_client, onboard, post_order
    from tests.api.trader import Trader

    url = new_database()
    with make_client(tmp_path, database_url=url, snapshot_every=4) as client:
        maker, taker = onboard(client, Trader(401)), onboard(client, Trader(402))
        assert post_order(client, maker, maker.order("SELL", "0.01", "40100")).status_code == 201
        assert post_order(client, taker, taker.order("BUY", "0.004", "40100", tif="IOC")).status_code == 201
        ex = client.app.state.exchange  # type: ignore[attr-defined]
        state_hash, seq = ex.sequencer.state_hash(), ex.seq
        fills = get(client, taker, "/v3/fills").json()
    (tmp_path / "read.db").unlink()  # the read models are rebuilt from the PostgreSQL journal
    with make_client(tmp_path, database_url=url) as client:
        ex = client.app.state.exchange  # type: ignore[attr-defined]
        assert (ex.sequencer.state_hash(), ex.seq) == (state_hash, seq)
        assert get(client, taker, "/v3/fills").json() == fills
    with pytest.raises(ValueError, match="database_url"):
        make_client(tmp_path, database_url="mysql://x").__enter__()
