"""The schema's promises, on both back-ends: keys, references, allowed values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from stockbridge.mapping.model import MovementKind, StockStatus
from stockbridge.store.schema import (
    alert_outbox,
    conflicts,
    current_snapshots,
    movements,
    stock_lines,
    stock_snapshots,
    sync_runs,
)

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def movement(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "source": "sap",
        "document": "4900000001",
        "line": "0001",
        "year": "2024",
        "kind": "receipt",
        "material": "M1",
        "site": "1000",
        "warehouse": "0001",
        "status": "unrestricted",
        "quantity": Decimal("10.5"),
        "unit": "KGM",
        "original_quantity": Decimal("10.5"),
        "original_unit": "KG",
        "posted_at": T0,
        "loaded_at": T0,
    }
    return row | overrides


def test_a_movement_line_is_stored_once(conn: Connection, source: str) -> None:
    conn.execute(movements.insert().values(**movement()))
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(movements.insert().values(**movement(quantity=Decimal(3))))
    # Another year, line or source document is another movement.
    conn.execute(movements.insert().values(**movement(year="2025")))
    conn.execute(movements.insert().values(**movement(line="0002")))
    assert conn.execute(select(func.count()).select_from(movements)).scalar_one() == 3


def test_a_replayed_movement_line_upserts(conn: Connection, source: str) -> None:
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
    for quantity in (Decimal("10.5"), Decimal("-2.25")):
        statement = insert(movements).values(**movement(quantity=quantity))
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["source", "document", "line", "year"],
                set_={"quantity": statement.excluded.quantity},
            )
        )
    rows = conn.execute(select(movements.c.quantity, movements.c.location)).all()
    assert rows == [(Decimal("-2.25"), "")]


def test_rows_must_name_a_known_source(conn: Connection) -> None:
    with pytest.raises(IntegrityError):
        conn.execute(movements.insert().values(**movement(source="nobody")))


def test_every_canonical_kind_and_status_is_accepted_and_nothing_else(
    conn: Connection, source: str
) -> None:
    for i, kind in enumerate(MovementKind):
        conn.execute(movements.insert().values(**movement(line=f"k{i}", kind=kind)))
    for i, status in enumerate(StockStatus):
        conn.execute(movements.insert().values(**movement(line=f"s{i}", status=status)))
    for bad in ({"kind": "gift"}, {"status": "reserved"}):
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(movements.insert().values(**movement(line="bad", **bad)))


def test_a_run_is_finished_exactly_when_it_is_no_longer_running(
    conn: Connection, source: str
) -> None:
    run = {"source": source, "stream": "movements", "started_at": T0}
    run_id = conn.execute(
        sync_runs.insert().values(status="running", **run).returning(sync_runs.c.id)
    ).scalar_one()
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(
            update(sync_runs).where(sync_runs.c.id == run_id).values(status="failed")
        )
    conn.execute(
        update(sync_runs)
        .where(sync_runs.c.id == run_id)
        .values(status="succeeded", finished_at=T0, pulled=3, loaded=2, rejected=1)
    )
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(sync_runs.insert().values(status="paused", **run))


def test_the_current_snapshot_is_protected_and_old_ones_drop_with_their_lines(
    conn: Connection, source: str
) -> None:
    def new_snapshot() -> int:
        snapshot_id: int = conn.execute(
            stock_snapshots.insert()
            .values(source=source, started_at=T0)
            .returning(stock_snapshots.c.id)
        ).scalar_one()
        conn.execute(
            stock_lines.insert().values(
                snapshot_id=snapshot_id,
                material="M1",
                site="1000",
                warehouse="0001",
                status="unrestricted",
                quantity=Decimal(5),
                unit="KGM",
                as_of=T0,
            )
        )
        return snapshot_id

    old, new = new_snapshot(), new_snapshot()
    conn.execute(
        current_snapshots.insert().values(
            source=source, snapshot_id=old, switched_at=T0
        )
    )
    conn.execute(update(current_snapshots).values(snapshot_id=new))

    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(delete(stock_snapshots).where(stock_snapshots.c.id == new))
    conn.execute(delete(stock_snapshots).where(stock_snapshots.c.id == old))
    assert conn.execute(select(stock_lines.c.snapshot_id)).scalars().all() == [new]


def test_one_open_conflict_per_key_and_any_number_resolved(conn: Connection) -> None:
    conflict = {
        "material": "M1",
        "site": "1000",
        "warehouse": "0001",
        "status": "unrestricted",
        "source_values": '{"sap": "10", "mes": "9"}',
        "difference": Decimal(1),
        "first_seen_at": T0,
        "last_seen_at": T0,
    }
    conn.execute(conflicts.insert().values(resolved_at=T0, **conflict))
    conn.execute(conflicts.insert().values(resolved_at=T0, **conflict))
    conn.execute(conflicts.insert().values(**conflict))
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(conflicts.insert().values(**conflict))


def test_outbox_messages_start_queued(conn: Connection) -> None:
    conn.execute(
        alert_outbox.insert().values(
            channel="dingtalk", dedup_key="low:M1", payload="{}", created_at=T0
        )
    )
    assert conn.execute(
        select(alert_outbox.c.status, alert_outbox.c.attempts)
    ).one() == ("queued", 0)
