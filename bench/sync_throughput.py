"""Full-load throughput of stockbridge against plain pipelines, raw limits and dlt.

Prints a table (markdown) of rows/s and peak RSS for each source (the SAP
OData simulator, the U8 ODBC simulator), store (SQLite, PostgreSQL) and
contender, all measured in one run on the same data:

- stockbridge: the real sync path (mapping, rejects, idempotent keys, cursor
  commits), plus its no-change incremental poll;
- raw-read: fetching and parsing the same pages, no mapping, no store;
- raw-write: bulk-writing the same rows, prepared in memory first (SQLite
  `executemany` in one transaction, PostgreSQL `COPY`);
- hand-written: fetch -> orjson -> executemany/COPY, no mapping, rejects or cursor;
- dlt: dlt 1.31 (not a project dependency: `pip install "dlt[postgres]==1.31.0"`).

Every contender runs in a fresh process of its own (`throughput_workers.py`),
so its peak RSS is its own. The sources run in other processes: SAP pages
are recorded once from the live simulator and replayed by `sap_replay.py`
(the simulator renders pages far slower than any client reads them); the U8
simulator is a schema in PostgreSQL read through psqlODBC. `--rows N` sizes
the ground truth so that SAP and U8 each hold about N movements (the truth
holds ~7.3 N in all). Work files are cached in `--work-dir`; the PostgreSQL
databases `sb_bench_src` and `sb_bench_store` are dropped at the end unless
`--keep`.

    .venv/bin/python bench/sync_throughput.py                       # 200k, all
    .venv/bin/python bench/sync_throughput.py --rows 1000000 --repeat 3 \\
        --only stockbridge,raw-read,raw-write,hand-written
    .venv/bin/python bench/sync_throughput.py --rows 1000000 --only dlt --sources sap
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sap_replay import Recording, record

HERE = Path(__file__).resolve().parent
CONTENDERS = ("stockbridge", "raw-read", "raw-write", "hand-written", "dlt")
TRUTH_PER_ROW = 7.3
"""Truth movements per wanted SAP (or U8) movement: each holds ~14% of the truth."""
SOURCE_DB, STORE_DB = "sb_bench_src", "sb_bench_store"
WORK_DIR = Path(tempfile.gettempdir()) / "stockbridge-bench"


@dataclass
class Case:
    source: str
    store: str
    contender: str
    results: list[dict[str, Any]] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)


def _server_url(pg: str, database: str) -> str:
    return f"{pg.rstrip('/')}/{database}"


def _admin(pg: str, *statements: sql.SQL | sql.Composed) -> None:
    with psycopg.connect(_server_url(pg, "postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _fresh_database(pg: str, name: str) -> None:
    ident = sql.Identifier(name)
    _admin(
        pg,
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident),
        sql.SQL("CREATE DATABASE {}").format(ident),
        sql.SQL("CHECKPOINT"),
    )


def _database_exists(pg: str, name: str) -> bool:
    with psycopg.connect(_server_url(pg, "postgres")) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
    return found is not None


def prepare_truth(work: Path, rows: int) -> Path:
    truth = work / f"truth-{rows}.sqlite"
    if not truth.exists():
        from stockbridge.simulators.truth import generate

        print(
            f"generating the ground truth ({math.ceil(rows * TRUTH_PER_ROW):,} movements)"
        )
        generate(truth, target_movements=math.ceil(rows * TRUTH_PER_ROW))
    return truth


def prepare_sap(work: Path, rows: int, truth: Path) -> Recording:
    directory = work / f"sap-{rows}"
    if (directory / "recording.json").exists():
        return Recording.load(directory)
    print("recording the SAP simulator's pages (the connector pulls them once)")
    return record(truth, work / f"sap-sim-{rows}", directory)


def prepare_u8(work: Path, rows: int, truth: Path, pg: str) -> str:
    from stockbridge.simulators.odbc_targets import PostgresTarget
    from stockbridge.simulators.u8_db import build_u8

    marker = work / f"u8-{rows}.odbc"
    if marker.exists() and _database_exists(pg, SOURCE_DB):
        return marker.read_text(encoding="utf-8")
    print("building the U8 simulator's database (PostgreSQL, read through psqlODBC)")
    _fresh_database(pg, SOURCE_DB)
    odbc = build_u8(truth, PostgresTarget(_server_url(pg, SOURCE_DB), "u8"))
    marker.write_text(odbc, encoding="utf-8")
    return odbc


@contextmanager
def replay_server(recording: Recording) -> Iterator[str]:
    """The SAP recording served by a process of its own; yields its base URL."""
    server = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "sap_replay.py"),
            "serve",
            str(recording.directory),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = server.stdout.readline().split() if server.stdout else []
        if ready[:1] != ["READY"]:
            msg = f"the replay server did not start: {ready}"
            raise RuntimeError(msg)
        yield f"http://127.0.0.1:{ready[1]}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def case_spec(case: Case, spec: dict[str, Any], work: Path, pg: str) -> dict[str, Any]:
    """The worker's spec for `case`, with its store made fresh."""
    sqlite_path = work / "store.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
    for stale in work.glob("store__*.sqlite"):  # dlt's attached dataset files
        stale.unlink()
    shutil.rmtree(work / "dlt", ignore_errors=True)  # dlt's pipeline state
    if case.store == "postgresql":
        _fresh_database(pg, STORE_DB)
    return {
        **spec,
        "contender": case.contender,
        "source": case.source,
        "store": case.store,
        "sqlite_path": str(sqlite_path),
        "pg_conninfo": _server_url(pg, STORE_DB),
        "store_url": (
            _server_url(pg, STORE_DB).replace("postgresql://", "postgresql+psycopg://")
            if case.store == "postgresql"
            else f"sqlite:///{sqlite_path}"
        ),
    }


