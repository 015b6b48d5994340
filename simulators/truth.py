"""The ground-truth generator: one seeded factory group, written to `truth.sqlite`.

`generate` writes the file described in `truth_schema`: master data, opening
stock, every movement line of every system, the closing stock per system and
the injected discrepancies. Each simulator renders its own share of it;
tests read it as the oracle (`truth_reader`).

Size: `materials`, `days`, and either `movements_per_day` or
`target_movements` (rows in `movements`; the file holds at least that many,
a few more because an event's lines are never split across days). By default
a day has `10 * materials` movement lines. Everything follows from `seed`
and `now` (default 2026-03-31T16:00Z), so the same arguments give the same
file. Batches are ten digits, YYMMDD of the receipt day and a per-material
sequence ('2603150001'), the form SAP shows with its leading zeros intact.

    python -m stockbridge.simulators.truth --out truth.sqlite --movements 1000000
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stockbridge.simulators.truth_events import random_event
from stockbridge.simulators.truth_faults import Faults
from stockbridge.simulators.truth_flows import Flows
from stockbridge.simulators.truth_ledger import Clock, Key, Ledger
from stockbridge.simulators.truth_master import (
    MES_SITES,
    SITES,
    WAREHOUSES,
    MaterialSpec,
    make_materials,
)
from stockbridge.simulators.truth_schema import TRUTH_DDL

__all__ = ["DEFAULT_NOW", "TruthSummary", "generate", "main"]

DEFAULT_NOW = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
_POSTING_START = 1_800  # 00:30 UTC = 08:30 China time
_POSTING_SPAN = 34_200  # to 10:00 UTC = 18:00 China time
_LAST_DAY_CUTOFF = 12  # UTC hour by which the last day's postings are all entered
_RESERVING = frozenset({"u8", "k3cloud", "k3wise"})
_RESERVED_EVERY = 7

# (kind, site, share of the period at which it happens)
_FAULT_PLAN = (
    ("red_ink_reversal", "4000", 0.2),
    ("late_posting", "1000", 0.25),
    ("mes_only_issue", "1000", 0.3),
    ("unit_slip", "2000", 0.35),
    ("late_posting", "4000", 0.4),
    ("duplicate_posting", "3000", 0.45),
    ("mes_only_issue", "2000", 0.5),
    ("unaudited_voucher", "3000", 0.55),
    ("unaudited_voucher", "2000", 0.6),
    ("red_ink_reversal", "2000", 0.7),
)


@dataclass(frozen=True, slots=True)
class TruthSummary:
    path: Path
    seed: int
    materials: int
    days: int
    start_at: datetime
    now_at: datetime
    movements: int
    events: int
    stock_rows: int
    discrepancies: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.movements / self.seconds if self.seconds else 0.0


def _split_ddl() -> tuple[list[str], list[str]]:
    """Tables first, indexes after the bulk load (building them once is far cheaper)."""
    statements = [s.strip() for s in re.sub(r"--[^\n]*", "", TRUTH_DDL).split(";")]
    tables = [s for s in statements if s and not s.startswith("CREATE INDEX")]
    return tables, [s for s in statements if s.startswith("CREATE INDEX")]


def _write_master(conn: sqlite3.Connection, materials: list[MaterialSpec]) -> None:
    conn.executemany(
        "INSERT INTO materials VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                m.code,
                m.name,
                m.name_en,
                m.base_unit,
                m.alt_unit,
                str(m.alt_factor) if m.alt_factor else "",
                int(m.batch_managed),
                str(m.safety_stock // 1000),
            )
            for m in materials
        ],
    )
    conn.executemany("INSERT INTO sites VALUES (?, ?, ?)", SITES)
    conn.executemany(
        "INSERT INTO warehouses VALUES (?, ?, ?, ?, ?)",
        [
            (
                site,
                code,
                name,
                kind,
                f"{erp},mes" if kind == "line_side" and site in MES_SITES else erp,
            )
            for site, _, erp in SITES
            for code, name, kind in WAREHOUSES
        ],
    )


def _period(now: datetime, days: int) -> tuple[datetime, int]:
    """Midnight UTC of the first posting day, and the last day's index.

    The last posting day is today if its postings (entered up to 12:00 UTC)
    are all before `now`, else yesterday.
    """
    last = (
        now.date() if now.hour >= _LAST_DAY_CUTOFF else now.date() - timedelta(days=1)
    )
    first = last - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=UTC), days - 1


def generate(
    out: Path,
    *,
    seed: int = 42,
    materials: int = 50,
    days: int = 30,
    movements_per_day: int | None = None,
    target_movements: int | None = None,
    now: datetime | None = None,
) -> TruthSummary:
    """Write a truth file to `out` (replacing it) and say what is in it."""
    if days < 2:
        msg = f"days must be at least 2 (a late posting needs a later day), got {days}"
        raise ValueError(msg)
    if movements_per_day is not None and target_movements is not None:
        msg = "give movements_per_day or target_movements, not both"
        raise ValueError(msg)
    if now is not None and now.tzinfo is None:
        msg = f"now must be timezone-aware, got {now!r}"
        raise ValueError(msg)
    now_at = DEFAULT_NOW if now is None else now.astimezone(UTC)
    per_day = movements_per_day or (
        math.ceil(target_movements / days) if target_movements else 10 * materials
    )
    started = time.perf_counter()
    rng = random.Random(seed)
    items = make_materials(rng, materials)
    start_at, last_day = _period(now_at, days)

    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    conn = sqlite3.connect(partial, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        tables, indexes = _split_ddl()
        for statement in tables:
            conn.execute(statement)
        conn.execute("BEGIN")
        _write_master(conn, items)
        ledger = Ledger(conn)
        flows = Flows(rng, ledger, Clock(start_at.date(), days), items)
        flows.open_stock()
        ledger.write_opening()
        _run_days(flows, Faults(flows, last_day), days, per_day)
        ledger.flush()
        stock_rows = ledger.write_stock(_ReservedRule(rng, items))
        ledger.write_discrepancies()
        conn.execute(
            "INSERT INTO meta VALUES (?, ?, ?, ?, ?, ?)",
            (
                seed,
                materials,
                days,
                start_at.isoformat(),
                now_at.isoformat(),
                ledger.count,
            ),
        )
        for statement in indexes:
            conn.execute(statement)
        conn.execute("COMMIT")
    finally:
        conn.close()
    partial.replace(out)
    return TruthSummary(
        path=out,
        seed=seed,
        materials=materials,
        days=days,
        start_at=start_at,
        now_at=now_at,
        movements=ledger.count,
        events=ledger.events,
        stock_rows=stock_rows,
        discrepancies=len(ledger.discrepancies),
        seconds=time.perf_counter() - started,
    )


def _run_days(flows: Flows, faults: Faults, days: int, per_day: int) -> None:
    """Each day's events in posting-time order; faults join the traffic at their planned day."""
    ledger = flows.ledger
    due: list[tuple[str, str]] = []
    for day in range(days):
        flows.start_day(day)
        due.extend(
            (kind, site)
            for kind, site, share in _FAULT_PLAN
            if int(share * days) == day
        )
        day_start, first = day * 86_400 + _POSTING_START, ledger.count
        while (done := ledger.count - first) < per_day:
            t = day_start + _POSTING_SPAN * done // per_day
            if due and done >= per_day // 2:
                due = [
                    (kind, site)
                    for kind, site in due
                    if not faults.inject(kind, site, day, t)
                ]
            random_event(flows, t)
        if due:  # a tiny day: inject at its end
            due = [
                (kind, site)
                for kind, site in due
                if not faults.inject(kind, site, day, day_start + _POSTING_SPAN)
            ]
    if due:
        msg = f"could not inject {due}: no day left with the stock they need"
        raise RuntimeError(msg)


