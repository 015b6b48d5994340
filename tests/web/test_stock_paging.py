"""The web's stock pages against the plain filter: same rows, any offset, any sort.

`stock_page` remembers totals and searchable materials per table version and
reads pages past the middle backwards; `iter_consolidated` is the plain SQL
filter in key order, the reference it must agree with.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert

from stockbridge.store.database import open_store
from stockbridge.store.schema import consolidated_stock, materials, sources
from stockbridge.store.stock_queries import StockFilter, iter_consolidated
from stockbridge.store.web_queries import SORTABLE, stock_page

NOW = datetime(2026, 3, 1, 8, tzinfo=UTC)
NAMES = {
    "100001": "钢板 2.0mm",
    "100002": "Sensor 50%",
    "100003": "sensor_x",
    "200004": "",
}


def _rows(version: datetime, rng: random.Random) -> list[dict[str, object]]:
    rows = []
    for material in NAMES:
        for site, warehouse in (("1000", "RM1"), ("1000", "FG1"), ("2000", "RM2")):
            for batch in ("", "B1", "B2"):
                for status in ("unrestricted", "blocked"):
                    if rng.random() < 0.3:
                        continue
                    quantity = Decimal(rng.randint(0, 50))
                    rows.append({
                        "material": material, "site": site, "warehouse": warehouse,
                        "batch": batch, "status": status, "quantity": quantity,
                        "unit": "PCE", "available": quantity,
                        "days_of_cover": None if rng.random() < 0.3 else Decimal(rng.randint(1, 9)),
                        "chosen_source": "sap", "rule": "priority",
                        "source_values": json.dumps({"sap": int(quantity) * 10**6}),
                        "conflict": rng.random() < 0.2,
                        "as_of": version - timedelta(minutes=rng.randint(0, 3)),
                        "updated_at": version,
                    })  # fmt: skip
    return rows


def _consolidate(engine: Engine, version: datetime, seed: int) -> None:
    """Replace the table wholesale with one version stamp, as consolidation does."""
    with engine.begin() as conn:
        conn.execute(consolidated_stock.delete())
        conn.execute(insert(consolidated_stock), _rows(version, random.Random(seed)))


@pytest.fixture
def store(tmp_path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        conn.execute(
            insert(sources).values(name="sap", kind="sap_odata", first_seen_at=NOW)
        )
        conn.execute(
            insert(materials),
            [
                {"source": "sap", "material": m, "name": n, "base_unit": "PCE", "updated_at": NOW}
                for m, n in NAMES.items()
            ],
        )  # fmt: skip
    _consolidate(engine, NOW, seed=1)
    yield engine
    engine.dispose()


def _keys(rows) -> list[tuple[str, ...]]:
    return [
        (
            r["material"],
            r["site"],
            r["warehouse"],
            r["location"],
            r["batch"],
            r["status"],
        )
        for r in rows
    ]


@pytest.mark.parametrize("sort", SORTABLE)
@pytest.mark.parametrize("descending", [False, True])
def test_pages_at_every_offset_make_up_the_whole_order(store, sort, descending):
    everything = stock_page(
        store, StockFilter(), sort=sort, descending=descending, limit=1000
    )
    assert everything.total == len(everything.rows) > 40
    paged = []
    for offset in range(0, everything.total + 7, 7):
        page = stock_page(
            store,
            StockFilter(),
            sort=sort,
            descending=descending,
            offset=offset,
            limit=7,
        )
        assert page.total == everything.total
        paged += page.rows
    assert _keys(paged) == _keys(everything.rows)


@pytest.mark.parametrize(
    "where",
    [
        StockFilter(site="1000"),
        StockFilter(site="1000", warehouse="FG1"),
        StockFilter(warehouse="RM2"),
        StockFilter(status="blocked"),
        StockFilter(conflicts_only=True),
        StockFilter(site="2000", conflicts_only=True),
        StockFilter(name="钢板"),
        StockFilter(name="SENSOR"),
        StockFilter(name="%"),
        StockFilter(name="_"),
        StockFilter(name="0000"),
        StockFilter(name="200004"),
        StockFilter(name="nothing like it"),
        StockFilter(name="sensor", status="unrestricted"),
    ],
    ids=repr,
)
def test_filters_find_what_the_plain_sql_filter_finds(store, where):
    wanted = _keys(iter_consolidated(store, where))
    page = stock_page(store, where, limit=1000)
    assert page.total == len(wanted)
    assert _keys(page.rows) == wanted
    tail = stock_page(store, where, offset=max(0, len(wanted) - 3), limit=5)
    assert _keys(tail.rows) == wanted[-3:]


def test_a_new_consolidation_is_counted_and_searched_afresh(store):
    before = stock_page(store, StockFilter(name="sensor"), limit=1000)
    assert stock_page(store, StockFilter(name="sensor"), limit=1).total == before.total
    _consolidate(store, NOW + timedelta(minutes=5), seed=2)
    after = stock_page(store, StockFilter(name="sensor"), limit=1000)
    wanted = _keys(iter_consolidated(store, StockFilter(name="sensor")))
    assert before.total != after.total == len(wanted)
    assert _keys(after.rows) == wanted
    assert stock_page(store, StockFilter(), limit=1).total == sum(
        1 for _ in iter_consolidated(store, StockFilter())
    )