def worker_command(spec: dict[str, Any]) -> list[str]:
    return [sys.executable, str(HERE / "throughput_workers.py"), json.dumps(spec)]


def run_case(case: Case, spec: dict[str, Any], work: Path, pg: str) -> None:
    """One run of one contender in a fresh process, on a fresh store."""
    spec = case_spec(case, spec, work, pg)
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    load = os.getloadavg()[0]
    done = subprocess.run(
        worker_command(spec),
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        check=False,
    )
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        msg = f"{case.contender} {case.source}->{case.store} failed"
        raise RuntimeError(msg)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    case.results.append(result)
    case.loads.append(load)
    print(
        f"  {case.source:4} {case.store:10} {case.contender:12} {result['rows']:>9,} rows "
        f"{result['rows'] / result['seconds']:>9,.0f} rows/s "
        f"{result['peak_rss_mb']:>6.0f} MB (load {load:.2f})",
        flush=True,
    )


def _median(case: Case, key: str) -> float:
    return float(statistics.median(r[key] for r in case.results))


def _rate(case: Case) -> tuple[float, float, float]:
    rates = [r["rows"] / r["seconds"] for r in case.results]
    return statistics.median(rates), min(rates), max(rates)


def _note(case: Case) -> str:
    r = case.results[0]
    if case.contender == "stockbridge":
        share = r["connector_seconds"] / r["seconds"]
        return (
            f"loaded {r['loaded']:,}, rejected {r['rejected']:,}; "
            f"{share:.0%} of the time inside the connector"
        )
    if case.contender == "raw-write":
        return (
            f"RSS includes the rows built in memory ({r['rss_after_build_mb']:.0f} MB)"
        )
    if case.contender == "dlt":
        steps = ", ".join(f"{k} {v:.0f} s" for k, v in r["steps"].items())
        dest = "sqlalchemy→SQLite" if case.store == "sqlite" else "postgres"
        return f"{dest}; {steps}"
    return ""