class _ReservedRule:
    """Every seventh row with stock in U8/K3 carries a frozen/locked part (U8
    fStopQuantity, K3 FQtyLock): the first such row included, so it always shows up."""

    def __init__(self, rng: random.Random, materials: list[MaterialSpec]) -> None:
        self._rng = rng
        self._whole_units = {m.code for m in materials if m.whole_units}
        self._seen: dict[str, int] = {}

    def __call__(self, key: Key, quantity: int) -> int:
        if key[0] not in _RESERVING or quantity <= 0:
            return 0
        seen = self._seen.get(key[0], 0)
        self._seen[key[0]] = seen + 1
        if seen % _RESERVED_EVERY:
            return 0
        part = quantity * self._rng.randint(10, 50) // 100
        if key[1] in self._whole_units:
            return max(part - part % 1000, 1000)
        return max(part, 1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--out", type=Path, required=True, help="truth.sqlite to write")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--materials", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--movements", type=int, help="at least this many movement rows in all"
    )
    size.add_argument("--movements-per-day", type=int)
    args = parser.parse_args(argv)
    summary = generate(
        args.out,
        seed=args.seed,
        materials=args.materials,
        days=args.days,
        movements_per_day=args.movements_per_day,
        target_movements=args.movements,
    )
    print(
        f"wrote {summary.path}: seed {summary.seed}, {summary.materials} materials, {summary.days} days "
        f"from {summary.start_at:%Y-%m-%d} to now {summary.now_at.isoformat()}"
    )
    print(
        f"{summary.movements:,} movements in {summary.events:,} events, {summary.stock_rows:,} stock rows, "
        f"{summary.discrepancies} injected discrepancies"
    )
    print(f"{summary.seconds:.2f} s, {summary.rows_per_second:,.0f} movements/s")


if __name__ == "__main__":
    main()
