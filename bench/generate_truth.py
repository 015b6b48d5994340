"""How fast the ground truth generates, and whether its memory stays flat.

Each size runs in a fresh process (so peak RSS belongs to that size alone)
and prints wall time, CPU time, rows/s and peak RSS; RSS that barely moves
from 100k to 1M movements is the streaming claim checked.

    .venv/bin/python bench/generate_truth.py                  # 100k and 1M
    .venv/bin/python bench/generate_truth.py --sizes 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stockbridge.simulators.truth import generate


def measure(movements: int, out: Path) -> dict[str, float]:
    """Generate one truth in this process and report its figures."""
    cpu_started = time.process_time()
    summary = generate(out, target_movements=movements)
    cpu = time.process_time() - cpu_started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "movements": summary.movements,
        "wall_s": round(summary.seconds, 2),
        "cpu_s": round(cpu, 2),
        "rows_per_s_wall": round(summary.movements / summary.seconds),
        "rows_per_s_cpu": round(summary.movements / cpu),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "file_mb": round(out.stat().st_size / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--sizes", default="100000,1000000", help="comma list of movement counts"
    )
    parser.add_argument("--single", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(measure(args.single, args.out)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        for size in (int(s) for s in args.sizes.split(",")):
            out = Path(scratch) / f"truth-{size}.sqlite"
            command = [
                sys.executable,
                __file__,
                "--single",
                str(size),
                "--out",
                str(out),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            figures = json.loads(done.stdout)
            print(
                f"{figures['movements']:>10,} movements: {figures['wall_s']:6.2f} s wall "
                f"({figures['rows_per_s_wall']:,} rows/s), {figures['cpu_s']:6.2f} s CPU "
                f"({figures['rows_per_s_cpu']:,} rows/s), peak RSS {figures['peak_rss_mb']} MB, "
                f"file {figures['file_mb']} MB"
            )
            out.unlink()


if __name__ == "__main__":
    main()
