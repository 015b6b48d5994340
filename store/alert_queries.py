"""The reads alert rules are evaluated on: set-based, one statement per rule.

Each function returns only the rows that breach (or, for figures that need
Python's exact Decimal arithmetic, the per-key aggregates), so the cost
follows the number of materials and streams, never the number of movements
or rejects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    and_,
    case,
    desc,
    func,
    or_,
    select,
    tuple_,
)

from stockbridge.store.schema import (
    conflicts,
    consolidated_stock,
    rejects,
    sync_runs,
)
from stockbridge.store.types import quantity_from_micro

__all__ = [
    "ConflictRow",
    "SiteStock",
    "StockScopeFilter",
    "StreamRuns",
    "failing_streams",
    "negative_stock",
    "open_conflicts",
    "open_reject_counts",
    "present_material_sites",
    "stock_by_site",
    "stream_run_times",
]

_Ts = TypeVarTuple("_Ts")


@dataclass(frozen=True, slots=True)
class StockScopeFilter:
    """Codes to keep; an empty tuple keeps all."""

    materials: Sequence[str] = ()
    sites: Sequence[str] = ()
    warehouses: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class SiteStock:
    """A material at a site, with the planner figures consolidation computed."""

    material: str
    site: str
    available: Decimal
    safety_stock: Decimal | None
    unit: str
    consumption_per_day: Decimal | None
    days_of_cover: Decimal | None


@dataclass(frozen=True, slots=True)
class ConflictRow:
    key: dict[str, str]
    difference: Decimal
    source_values: dict[str, Decimal]
    first_seen_at: datetime
    unit: str


@dataclass(frozen=True, slots=True)
class StreamRuns:
    source: str
    stream: str
    first_started_at: datetime
    last_success_at: datetime | None


def _scoped(query: Select[*_Ts], table: Table, scope: StockScopeFilter) -> Select[*_Ts]:
    if scope.materials:
        query = query.where(table.c.material.in_(scope.materials))
    if scope.sites:
        query = query.where(table.c.site.in_(scope.sites))
    if scope.warehouses:
        query = query.where(table.c.warehouse.in_(scope.warehouses))
    return query


def stock_by_site(
    conn: Connection, scope: StockScopeFilter, *, only_below_safety: bool
) -> list[SiteStock]:
    """Available stock per material and site, with its planner figures.

    `available` is non-zero only on unrestricted rows, so summing every
    status counts a material whose stock is all blocked as zero available.
    The planner figures are per material and site already, the same on each
    of the site's rows.
    """
    cs = consolidated_stock
    available = func.sum(cs.c.available)
    safety = func.max(cs.c.safety_stock)
    query = (
        select(
            cs.c.material,
            cs.c.site,
            available.label("available"),
            safety.label("safety_stock"),
            func.min(cs.c.unit).label("unit"),
            func.max(cs.c.consumption_per_day).label("consumption_per_day"),
            func.max(cs.c.days_of_cover).label("days_of_cover"),
        )
        .group_by(cs.c.material, cs.c.site)
        .order_by(cs.c.material, cs.c.site)
    )
    if only_below_safety:
        query = query.having(and_(safety.is_not(None), available < safety))
    query = _scoped(query, cs, scope)
    return [
        SiteStock(
            r.material,
            r.site,
            r.available,
            r.safety_stock,
            r.unit,
            r.consumption_per_day,
            r.days_of_cover,
        )
        for r in conn.execute(query)
    ]


def present_material_sites(
    conn: Connection, pairs: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of `pairs` (material, site) still have any consolidated row."""
    if not pairs:
        return set()
    cs = consolidated_stock
    query = (
        select(cs.c.material, cs.c.site)
        .where(tuple_(cs.c.material, cs.c.site).in_(list(pairs)))
        .distinct()
    )
    return {(r.material, r.site) for r in conn.execute(query)}


