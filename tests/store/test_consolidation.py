"""Consolidation: which number is believed, and which disagreements are conflicts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, insert, select

from stockbridge.store.consolidation import ConsolidationPolicy, OwnerRule, consolidate
from stockbridge.store.database import open_store
from stockbridge.store.engine import create_store_engine
from stockbridge.store.migrate import upgrade
from stockbridge.store.schema import (
    conflicts,
    consolidated_stock,
    current_snapshots,
    sources,
    stock_lines,
    stock_snapshots,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    url: str = request.getfixturevalue(fixture)
    migrator = create_store_engine(url)
    upgrade(migrator)
    migrator.dispose()
    store = open_store(url)
    yield store
    store.dispose()


def snapshot(
    engine: Engine, source: str, rows: list[tuple[str, str, str]], as_of: datetime = T0
) -> None:
    """Make `rows` (material, warehouse, quantity) the current snapshot of `source`."""
    with engine.begin() as conn:
        if (
            conn.execute(select(sources.c.name).where(sources.c.name == source)).first()
            is None
        ):
            conn.execute(
                insert(sources).values(name=source, kind="test", first_seen_at=T0)
            )
        conn.execute(
            delete(current_snapshots).where(current_snapshots.c.source == source)
        )
        snap = conn.execute(
            insert(stock_snapshots)
            .values(source=source, scope="", started_at=as_of, completed_at=as_of)
            .returning(stock_snapshots.c.id)
        ).scalar_one()
        if rows:
            conn.execute(
                insert(stock_lines),
                [
                    {
                        "snapshot_id": snap,
                        "material": m,
                        "site": "1000",
                        "warehouse": w,
                        "location": "",
                        "batch": "",
                        "status": "unrestricted",
                        "special_stock": "",
                        "quantity": Decimal(q),
                        "reserved": Decimal(0),
                        "unit": "H87",
                        "as_of": as_of,
                    }
                    for m, w, q in rows
                ],
            )
        conn.execute(
            insert(current_snapshots).values(
                source=source, scope="", snapshot_id=snap, switched_at=as_of
            )
        )


def table(
    engine: Engine,
) -> dict[tuple[str, str], tuple[Decimal, str | None, bool, dict[str, int]]]:
    with engine.connect() as conn:
        rows = conn.execute(select(consolidated_stock)).all()
    return {
        (r.material, r.warehouse): (
            r.quantity,
            r.chosen_source,
            r.conflict,
            json.loads(r.source_values),
        )
        for r in rows
    }


POLICY = ConsolidationPolicy(
    owners=(OwnerRule("mes", warehouses=("LS01",)),),
    priority=("sap", "mes"),
    absolute_tolerance=Decimal("0.5"),
)


def test_system_of_record_wins_and_disagreement_is_a_conflict(engine: Engine) -> None:
    snapshot(
        engine, "sap", [("A", "RM01", "10"), ("A", "LS01", "24"), ("B", "LS01", "5")]
    )
    snapshot(engine, "mes", [("A", "LS01", "0"), ("B", "LS01", "5.2")])
    result = consolidate(engine, POLICY, now=T0)
    rows = table(engine)
    assert rows[("A", "RM01")][:3] == (Decimal(10), "sap", False), "only SAP holds RM01"
    assert rows[("A", "LS01")][:3] == (Decimal(0), "mes", True), "MES owns line side"
    assert rows[("A", "LS01")][3] == {"sap": 24_000_000, "mes": 0}
    assert rows[("B", "LS01")][:3] == (Decimal("5.2"), "mes", False), (
        "0.2 is within tolerance"
    )
    assert (result.keys, result.conflicts_open, result.conflicts_opened) == (3, 1, 1)


def test_a_key_missing_in_a_source_that_holds_the_warehouse_counts_as_zero(
    engine: Engine,
) -> None:
    snapshot(engine, "sap", [("A", "LS01", "24")])
    snapshot(engine, "mes", [("B", "LS01", "1")])
    consolidate(engine, POLICY, now=T0)
    rows = table(engine)
    assert rows[("A", "LS01")][:3] == (Decimal(0), "mes", True)
    assert rows[("A", "LS01")][3] == {"sap": 24_000_000, "mes": 0}


def test_conflicts_open_update_and_close_as_syncs_run(engine: Engine) -> None:
    snapshot(engine, "sap", [("A", "LS01", "24")])
    snapshot(engine, "mes", [("A", "LS01", "20")])
    consolidate(engine, POLICY, now=T0)
    snapshot(engine, "mes", [("A", "LS01", "18")])
    consolidate(engine, POLICY, now=T0 + timedelta(hours=1))
    with engine.connect() as conn:
        (row,) = conn.execute(select(conflicts)).all()
    assert (row.difference, row.first_seen_at, row.last_seen_at, row.resolved_at) == (
        Decimal(6),
        T0,
        T0 + timedelta(hours=1),
        None,
    )
    snapshot(engine, "mes", [("A", "LS01", "24")])
    result = consolidate(engine, POLICY, now=T0 + timedelta(hours=2))
    with engine.connect() as conn:
        (row,) = conn.execute(select(conflicts)).all()
    assert row.resolved_at == T0 + timedelta(hours=2)
    assert (result.conflicts_open, result.conflicts_resolved) == (0, 1)


def test_priority_and_freshest_fallbacks(engine: Engine) -> None:
    snapshot(engine, "sap", [("A", "RM01", "10")], as_of=T0)
    snapshot(engine, "wms", [("A", "RM01", "11")], as_of=T0 + timedelta(minutes=5))
    consolidate(engine, ConsolidationPolicy(priority=("sap", "wms")), now=T0)
    assert table(engine)[("A", "RM01")][:2] == (Decimal(10), "sap")
    consolidate(engine, ConsolidationPolicy(freshest=True), now=T0)
    assert table(engine)[("A", "RM01")][:2] == (Decimal(11), "wms")


def test_relative_tolerance(engine: Engine) -> None:
    snapshot(engine, "sap", [("A", "RM01", "1000")])
    snapshot(engine, "wms", [("A", "RM01", "1009")])
    consolidate(
        engine,
        ConsolidationPolicy(priority=("sap",), relative_tolerance=Decimal("0.01")),
        now=T0,
    )
    assert table(engine)[("A", "RM01")][2] is False
    consolidate(
        engine,
        ConsolidationPolicy(priority=("sap",), relative_tolerance=Decimal("0.005")),
        now=T0,
    )
    assert table(engine)[("A", "RM01")][2] is True
