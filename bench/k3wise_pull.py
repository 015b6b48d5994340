"""Records per second of a full `kind: k3wise` pull, through each real ODBC driver.

Generates a truth, builds its K3 WISE share into an SQLite file (SQLite ODBC
driver) and into a PostgreSQL schema (psqlODBC), pulls every movement and the
stock through the connector, and prints records/s and the process's peak RSS.
The PostgreSQL schema is dropped afterwards.

    .venv/bin/python bench/k3wise_pull.py                       # ~100k K3 WISE movements
    .venv/bin/python bench/k3wise_pull.py --truth-movements 60000 --page-size 2000
    .venv/bin/python bench/k3wise_pull.py --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from stockbridge.connectors.base import Page
from stockbridge.connectors.k3wise import K3WiseConnector, K3WiseSettings
from stockbridge.simulators.k3wise_db import build_k3wise
from stockbridge.simulators.odbc_targets import (
    PostgresTarget,
    SqliteTarget,
    Target,
    drop_target,
)
from stockbridge.simulators.truth import generate


def timed(pages: Iterator[Page]) -> tuple[int, float]:
    started = time.perf_counter()
    count = sum(len(page.records) for page in pages)
    return count, time.perf_counter() - started


def pull(name: str, target: Target, truth: Path, page_size: int) -> None:
    started = time.perf_counter()
    odbc = build_k3wise(truth, target)
    built = time.perf_counter() - started
    settings = K3WiseSettings.model_validate(
        {
            "odbc": odbc,
            "site": "4000",
            "timezone": "Asia/Shanghai",
            "page_size": page_size,
        }
    )
    with K3WiseConnector("k3", settings, timezone="Asia/Shanghai") as connector:
        moved, moved_s = timed(connector.movements(None, lookback=timedelta(0)))
        stock, stock_s = timed(connector.stock())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{name:10} build {built:6.1f}s | movements {moved:7d} in {moved_s:6.2f}s"
        f" = {moved / moved_s:8.0f} rec/s | stock {stock:6d} in {stock_s:5.2f}s"
        f" = {stock / stock_s:7.0f} rec/s | peak RSS {peak_mib:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth-movements", type=int, default=650_000)
    parser.add_argument("--materials", type=int, default=200)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "K3WISE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="k3wise-bench-") as tmp:
        truth = Path(tmp) / "truth.sqlite"
        started = time.perf_counter()
        generate(
            truth,
            materials=args.materials,
            days=30,
            target_movements=args.truth_movements,
        )
        print(
            f"truth: {args.truth_movements} movements in {time.perf_counter() - started:.1f}s"
        )
        pull("sqlite", SqliteTarget(Path(tmp) / "k3wise.sqlite"), truth, args.page_size)
        postgres = PostgresTarget(args.postgres, f"k3wbench_{os.getpid()}")
        try:
            pull("postgresql", postgres, truth, args.page_size)
        finally:
            drop_target(postgres)


if __name__ == "__main__":
    main()
