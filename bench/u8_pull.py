"""Records per second of a full `kind: u8` pull, through each real ODBC driver.

Generates a truth (~100k U8 voucher lines by default), builds its U8 share into
an SQLite file (SQLite ODBC driver) and into a PostgreSQL schema (psqlODBC),
then pulls every movement and the stock through the connector, each pull in a
fresh process so its peak RSS (VmHWM) is the pull's own. The schema is
dropped afterwards.

    .venv/bin/python bench/u8_pull.py
    .venv/bin/python bench/u8_pull.py --page-size 500 --truth-movements 100000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from stockbridge.connectors.u8 import U8Connector, U8Settings
from stockbridge.simulators.odbc_targets import (
    PostgresTarget,
    SqliteTarget,
    Target,
    drop_target,
)
from stockbridge.simulators.truth import generate
from stockbridge.simulators.u8_db import build_u8


def peak_rss_mib() -> float:
    """VmHWM: unlike ru_maxrss it is not inherited across exec."""
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pull(connection_string: str, stream: str, page_size: int) -> None:
    settings = U8Settings.model_validate(
        {
            "odbc": connection_string,
            "site": "2000",
            "timezone": "Asia/Shanghai",
            "page_size": page_size,
        }
    )
    with U8Connector("u8", settings, timezone="Asia/Shanghai") as connector:
        started = time.perf_counter()
        pages = (
            connector.movements(None, lookback=timedelta(0))
            if stream == "movements"
            else connector.stock()
        )
        count = sum(len(page.records) for page in pages)
        seconds = time.perf_counter() - started
    print(
        f"{stream:9} {count:7d} records in {seconds:6.2f} s = {count / seconds:7.0f}"
        f" records/s (page_size {page_size}, peak RSS {peak_rss_mib():.0f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--truth-movements", type=int, default=720_000)
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--pull", nargs=2, metavar=("ODBC", "STREAM"))
    args = parser.parse_args()
    if args.pull:
        pull(args.pull[0], args.pull[1], args.page_size)
        return
    with tempfile.TemporaryDirectory(prefix="u8bench-") as tmp:
        truth = Path(tmp) / "truth.sqlite"
        generate(
            truth, seed=7, materials=200, days=60, target_movements=args.truth_movements
        )
        targets: dict[str, Target] = {
            "SQLite ODBC": SqliteTarget(Path(tmp) / "u8.sqlite"),
            "psqlODBC": PostgresTarget(
                args.postgres, f"u8bench_{uuid.uuid4().hex[:8]}"
            ),
        }
        for name, target in targets.items():
            odbc = build_u8(truth, target)
            try:
                for stream in ("movements", "stock"):
                    command = [sys.executable, __file__, "--pull", odbc, stream]
                    command += ["--page-size", str(args.page_size)]
                    result = subprocess.run(
                        command, capture_output=True, text=True, check=True
                    )
                    print(f"{name:12} {result.stdout.strip()}")
            finally:
                drop_target(target)


if __name__ == "__main__":
    main()
