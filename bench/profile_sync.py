"""Where a stockbridge full load spends its time: py-spy over one worker, summed by phase.

Uses what `sync_throughput.py --keep` left in the work directory (the truth,
the SAP recording, the U8 database), runs the `stockbridge` contender once
under `py-spy record` (sampling, so the profile barely slows it), and sums
the samples into phases (the raw samples stay in the work directory as
`profile-<source>-<store>.txt`): HTTP fetch, JSON parse, the connector's record
building, mapping, and the store write (split into the driver's own
`executemany`/`COPY`, SQLAlchemy's bind conversions, and the rest of
SQLAlchemy and the row dicts). Then the functions with the most own time.

    .venv/bin/py-spy --version   # pip install py-spy into the venv first
    .venv/bin/python bench/profile_sync.py --rows 1000000 --source sap --store sqlite
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
from pathlib import Path

from sap_replay import Recording
from sync_throughput import (
    WORK_DIR,
    Case,
    case_spec,
    replay_server,
    worker_command,
)

PHASES = (
    # (phase, any of these frame fragments; the first phase that matches wins)
    ("store: closing loaded keys' rejects (UPDATE ... IN)", ("_resolve_rejects",)),
    (
        "store: driver executemany, commit",
        ("do_executemany", "_exec_insertmany_context", "executemany (", "do_commit"),
    ),
    (
        "store: bind conversions (Quantity, UtcDateTime)",
        ("process_bind_param", "quantity_to_micro", "_process_bind"),
    ),
    ("store: SQLAlchemy + row dicts, rejects, cursor", ("commit_movement_batch",)),
    ("mapping (RecordMapper)", ("_map_page",)),
    ("parse (json.loads, Decimal)", ("_json_body", "loads (json", "decode (json")),
    (
        "fetch (HTTP / ODBC)",
        (
            "_get_once",
            "OdbcClient.rows",
            "rows (stockbridge/connectors/odbc.py",
            "_fetch",
        ),
    ),
    (
        "connector: records from rows, cursor position",
        (
            "MovementReader.pages",
            "ItemReader",
            "record (",
            "movement_record",
            "parse_header",
            "_movement_pages",
            "_records",
        ),
    ),
    ("sync loop, run set-up, lease, run record", ("sync_stream",)),
)


def phase_of(stack: str) -> str:
    for phase, fragments in PHASES:
        if any(fragment in stack for fragment in fragments):
            return phase
    return "other (imports, start-up)"


def summarise(raw: Path) -> None:
    phases: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        phases[phase_of(stack)] += samples
        leaves[stack.rsplit(";", 1)[-1]] += samples
    print(f"\n{total} samples\n\n| phase | share |\n|---|---:|")
    for phase, samples in phases.most_common():
        print(f"| {phase} | {samples / total:.1%} |")
    print("\n| own time | function |\n|---:|---|")
    for leaf, samples in leaves.most_common(20):
        print(f"| {samples / total:.1%} | `{leaf}` |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--source", choices=("sap", "u8"), default="sap")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--rate", type=int, default=100, help="py-spy samples per second"
    )
    parser.add_argument(
        "--summarise", type=Path, help="only summarise this raw profile"
    )
    args = parser.parse_args()
    if args.summarise:
        summarise(args.summarise)
        return
    work: Path = args.work_dir
    recording = Recording.load(work / f"sap-{args.rows}")
    odbc_file = work / f"u8-{args.rows}.odbc"
    odbc = odbc_file.read_text(encoding="utf-8") if odbc_file.exists() else ""
    with replay_server(recording) as url:
        base = {
            "sap_url": url,
            "recording": str(recording.directory),
            "u8_odbc": odbc,
            "work": str(work),
            "polls": 0,
        }
        spec = case_spec(
            Case(args.source, args.store, "stockbridge"), base, work, args.pg
        )
        raw = work / f"profile-{args.source}-{args.store}.txt"
        spy = Path(sys.executable).with_name("py-spy")
        command = [str(spy), "record", "--format", "raw", "--rate", str(args.rate)]
        subprocess.run(
            [*command, "-o", str(raw), "--", *worker_command(spec)],
            check=True,
            cwd=work,
        )
        summarise(raw)


if __name__ == "__main__":
    main()