def print_table(cases: list[Case]) -> None:
    print(
        "\n| source | store | contender | rows | rows/s median (min–max) | s | peak RSS MB | × hand-written | note |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---|")
    by_key = {(c.source, c.store, c.contender): c for c in cases}
    for case in cases:
        median, low, high = _rate(case)
        hand = by_key.get((case.source, case.store, "hand-written"))
        versus = f"{median / _rate(hand)[0]:.2f}" if hand and case.store != "-" else ""
        spread = f" ({low:,.0f}–{high:,.0f})" if len(case.results) > 1 else ""
        print(
            f"| {case.source} | {case.store} | {case.contender} | {case.results[0]['rows']:,} "
            f"| **{median:,.0f}**{spread} | {_median(case, 'seconds'):.1f} "
            f"| {_median(case, 'peak_rss_mb'):.0f} | {versus} | {_note(case)} |"
        )
    polls = [c for c in cases if c.contender == "stockbridge"]
    if polls:
        print(
            "\nNo-change incremental poll (median of --polls runs; connector = time inside "
            "the connector's page generator; overhead = the rest of the run, median and max):\n"
        )
        print(
            "| source | store | lookback | rows re-read | run ms | connector ms "
            "| stockbridge overhead ms (max) |"
        )
        print("|---|---|---|---:|---:|---:|---:|")
        for case in polls:
            for lookback, poll in case.results[0]["polls"].items():
                print(
                    f"| {case.source} | {case.store} | {lookback} | {poll['rows']:,} "
                    f"| {poll['run_ms']:.1f} | {poll['connector_ms']:.1f} "
                    f"| {poll['overhead_ms']:.1f} ({poll['overhead_max_ms']:.1f}) |"
                )
    for case in cases:
        if case.contender != "stockbridge":
            continue
        for other in ("hand-written", "dlt"):
            peer = by_key.get((case.source, case.store, other))
            if peer:
                print(
                    f"stockbridge / {other} ({case.source}→{case.store}): "
                    f"{_rate(case)[0] / _rate(peer)[0]:.2f}×"
                )
    loads = [load for c in cases for load in c.loads]
    print(
        f"\n1-minute load average at the start of the runs: "
        f"{min(loads):.2f}–{max(loads):.2f} (2 cores)"
    )


def machine() -> str:
    import orjson
    import pyodbc
    import sqlalchemy

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres") as conn:
        server = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    import sqlite3

    try:
        import dlt

        dlt_version = dlt.__version__
    except ImportError:
        dlt_version = "not installed"
    return (
        f"{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {server}, SQLAlchemy {sqlalchemy.__version__}, "
        f"psycopg {psycopg.__version__}, pyodbc {pyodbc.version}, orjson {orjson.__version__}, dlt {dlt_version}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", default=",".join(CONTENDERS))
    parser.add_argument("--sources", default="sap,u8")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--polls", type=int, default=5, help="incremental polls to time"
    )
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--keep", action="store_true", help="keep the PostgreSQL databases"
    )
    args = parser.parse_args()
    chosen = [c for c in args.only.split(",") if c]
    unknown = sorted(set(chosen) - set(CONTENDERS))
    if unknown:
        parser.error(
            f"unknown contenders {unknown}: choose from {', '.join(CONTENDERS)}"
        )
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    truth = prepare_truth(work, args.rows)
    sources = args.sources.split(",")
    recording = prepare_sap(work, args.rows, truth) if "sap" in sources else None
    odbc = prepare_u8(work, args.rows, truth, args.pg) if "u8" in sources else ""
    cases = [
        Case(source, "-" if contender == "raw-read" else store, contender)
        for source in sources
        for contender in chosen
        for store in (["-"] if contender == "raw-read" else args.stores.split(","))
    ]
    print(machine())
    if recording is not None:
        print(
            f"SAP recording: {recording.items:,} items in {len(recording.windows)} windows, "
            f"{recording.wire_bytes / 2**20:,.0f} MiB of JSON; the live simulator served them "
            f"at {recording.items / recording.seconds:,.0f} items/s"
        )
    started = time.perf_counter()
    try:
        with replay_server(recording) if recording else _no_server() as sap_url:
            spec = {
                "sap_url": sap_url,
                "recording": str(recording.directory) if recording else "",
                "u8_odbc": odbc,
                "work": str(work),
                "polls": args.polls,
            }
            for _ in range(args.repeat):
                for case in cases:
                    run_case(case, spec, work, args.pg)
    finally:
        if not args.keep:
            _admin(
                args.pg,
                *(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(db)
                    )
                    for db in (SOURCE_DB, STORE_DB)
                ),
            )
            (work / f"u8-{args.rows}.odbc").unlink(missing_ok=True)
    print_table(cases)
    print(
        f"\n{args.rows:,}-row run, --repeat {args.repeat}, {time.perf_counter() - started:.0f} s in all"
    )


@contextmanager
def _no_server() -> Iterator[str]:
    yield ""


if __name__ == "__main__":
    main()
