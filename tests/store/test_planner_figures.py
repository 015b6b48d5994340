"""Planner figures from consolidation: exact, and the same on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import Engine, delete, insert, select

from stockbridge.store.consolidation import ConsolidationPolicy, consolidate
from stockbridge.store.planner_figures import MAX_COVER_DAYS
from stockbridge.store.schema import (
    conflicts,
    consolidated_stock,
    current_snapshots,
    materials,
    movements,
    sources,
    stock_lines,
    stock_snapshots,
)
from stockbridge.store.stock_queries import StockFilter, iter_consolidated

NOW = datetime(2026, 3, 31, 6, 0, tzinfo=UTC)
AS_OF = datetime(2026, 3, 31, 4, 59, 59, 999_900, tzinfo=UTC)
"""A fraction just under a second: SQLite's date functions would round it up."""
DAYS = 10
SINCE = NOW - timedelta(days=DAYS)


@pytest.fixture
def engine(store: Engine) -> Iterator[Engine]:
    """The module's store of each back-end, emptied after each test."""
    yield store
    with store.begin() as conn:
        for table in (
            consolidated_stock,
            conflicts,
            current_snapshots,
            stock_lines,
            stock_snapshots,
            movements,
            materials,
            sources,
        ):
            conn.execute(delete(table))


@dataclass(frozen=True)
class Line:
    material: str
    quantity: str
    site: str = "1000"
    warehouse: str = "RM01"
    status: str = "unrestricted"
    reserved: str = "0"
    batch: str = ""


def register(engine: Engine, *names: str) -> None:
    with engine.begin() as conn:
        known = set(conn.execute(select(sources.c.name)).scalars())
        for name in names:
            if name not in known:
                conn.execute(
                    insert(sources).values(name=name, kind="test", first_seen_at=NOW)
                )


def snapshot(engine: Engine, source: str, lines: list[Line], as_of: datetime) -> None:
    register(engine, source)
    with engine.begin() as conn:
        snap = conn.execute(
            insert(stock_snapshots)
            .values(source=source, scope="", started_at=as_of, completed_at=as_of)
            .returning(stock_snapshots.c.id)
        ).scalar_one()
        conn.execute(
            insert(stock_lines),
            [
                {
                    "snapshot_id": snap,
                    "material": line.material,
                    "site": line.site,
                    "warehouse": line.warehouse,
                    "location": "",
                    "batch": line.batch,
                    "status": line.status,
                    "special_stock": "",
                    "quantity": Decimal(line.quantity),
                    "reserved": Decimal(line.reserved),
                    "unit": "KGM",
                    "as_of": as_of,
                }
                for line in lines
            ],
        )
        conn.execute(
            insert(current_snapshots).values(
                source=source, scope="", snapshot_id=snap, switched_at=as_of
            )
        )


