"""Committing a sync batch: rows, rejects, cursor and run counts in one transaction.

This is where "a crash at any moment loses nothing and counts nothing
twice" is kept: a batch is either wholly in the store with the cursor that
follows it, or not at all, and movements upsert on their source key so a
re-read batch changes nothing. Snapshots are written under their own id and
made current in one short transaction (`switch_snapshot`), so readers never
see half of one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    delete,
    func,
    insert,
    select,
    update,
)

from stockbridge.mapping.model import Movement, StockLine
from stockbridge.store.engine import begin_write
from stockbridge.store.history import record_history
from stockbridge.store.runs import RunCounts, add_counts
from stockbridge.store.schema import (
    current_snapshots,
    cursors,
    locations,
    materials,
    movements,
    rejects,
    stock_lines,
    stock_snapshots,
    unit_conversions,
)
from stockbridge.store.upsert import upsert

__all__ = [
    "MasterRows",
    "RejectRow",
    "begin_snapshot",
    "commit_master_batch",
    "commit_movement_batch",
    "commit_snapshot_batch",
    "read_cursor",
    "switch_snapshot",
]

_MOVEMENT_KEY = ("source", "document", "line", "year")


@dataclass(frozen=True, slots=True)
class RejectRow:
    """A record that did not load: its raw form (JSON text) and why."""

    stream: str
    record_key: str
    raw: str
    reason: str


@dataclass(frozen=True, slots=True)
class MasterRows:
    """Master data rows of one batch, already in store shape."""

    materials: Sequence[Mapping[str, Any]] = ()
    locations: Sequence[Mapping[str, Any]] = ()
    unit_conversions: Sequence[Mapping[str, Any]] = ()


def read_cursor(engine: Engine, source: str, stream: str) -> str | None:
    """The last committed cursor of a stream, or None before its first batch."""
    with engine.connect() as conn:
        return conn.execute(
            select(cursors.c.cursor).where(
                cursors.c.source == source, cursors.c.stream == stream
            )
        ).scalar_one_or_none()


def _write_rejects(
    conn: Connection,
    run_id: int,
    source: str,
    found: Sequence[RejectRow],
    now: datetime,
) -> None:
    """Quarantine rejects; a record rejected again replaces its older open reject."""
    keyed = [r for r in found if r.record_key]
    if keyed:
        conn.execute(
            delete(rejects).where(
                rejects.c.source == source,
                rejects.c.stream == keyed[0].stream,
                rejects.c.record_key.in_([r.record_key for r in keyed]),
                rejects.c.resolved_at.is_(None),
            )
        )
    if found:
        conn.execute(
            insert(rejects),
            [
                {
                    "run_id": run_id,
                    "source": source,
                    "stream": r.stream,
                    "record_key": r.record_key,
                    "raw": r.raw,
                    "reason": r.reason,
                    "created_at": now,
                }
                for r in found
            ],
        )


def _resolve_rejects(
    conn: Connection,
    source: str,
    stream: str,
    record_keys: Iterable[str],
    now: datetime,
) -> None:
    """Open rejects of records that now loaded are closed, not left to confuse."""
    keys = list(record_keys)
    if not keys:
        return
    conn.execute(
        update(rejects)
        .where(
            rejects.c.source == source,
            rejects.c.stream == stream,
            rejects.c.record_key.in_(keys),
            rejects.c.resolved_at.is_(None),
        )
        .values(resolved_at=now, resolution="loaded")
    )


def _set_cursor(
    conn: Connection,
    *,
    source: str,
    stream: str,
    cursor: str,
    run_id: int,
    now: datetime,
) -> None:
    upsert(
        conn,
        cursors,
        [
            {
                "source": source,
                "stream": stream,
                "cursor": cursor,
                "updated_at": now,
                "run_id": run_id,
            }
        ],
        ("source", "stream"),
    )


def movement_key(m: Movement) -> str:
    """The reject/record key of a movement line: document/line[/year]."""
    return f"{m.document}/{m.line}/{m.year}" if m.year else f"{m.document}/{m.line}"


def commit_movement_batch(
    engine: Engine,
    *,
    run_id: int,
    source: str,
    stream: str,
    loaded: Sequence[Movement],
    rejected: Sequence[RejectRow],
    cursor: str | None,
    now: datetime,
) -> None:
    """One transaction: upsert movements, quarantine rejects, advance cursor and counts."""
    rows = [
        {
            "source": m.source,
            "document": m.document,
            "line": m.line,
            "year": m.year,
            "kind": m.kind.value,
            "material": m.material,
            "site": m.site,
            "warehouse": m.warehouse,
            "location": m.location,
            "batch": m.batch,
            "status": m.status.value,
            "quantity": m.quantity,
            "unit": m.unit,
            "original_quantity": m.original_quantity,
            "original_unit": m.original_unit,
            "posted_at": m.posted_at,
            "entered_at": m.entered_at,
            "reverses": m.reverses,
            "order_ref": m.order_ref,
            "loaded_at": now,
            "run_id": run_id,
        }
        for m in loaded
    ]
    with engine.connect() as conn, begin_write(conn):
        upsert(conn, movements, rows, _MOVEMENT_KEY)
        _resolve_rejects(conn, source, stream, map(movement_key, loaded), now)
        _write_rejects(conn, run_id, source, rejected, now)
        if cursor is not None:
            _set_cursor(
                conn,
                source=source,
                stream=stream,
                cursor=cursor,
                run_id=run_id,
                now=now,
            )
        add_counts(
            conn,
            run_id,
            RunCounts(len(loaded) + len(rejected), len(loaded), len(rejected)),
        )


def begin_snapshot(
    engine: Engine, *, source: str, scope: str, run_id: int, now: datetime
) -> int:
    """Open a new snapshot for writing; it is invisible until switched in."""
    with engine.connect() as conn, begin_write(conn):
        result = conn.execute(
            insert(stock_snapshots)
            .values(source=source, scope=scope, run_id=run_id, started_at=now)
            .returning(stock_snapshots.c.id)
        )
        return int(result.scalar_one())


def commit_snapshot_batch(
    engine: Engine,
    *,
    run_id: int,
    source: str,
    snapshot_id: int,
    loaded: Sequence[StockLine],
    rejected: Sequence[RejectRow],
    now: datetime,
) -> None:
    """One transaction: add stock lines to the open snapshot, rejects and counts.

    Two source rows that map to one canonical key (SAP splits stock by
    supplier or WBS element that the canonical key does not carry) add up.
    """
    rows = [
        {
            "snapshot_id": snapshot_id,
            "material": s.material,
            "site": s.site,
            "warehouse": s.warehouse,
            "location": s.location,
            "batch": s.batch,
            "status": s.status.value,
            "special_stock": s.special_stock,
            "quantity": s.quantity,
            "reserved": s.reserved,
            "unit": s.unit,
            "as_of": s.as_of,
        }
        for s in loaded
    ]
    key = (
        "snapshot_id",
        "material",
        "site",
        "warehouse",
        "location",
        "batch",
        "status",
        "special_stock",
    )
    with engine.connect() as conn, begin_write(conn):
        upsert(conn, stock_lines, rows, key, accumulate=("quantity", "reserved"))
        _write_rejects(conn, run_id, source, rejected, now)
        add_counts(
            conn,
            run_id,
            RunCounts(len(loaded) + len(rejected), len(loaded), len(rejected)),
        )


def switch_snapshot(
    engine: Engine, *, source: str, scope: str, snapshot_id: int, now: datetime
) -> None:
    """Make a completed snapshot current in one short transaction, then drop the old.

    Snapshots of this source and scope that are neither the new one nor
    current (left by crashed runs) are dropped too. The new snapshot's
    totals per key go to `stock_history` (for the ledger check) as the old
    lines are dropped.
    """
    with engine.connect() as conn, begin_write(conn):
        count = conn.execute(
            select(func.count()).where(stock_lines.c.snapshot_id == snapshot_id)
        ).scalar_one()
        conn.execute(
            update(stock_snapshots)
            .where(stock_snapshots.c.id == snapshot_id)
            .values(completed_at=now, row_count=count)
        )
        upsert(
            conn,
            current_snapshots,
            [
                {
                    "source": source,
                    "scope": scope,
                    "snapshot_id": snapshot_id,
                    "switched_at": now,
                }
            ],
            ("source", "scope"),
        )
    with engine.connect() as conn, begin_write(conn):
        record_history(
            conn, source=source, scope=scope, snapshot_id=snapshot_id, now=now
        )
        stale = select(stock_snapshots.c.id).where(
            stock_snapshots.c.source == source,
            stock_snapshots.c.scope == scope,
            stock_snapshots.c.id != snapshot_id,
        )
        conn.execute(delete(stock_lines).where(stock_lines.c.snapshot_id.in_(stale)))
        conn.execute(
            delete(stock_snapshots).where(
                stock_snapshots.c.id.in_(stale.scalar_subquery())
            )
        )


def commit_master_batch(
    engine: Engine,
    *,
    run_id: int,
    source: str,
    rows: MasterRows,
    rejected: Sequence[RejectRow],
    now: datetime,
) -> None:
    """One transaction: upsert master data rows, rejects and counts."""
    loaded = len(rows.materials) + len(rows.locations) + len(rows.unit_conversions)
    with engine.connect() as conn, begin_write(conn):
        upsert(conn, materials, rows.materials, ("source", "material"))
        upsert(
            conn, locations, rows.locations, ("source", "site", "warehouse", "location")
        )
        upsert(
            conn,
            unit_conversions,
            rows.unit_conversions,
            ("source", "material", "unit"),
        )
        _write_rejects(conn, run_id, source, rejected, now)
        add_counts(
            conn, run_id, RunCounts(loaded + len(rejected), loaded, len(rejected))
        )