def negative_stock(
    conn: Connection, scope: StockScopeFilter
) -> list[dict[str, object]]:
    """Consolidated rows whose quantity is below zero."""
    cs = consolidated_stock
    query = _scoped(
        select(
            cs.c.material,
            cs.c.site,
            cs.c.warehouse,
            cs.c.location,
            cs.c.batch,
            cs.c.status,
            cs.c.quantity,
            cs.c.unit,
        ).where(cs.c.quantity < 0),
        cs,
        scope,
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def open_conflicts(
    conn: Connection,
    scope: StockScopeFilter,
    *,
    opened_before: datetime | None,
    larger_than: Decimal | None,
) -> list[ConflictRow]:
    """Open conflicts opened before `opened_before` or at least `larger_than` apart.

    With neither given, every open conflict.
    """
    c, cs = conflicts, consolidated_stock
    conditions: list[ColumnElement[bool]] = []
    if opened_before is not None:
        conditions.append(c.c.first_seen_at <= opened_before)
    if larger_than is not None:
        conditions.append(c.c.difference >= larger_than)
    key = ("material", "site", "warehouse", "location", "batch", "status")
    query = select(
        *(c.c[name] for name in key),
        c.c.difference,
        c.c.source_values,
        c.c.first_seen_at,
        func.coalesce(cs.c.unit, "").label("unit"),
    ).select_from(c.outerjoin(cs, and_(*(c.c[name] == cs.c[name] for name in key))))
    query = query.where(c.c.resolved_at.is_(None))
    if conditions:
        query = query.where(or_(*conditions))
    query = _scoped(query, c, scope)
    return [
        ConflictRow(
            key={name: r._mapping[name] for name in key},
            difference=r.difference,
            source_values={
                source: quantity_from_micro(int(micro))
                for source, micro in json.loads(r.source_values).items()
            },
            first_seen_at=r.first_seen_at,
            unit=r.unit,
        )
        for r in conn.execute(query)
    ]


def stream_run_times(conn: Connection) -> list[StreamRuns]:
    """Per source and stream: its first run's start and its last success's end."""
    r = sync_runs
    last_success = func.max(case((r.c.status == "succeeded", r.c.finished_at)))
    query = select(
        r.c.source,
        r.c.stream,
        func.min(r.c.started_at).label("first_started_at"),
        last_success.label("last_success_at"),
    ).group_by(r.c.source, r.c.stream)
    return [
        StreamRuns(row.source, row.stream, row.first_started_at, row.last_success_at)
        for row in conn.execute(query)
    ]


def failing_streams(conn: Connection, failures: int) -> list[dict[str, object]]:
    """Streams whose last `failures` finished runs all failed, with the last error."""
    r = sync_runs
    position = (
        func.row_number()
        .over(partition_by=(r.c.source, r.c.stream), order_by=desc(r.c.id))
        .label("position")
    )
    recent = (
        select(r.c.source, r.c.stream, r.c.status, r.c.error, r.c.finished_at, position)
        .where(r.c.status != "running")
        .subquery()
    )
    rows = conn.execute(
        select(recent)
        .where(recent.c.position <= failures)
        .order_by(recent.c.source, recent.c.stream, recent.c.position)
    ).all()
    streams: dict[tuple[str, str], list[Row[Any]]] = {}
    for row in rows:
        streams.setdefault((row.source, row.stream), []).append(row)
    failing = []
    for (source, stream), runs in streams.items():
        if len(runs) == failures and all(run.status == "failed" for run in runs):
            latest = runs[0]
            failing.append(
                {
                    "source": source,
                    "stream": stream,
                    "error": latest.error or "",
                    "finished_at": latest.finished_at,
                }
            )
    return failing


def open_reject_counts(conn: Connection, above: int) -> list[dict[str, object]]:
    """Per source and stream, the count of unresolved rejects when above `above`."""
    rj = rejects
    count = func.count().label("open_rejects")
    query = (
        select(rj.c.source, rj.c.stream, count)
        .where(rj.c.resolved_at.is_(None))
        .group_by(rj.c.source, rj.c.stream)
        .having(func.count() > above)
    )
    return [dict(r._mapping) for r in conn.execute(query)]
