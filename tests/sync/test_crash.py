"""Crash proof: SIGKILL a real sync process at random moments; nothing lost, nothing twice.

A sync runs as its own process against the SAP OData simulator over real
HTTP into a SQLite store and is killed with SIGKILL at seeded random
moments, then started again, at least 30 times; a last run finishes. The
store must then hold exactly the simulator's movements and stock (the
truth), every run's counts must balance, and the cursor must be the one the
last run committed. The same again with the simulator's fault knobs on.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from stockbridge.simulators.http_server import Faults
from stockbridge.simulators.launcher import LOGIN
from stockbridge.simulators.sap_odata import start_sap_odata
from stockbridge.simulators.truth import generate

KILLS = {False: 20, True: 10}
"""Kills per variant: 30 in all, as CI must see; `bench/` can run thousands."""
SEED = 20261125

CONFIG = """\
store: sqlite:///{store}
timezone: UTC
sources:
  sap:
    kind: sap_odata
    url: {url}/sap/opu/odata/sap
    client: "{client}"
    username: {user}
    password: {password}
    page_size: 200
    retry_max_wait: 0.05
    lookback: 1d
"""


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "truth.sqlite"
    generate(path, seed=11, materials=40, days=20, target_movements=100_000)
    return path


def truth_movements(truth: Path) -> dict[tuple[str, str], Decimal]:
    """The SAP share's movement lines: (document, line) -> signed base quantity."""
    with sqlite3.connect(truth) as conn:
        rows = conn.execute(
            "SELECT document, line, quantity FROM movements"
            " WHERE system = 'sap' AND effective = 1"
        ).fetchall()
    return {(doc, str(line)): Decimal(qty) for doc, line, qty in rows}


def store_movements(store: Path) -> dict[tuple[str, str], Decimal]:
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT document, line, quantity FROM movements").fetchall()
    return {(doc, line): Decimal(qty) / 1_000_000 for doc, line, qty in rows}


def truth_stock(truth: Path) -> dict[tuple[str, ...], Decimal]:
    with sqlite3.connect(truth) as conn:
        rows = conn.execute(
            "SELECT material, site, warehouse, batch, status, quantity FROM stock"
            " WHERE system = 'sap'"
        ).fetchall()
    return {tuple(key): Decimal(q) for *key, q in rows if Decimal(q)}


def store_stock(store: Path) -> dict[tuple[str, ...], Decimal]:
    with sqlite3.connect(store) as conn:
        rows = conn.execute(
            "SELECT l.material, l.site, l.warehouse, l.batch, l.status, sum(l.quantity)"
            " FROM stock_lines l JOIN current_snapshots c ON c.snapshot_id = l.snapshot_id"
            " WHERE c.source = 'sap' GROUP BY 1, 2, 3, 4, 5"
        ).fetchall()
    return {tuple(key): Decimal(q) / 1_000_000 for *key, q in rows if q}


def sync_command(config: Path, *, full: bool = False) -> list[str]:
    code = "from stockbridge.cli.app import main; main()"
    command = [sys.executable, "-c", code, "--config", str(config), "sync"]
    return [*command, "--source", "sap", *(["--full"] if full else [])]


def last_run_id(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=1) as conn:
            row = conn.execute("SELECT coalesce(max(id), 0) FROM sync_runs").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0])


def pulling(store: Path, after_run: int) -> bool:
    """Whether a movements run newer than `after_run` has committed a batch."""
    try:
        with sqlite3.connect(store, timeout=1) as conn:
            row = conn.execute(
                "SELECT count(*) FROM sync_runs WHERE stream = 'movements'"
                " AND id > ? AND pulled > 0",
                (after_run,),
            ).fetchone()
    except sqlite3.OperationalError:
        return False
    return bool(row[0])


