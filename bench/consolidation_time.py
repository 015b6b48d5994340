"""How long `reconcile` takes to rebuild the consolidated table for many keys.

Three sources hold current stock snapshots in the same warehouses of one
site: `sap` has every key, `u8` nine in ten, `mes` eight in ten; about one
key in a hundred has a different quantity in one source. So every key has
two or three candidates, and roughly a fifth of the keys are conflicts
(missing means zero in a warehouse the source holds). The snapshots are
written first (not timed); then `stockbridge.sync.reconcile.reconcile` is
timed twice: the first run opens every conflict, the second finds the same
state again (the steady state of a scheduled reconcile).

    .venv/bin/python bench/consolidation_time.py                   # 1M keys, both stores
    .venv/bin/python bench/consolidation_time.py --keys 100000 --stores sqlite
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, insert
from sync_throughput import WORK_DIR

from stockbridge.config.models import Settings
from stockbridge.store.engine import create_store_engine
from stockbridge.store.loading import begin_snapshot, switch_snapshot
from stockbridge.store.migrate import upgrade
from stockbridge.store.runs import start_run
from stockbridge.store.schema import stock_lines
from stockbridge.sync.reconcile import reconcile

DATABASE = "sb_bench_consolidate"
SOURCES = {"sap": 1, "u8": 10, "mes": 5}
"""Source -> it lacks every n-th key (1: it has them all)."""
CHUNK = 50_000


def key_rows(
    keys: int, source: str, snapshot: int, as_of: datetime
) -> Iterator[list[dict[str, Any]]]:
    """The source's stock lines in chunks: 50 warehouses x 100 batches per material."""
    every = SOURCES[source]
    chunk: list[dict[str, Any]] = []
    for n in range(keys):
        if every > 1 and n % every == 0:
            continue
        quantity = Decimal(100 + n % 997)
        if source == "mes" and n % 101 == 0:
            quantity += 1
        chunk.append(
            {
                "snapshot_id": snapshot,
                "material": f"M{n // 5000:06d}",
                "site": "1000",
                "warehouse": f"W{n // 100 % 50:02d}",
                "location": "",
                "batch": f"B{n % 100:04d}",
                "status": "unrestricted",
                "special_stock": "",
                "quantity": quantity,
                "reserved": Decimal(0),
                "unit": "KGM",
                "as_of": as_of,
            }
        )
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill(engine: Engine, keys: int) -> int:
    now = datetime.now(UTC)
    lines = 0
    for source in SOURCES:
        run = start_run(
            engine,
            source=source,
            kind="bench",
            stream="stock",
            cursor_before=None,
            now=now,
            host="bench",
            pid=os.getpid(),
        )
        snapshot = begin_snapshot(engine, source=source, scope="", run_id=run, now=now)
        with engine.begin() as conn:
            for chunk in key_rows(keys, source, snapshot, now):
                conn.execute(insert(stock_lines), chunk)
                lines += len(chunk)
        switch_snapshot(engine, source=source, scope="", snapshot_id=snapshot, now=now)
    return lines


def measure(url: str, keys: int) -> None:
    engine = create_store_engine(url)
    try:
        upgrade(engine)
        started = time.perf_counter()
        lines = fill(engine, keys)
        filled = time.perf_counter() - started
        settings = Settings.model_validate(
            {
                "store": url,
                "reconcile": {
                    "priority": list(SOURCES),
                    "tolerance": {"absolute": "0.001"},
                },
            }
        )
        for label in ("first (opens conflicts)", "again (no change)"):
            started = time.perf_counter()
            result = reconcile(engine, settings)
            seconds = time.perf_counter() - started
            print(
                f"{engine.dialect.name:10} {label:24} {result.keys:>9,} keys "
                f"{result.conflicts_open:>8,} conflicts open  {seconds:6.1f} s "
                f"({lines:,} stock lines written in {filled:.0f} s before)",
                flush=True,
            )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    for store in args.stores.split(","):
        if store == "sqlite":
            path = args.work_dir / "consolidate.sqlite"
            args.work_dir.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            measure(f"sqlite:///{path}", args.keys)
            continue
        admin = f"{args.pg}/postgres"
        ident = sql.Identifier(DATABASE)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident)
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        try:
            measure(
                f"{args.pg.replace('postgresql://', 'postgresql+psycopg://')}/{DATABASE}",
                args.keys,
            )
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident)
                )


if __name__ == "__main__":
    main()