class Movements:
    """Movement lines, each with its own document number."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rows: list[dict[str, object]] = []

    def add(
        self,
        material: str,
        quantity: str,
        kind: str,
        posted_at: datetime,
        *,
        source: str = "sap",
        site: str = "1000",
        warehouse: str = "RM01",
        document: str = "",
        year: str = "2026",
        reverses: str = "",
    ) -> None:
        self.rows.append(
            {
                "source": source,
                "document": document or f"49{len(self.rows):08d}",
                "line": "1",
                "year": year,
                "kind": kind,
                "material": material,
                "site": site,
                "warehouse": warehouse,
                "location": "",
                "batch": "",
                "status": "unrestricted",
                "quantity": Decimal(quantity),
                "unit": "KGM",
                "original_quantity": Decimal(quantity),
                "original_unit": "KGM",
                "posted_at": posted_at,
                "reverses": reverses,
                "loaded_at": NOW,
            }
        )

    def save(self) -> None:
        register(self.engine, *{str(row["source"]) for row in self.rows})
        with self.engine.begin() as conn:
            conn.execute(insert(movements), self.rows)


def master_safety(
    engine: Engine, source: str, material: str, safety: str, name: str = ""
) -> None:
    register(engine, source)
    with engine.begin() as conn:
        conn.execute(
            insert(materials).values(
                source=source,
                material=material,
                name=name,
                base_unit="KGM",
                safety_stock=Decimal(safety),
                updated_at=NOW,
            )
        )


def figures(engine: Engine) -> dict[tuple[str, ...], tuple[object, ...]]:
    cs = consolidated_stock
    with engine.connect() as conn:
        rows = conn.execute(select(cs)).all()
    return {
        (r.material, r.site, r.warehouse, r.status, r.batch): (
            r.available,
            r.safety_stock,
            r.consumption_per_day,
            r.days_of_cover,
            r.stockout_at,
        )
        for r in rows
    }


def test_a_hand_made_site_gets_exact_consumption_cover_and_stockout(
    engine: Engine,
) -> None:
    snapshot(
        engine,
        "sap",
        [
            Line("A", "100", reserved="10"),  # available 90
            Line("A", "35", warehouse="LS01"),  # line side: 35
            Line("A", "50", status="blocked"),  # available 0
            Line("A", "10", site="2000"),
            Line("B", "7"),
            Line("C", "40", status="quality_inspection"),
            Line("D", "5000000"),
            Line("E", "1"),
        ],
        AS_OF,
    )
    snapshot(engine, "mes", [Line("A", "35", warehouse="LS01")], AS_OF)
    m = Movements(engine)
    # A at 1000: net consumption 33.333335 over 10 days.
    m.add("A", "-20", "production_issue", SINCE, warehouse="LS01")  # first instant
    m.add("A", "-13.333335", "issue", NOW - timedelta(days=2))
    m.add("A", "-4", "sales_issue", NOW - timedelta(days=3))
    m.add("A", "-1", "scrap", NOW - timedelta(days=4))
    m.add("A", "2", "issue", NOW - timedelta(days=4))  # a same-kind correction
    m.add("A", "-5", "production_issue", NOW - timedelta(days=5), document="RV1")
    m.add("A", "5", "reversal", NOW - timedelta(days=1), reverses="RV1/1/2026")
    m.add("A", "-3", "production_issue", NOW - timedelta(days=30), document="RV2")
    m.add("A", "3", "reversal", NOW - timedelta(days=1), reverses="RV2/1")
    m.add("A", "7", "receipt", NOW - timedelta(days=6), document="RC1")
    m.add("A", "-7", "reversal", NOW - timedelta(days=1), reverses="RC1/1/2026")
    m.add("A", "-999", "transfer", NOW - timedelta(days=1))
    m.add("A", "-40", "issue", SINCE - timedelta(microseconds=1))  # before
    m.add("A", "-50", "issue", NOW)  # the window ends before now
    m.add("A", "-40", "issue", NOW - timedelta(days=1), warehouse="LS01", source="mes")
    # ... SAP reported the same line-side issue (20) less fully than MES (40):
    # per warehouse the fuller report counts, so A at 1000 consumes 53.333335.
    m.add("A", "-1000", "issue", NOW - timedelta(days=1), site="2000")
    m.add("C", "-8", "issue", NOW - timedelta(days=1))
    m.add("D", "-0.1", "issue", NOW - timedelta(days=1))
    m.add("E", "-0.000004", "issue", NOW - timedelta(days=1))
    m.save()
    master_safety(engine, "sap", "A", "50", name="Deep groove BEARING 6204")
    master_safety(engine, "mes", "A", "60")
    master_safety(engine, "sap", "C", "12.5")
    policy = ConsolidationPolicy(
        priority=("sap", "mes"),
        consumption_days=DAYS,
        safety_stock={("A", "1000"): Decimal(80), ("B", ""): Decimal(5)},
    )

    consolidate(engine, policy, now=NOW)

    rows = figures(engine)
    # 53.333335 / 10 = 5.3333335 -> 5.333334 (half up); 125 / 5.333334 = 23.4374..
    a = (Decimal(80), Decimal("5.333334"), Decimal("23.4"))
    stockout_a = AS_OF + timedelta(days=23, hours=9, minutes=36)
    for key in (
        ("A", "1000", "RM01", "unrestricted", ""),
        ("A", "1000", "LS01", "unrestricted", ""),
        ("A", "1000", "RM01", "blocked", ""),
    ):
        assert rows[key][1:] == (*a, stockout_a), key
    assert rows[("A", "1000", "RM01", "unrestricted", "")][0] == Decimal(90)
    assert rows[("A", "1000", "RM01", "blocked", "")][0] == Decimal(0)
    # Another site: its own consumption, 10 on hand at 100 a day.
    assert rows[("A", "2000", "RM01", "unrestricted", "")][1:] == (
        Decimal(60),  # the config names A at 1000 only: master data
        Decimal(100),
        Decimal("0.1"),
        AS_OF + timedelta(hours=2, minutes=24),
    )
    # No consumption: no figures; safety stock from the config's "*".
    assert rows[("B", "1000", "RM01", "unrestricted", "")][1:] == (
        Decimal(5),
        None,
        None,
        None,
    )
    # Consumed, but nothing available: out already, as of the snapshot.
    assert rows[("C", "1000", "RM01", "quality_inspection", "")][1:] == (
        Decimal("12.5"),
        Decimal("0.8"),
        Decimal(0),
        AS_OF,
    )
    # 5,000,000 at 0.01 a day lasts past the horizon: no cover, no date.
    assert rows[("D", "1000", "RM01", "unrestricted", "")][2:] == (
        Decimal("0.01"),
        None,
        None,
    )
    # 0.000004 over 10 days rounds to zero a day: nothing to divide by.
    assert rows[("E", "1000", "RM01", "unrestricted", "")][2:] == (
        Decimal(0),
        None,
        None,
    )
    # Below safety stock per site: A at 1000 has 125 for 80 (though its
    # blocked row has 0 available); A at 2000 has 10 for 60; C 0 for 12.5.
    below = iter_consolidated(engine, StockFilter(below_safety_only=True))
    assert sorted((r["material"], r["site"], r["status"]) for r in below) == [
        ("A", "2000", "unrestricted"),
        ("C", "1000", "quality_inspection"),
    ]
    named = iter_consolidated(engine, StockFilter(name="bearing", site="2000"))
    assert [r["material"] for r in named] == ["A"]


def test_consumption_is_rounded_half_up_and_cover_from_the_rounded_rate(
    engine: Engine,
) -> None:
    snapshot(engine, "sap", [Line("A", "125")], AS_OF)
    m = Movements(engine)
    m.add("A", "-33.333335", "issue", NOW - timedelta(days=1))
    m.save()

    consolidate(engine, ConsolidationPolicy(consumption_days=DAYS), now=NOW)

    # 3.3333335 -> 3.333334; 125 / 3.333334 = 37.4999925 -> 37.5
    ((_, safety, rate, cover, stockout),) = figures(engine).values()
    assert (safety, rate, cover) == (None, Decimal("3.333334"), Decimal("37.5"))
    assert stockout == AS_OF + timedelta(days=37, hours=12)


def _oracle(
    lines: list[Line], moved: list[dict[str, object]]
) -> dict[tuple[str, str], tuple[Decimal | None, Decimal | None]]:
    """Consumption and cover per material and site, in exact Decimal arithmetic."""
    available: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        own = Decimal(line.quantity) - Decimal(line.reserved)
        available[(line.material, line.site)] += (
            own if line.status == "unrestricted" else 0
        )
    by_source: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for row in moved:
        posted = row["posted_at"]
        assert isinstance(posted, datetime)
        if SINCE <= posted < NOW:
            key = (
                str(row["source"]),
                str(row["material"]),
                str(row["site"]),
                str(row["warehouse"]),
            )
            by_source[key] -= Decimal(str(row["quantity"]))
    by_warehouse: dict[tuple[str, str, str], Decimal] = {}
    for (_, material, site, warehouse), used in by_source.items():
        key = (material, site, warehouse)
        by_warehouse[key] = max(used, by_warehouse.get(key, used))
    consumed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (material, site, _), used in by_warehouse.items():
        consumed[(material, site)] += used
    result: dict[tuple[str, str], tuple[Decimal | None, Decimal | None]] = {}
    for key, stock in available.items():
        used = consumed.get(key, Decimal(0))
        if used <= 0:
            result[key] = (None, None)
            continue
        rate = (used / DAYS).quantize(Decimal("0.000001"), ROUND_HALF_UP)
        if rate == 0:
            result[key] = (rate, None)
        elif stock <= 0:
            result[key] = (rate, Decimal(0))
        elif stock / rate >= MAX_COVER_DAYS:
            result[key] = (rate, None)
        else:
            result[key] = (rate, (stock / rate).quantize(Decimal("0.1"), ROUND_HALF_UP))
    return result


def _quantity(rng: random.Random, scale: int) -> str:
    return str(Decimal(rng.randint(-scale, scale * 20)).scaleb(-rng.randint(0, 6)))


def test_random_sites_match_exact_decimal_arithmetic(engine: Engine) -> None:
    rng = random.Random(20260331)
    statuses = ("unrestricted", "unrestricted", "blocked", "quality_inspection")
    lines = [
        Line(
            f"M{n}",
            _quantity(rng, 10 ** rng.randint(0, 9)),
            site=rng.choice(("1000", "2000")),
            warehouse=f"W{w}",
            status=rng.choice(statuses),
            reserved=str(Decimal(rng.randint(0, 5000)).scaleb(-3)),
        )
        for n in range(150)
        for w in range(rng.randint(1, 3))
    ]
    snapshot(engine, "sap", lines, AS_OF)
    m = Movements(engine)
    kinds = ("issue", "production_issue", "sales_issue", "scrap", "transfer")
    for line in lines:
        for _ in range(rng.randint(0, 4)):
            m.add(
                line.material,
                str(-Decimal(rng.randint(-10, 10 ** rng.randint(1, 12))).scaleb(-6)),
                rng.choice(kinds),
                NOW - timedelta(seconds=rng.randint(1, (DAYS + 2) * 86400)),
                source=rng.choice(("sap", "mes")),
                site=line.site,
                warehouse=line.warehouse,
            )
    m.save()
    counted = [row for row in m.rows if row["kind"] != "transfer"]

    consolidate(engine, ConsolidationPolicy(consumption_days=DAYS), now=NOW)

    expected = _oracle(lines, counted)
    cs = consolidated_stock
    with engine.connect() as conn:
        got = {
            (r.material, r.site): (r.consumption_per_day, r.days_of_cover)
            for r in conn.execute(
                select(
                    cs.c.material,
                    cs.c.site,
                    cs.c.consumption_per_day,
                    cs.c.days_of_cover,
                )
            )
        }
    assert got == expected
    with engine.connect() as conn:
        stockouts = {
            (r.material, r.site): r.stockout_at
            for r in conn.execute(select(cs.c.material, cs.c.site, cs.c.stockout_at))
        }
    assert stockouts == {
        key: None if cover is None else AS_OF + timedelta(seconds=int(cover * 86400))
        for key, (_, cover) in expected.items()
    }
    kinds = {
        "no consumption": sum(1 for rate, _ in got.values() if rate is None),
        "out already": sum(1 for _, cover in got.values() if cover == 0),
        "covered": sum(1 for _, cover in got.values() if cover),
        "beyond the horizon": sum(
            1 for rate, cover in got.values() if rate and cover is None
        ),
    }
    assert min(kinds.values()) >= 5, kinds  # every branch is exercised