def kill_moment(
    process: subprocess.Popen[bytes],
    store: Path,
    rng: random.Random,
    number: int,
    after_run: int,
) -> None:
    """Wait for the moment to kill: at random, or at random once the pull is under way.

    Every other kill waits until batches are being committed, so start-up
    time (which varies with machine load) cannot make every kill miss the
    pull; the others land anywhere, start-up and stream switches included.
    """
    if number % 2 == 0:
        time.sleep(rng.uniform(0.2, 4.0))
        return
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and process.poll() is None
        and not pulling(store, after_run)
    ):
        time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 1.0))


def crash_and_finish(
    config: Path, store: Path, rng: random.Random, kills: int
) -> list[str]:
    """Kill `kills` runs at random moments, then let one run to the end.

    Every other run re-reads everything (`--full`), so there is always a
    long pull to interrupt; the others resume from the saved cursor.
    """
    outcomes = []
    for number in range(kills):
        after_run = last_run_id(store)
        with subprocess.Popen(
            sync_command(config, full=number % 4 in (1, 2)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as process:
            kill_moment(process, store, rng, number, after_run)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        killed = process.returncode == -signal.SIGKILL
        outcomes.append("killed" if killed else "finished")
    final = subprocess.run(
        sync_command(config), capture_output=True, timeout=300, check=False
    )
    assert final.returncode == 0, final.stderr.decode()
    return outcomes


@pytest.fixture
def sap(truth: Path, tmp_path: Path) -> Iterator[tuple[str, Faults]]:
    faults = Faults(seed=SEED)
    server = start_sap_odata(
        truth,
        tmp_path / "sap",
        faults=faults,
        username=LOGIN["user"],
        password=LOGIN["password"],
        client=LOGIN["sap_client"],
    )
    try:
        yield server.url, server.faults
    finally:
        server.stop()


@pytest.mark.parametrize("faulty", [False, True], ids=["clean", "faults-on"])
def test_sigkill_at_random_moments_loses_nothing_and_counts_nothing_twice(
    truth: Path, tmp_path: Path, sap: tuple[str, Faults], faulty: bool
) -> None:
    url, faults = sap
    if faulty:
        faults.update(
            error_rate=0.05,
            throttle_rate=0.03,
            retry_after=0,
            drop_rate=0.02,
            truncate_rate=0.02,
        )
    store = tmp_path / "store.db"
    config = tmp_path / "stockbridge.yaml"
    config.write_text(
        CONFIG.format(
            store=store,
            url=url,
            client=LOGIN["sap_client"],
            user=LOGIN["user"],
            password=LOGIN["password"],
        ),
        encoding="utf-8",
    )
    kills = KILLS[faulty]
    outcomes = crash_and_finish(config, store, random.Random(SEED + faulty), kills)
    assert outcomes.count("killed") >= kills // 2, outcomes

    assert store_movements(store) == truth_movements(truth)
    assert store_stock(store) == truth_stock(truth)
    with sqlite3.connect(store) as conn:
        unbalanced = conn.execute(
            "SELECT id FROM sync_runs WHERE pulled != loaded + rejected"
        ).fetchall()
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM sync_runs GROUP BY status"
            ).fetchall()
        )
        last_cursor = conn.execute(
            "SELECT cursor_after FROM sync_runs WHERE stream = 'movements'"
            " AND status = 'succeeded' ORDER BY id DESC LIMIT 1"
        ).fetchone()
        saved_cursor = conn.execute(
            "SELECT cursor FROM cursors WHERE source = 'sap' AND stream = 'movements'"
        ).fetchone()
        open_snapshots = conn.execute(
            "SELECT count(*) FROM current_snapshots c JOIN stock_snapshots s"
            " ON s.id = c.snapshot_id WHERE s.completed_at IS NULL"
        ).fetchone()
        interrupted_mid_pull = conn.execute(
            "SELECT count(*) FROM sync_runs WHERE error LIKE 'abandoned%' AND pulled > 0"
        ).fetchone()[0]
    assert interrupted_mid_pull >= kills // 4, (
        "kills must land mid-pull, not at start-up"
    )
    assert unbalanced == []
    assert statuses.get("running", 0) == 0, (
        "the last run closes runs left by killed ones"
    )
    assert last_cursor == saved_cursor
    assert open_snapshots == (0,), "the current snapshot is always a completed one"
