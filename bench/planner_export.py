"""Planner figures in consolidation, and `stockbridge stock --format xlsx`, at scale.

One source's snapshot holds `--keys` keys (200 per material, over two sites);
`--movements` consuming movements spread over the last 40 days (three in
four inside the 30-day window), plus as many transfers. `reconcile` is timed
with and without the movements (the difference is the consumption figures'
cost), then the XLSX export runs as its own process, through the real CLI,
so its peak memory (ru_maxrss) is the export's alone.

    .venv/bin/python bench/planner_export.py                        # 1.1M keys: two sheets
    .venv/bin/python bench/planner_export.py --keys 100000 --movements 100000 --stores sqlite
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, delete, insert

from stockbridge.config.models import Settings
from stockbridge.store.engine import create_store_engine
from stockbridge.store.migrate import upgrade
from stockbridge.store.schema import (
    current_snapshots,
    movements,
    sources,
    stock_lines,
    stock_snapshots,
)
from stockbridge.sync.reconcile import reconcile

DATABASE = "sb_bench_planner"
CHUNK = 50_000
KEYS_PER_MATERIAL = 200


def stock_chunks(keys: int, snapshot: int, as_of: datetime) -> Iterator[list[Any]]:
    chunk: list[dict[str, Any]] = []
    for n in range(keys):
        chunk.append(
            {
                "snapshot_id": snapshot,
                "material": f"M{n // KEYS_PER_MATERIAL:06d}",
                "site": "1000" if n % 2 else "2000",
                "warehouse": f"W{n // 2 % 10:02d}",
                "location": "",
                "batch": f"B{n % KEYS_PER_MATERIAL:04d}",
                "status": "unrestricted" if n % 7 else "blocked",
                "special_stock": "",
                "quantity": Decimal(f"{n % 99_991}.{n % 1000:03d}"),
                "reserved": Decimal(n % 3),
                "unit": "KGM",
                "as_of": as_of,
            }
        )
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def movement_chunks(
    count: int, materials: int, now: datetime
) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(7)
    chunk: list[dict[str, Any]] = []
    for n in range(2 * count):
        kind = "transfer" if n % 2 else rng.choice(("issue", "production_issue"))
        quantity = Decimal(-rng.randint(1, 50_000)).scaleb(-3)
        chunk.append(
            {
                "source": "sap",
                "document": f"{n:010d}",
                "line": "1",
                "year": "2026",
                "kind": kind,
                "material": f"M{rng.randrange(materials):06d}",
                "site": rng.choice(("1000", "2000")),
                "warehouse": f"W{rng.randrange(10):02d}",
                "location": "",
                "batch": "",
                "status": "unrestricted",
                "quantity": quantity,
                "unit": "KGM",
                "original_quantity": quantity,
                "original_unit": "KGM",
                "posted_at": now - timedelta(seconds=rng.randrange(40 * 86_400)),
                "loaded_at": now,
            }
        )
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill(engine: Engine, keys: int, count: int, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(sources).values(name="sap", kind="bench", first_seen_at=now)
        )
        snapshot = conn.execute(
            insert(stock_snapshots)
            .values(source="sap", scope="", started_at=now, completed_at=now)
            .returning(stock_snapshots.c.id)
        ).scalar_one()
        for chunk in stock_chunks(keys, snapshot, now):
            conn.execute(insert(stock_lines), chunk)
        conn.execute(
            insert(current_snapshots).values(
                source="sap", scope="", snapshot_id=snapshot, switched_at=now
            )
        )
        for chunk in movement_chunks(count, keys // KEYS_PER_MATERIAL, now):
            conn.execute(insert(movements), chunk)


def timed_reconcile(engine: Engine, settings: Settings, now: datetime) -> float:
    started = time.perf_counter()
    reconcile(engine, settings, clock=lambda: now)
    return time.perf_counter() - started


def export(config: Path, output: Path) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of `stockbridge stock --format xlsx`."""
    command = [
        str(Path(sys.executable).with_name("stockbridge")),
        "--config",
        str(config),
        "stock",
        "--format",
        "xlsx",
        "--output",
        str(output),
        "--lang",
        "zh",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before)


def measure(url: str, keys: int, count: int, work: Path) -> None:
    now = datetime.now(UTC)
    engine = create_store_engine(url)
    try:
        upgrade(engine)
        fill(engine, keys, count, now)
        settings = Settings.model_validate({"store": url})
        with_movements = timed_reconcile(engine, settings, now)
        config = work / "bench.yaml"
        config.write_text(f'store: "{url}"\n', encoding="utf-8")
        output = work / "stock.xlsx"
        seconds, peak_kib = export(config, output)
        with engine.begin() as conn:
            conn.execute(delete(movements))
        without = timed_reconcile(engine, settings, now)
        print(
            f"{engine.dialect.name:10} {keys:>9,} keys, {2 * count:>9,} movements: "
            f"reconcile {with_movements:6.1f} s ({without:.1f} s without movements); "
            f"xlsx {seconds:6.1f} s, {output.stat().st_size / 2**20:.0f} MiB, "
            f"peak RSS {peak_kib / 1024:.0f} MiB",
            flush=True,
        )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_100_000)
    parser.add_argument("--movements", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    for store in args.stores.split(","):
        with tempfile.TemporaryDirectory(prefix="sb-bench-planner-") as directory:
            work = Path(directory)
            if store == "sqlite":
                measure(
                    f"sqlite:///{work / 'store.db'}", args.keys, args.movements, work
                )
                continue
            admin = f"{args.pg}/postgres"
            ident = sql.Identifier(DATABASE)
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident)
                )
                conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
            try:
                url = args.pg.replace("postgresql://", "postgresql+psycopg://")
                measure(f"{url}/{DATABASE}", args.keys, args.movements, work)
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident)
                    )


if __name__ == "__main__":
    main()
