"""Reads for the web: a sorted page of stock, conflicts, source health, figures.

A page is one LIMIT/OFFSET query plus one COUNT over the same filter, so a
planner scrolls 1,000,000 rows without the server ever holding them; the
sort always ends on the full key so that pages never overlap or skip. The
count is remembered per table version (`stockbridge.store.stock_memo`), and
a page past the middle is read from the far end in reverse order, so the
last page costs what the first does instead of skipping every row before it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, asc, desc, func, select

from stockbridge.store.schema import (
    alert_outbox,
    alert_state,
    conflicts,
    consolidated_stock,
    locations,
    materials,
    movements,
    sync_runs,
)
from stockbridge.store.stock_memo import TableMemo, memo_for, table_version
from stockbridge.store.stock_queries import StockFilter, stock_conditions
from stockbridge.store.types import quantity_from_micro

__all__ = [
    "SORTABLE",
    "StockPage",
    "consumption_series",
    "list_alerts",
    "list_conflicts",
    "outbox_depth",
    "place_choices",
    "run_totals",
    "stock_page",
    "stream_health",
]

SORTABLE = (
    "material",
    "site",
    "warehouse",
    "status",
    "quantity",
    "available",
    "days_of_cover",
    "as_of",
)
_KEY = ("material", "site", "warehouse", "location", "batch", "status")
MAX_SEARCH_MATERIALS = 5000
"""Above this many matching materials a search filters in SQL instead of by list."""


@dataclass(frozen=True, slots=True)
class StockPage:
    total: int
    rows: list[dict[str, Any]]


def _decoded(row: Any) -> dict[str, Any]:
    record = dict(row._mapping)
    record["sources"] = {
        source: quantity_from_micro(int(micro))
        for source, micro in json.loads(record.pop("source_values")).items()
    }
    return record


def _conditions(
    conn: Connection, memo: TableMemo, where: StockFilter
) -> list[ColumnElement[bool]]:
    """The filter's conditions; a search becomes a list of material codes.

    Matching the text against each row would scan the whole table; matching
    it against the version's material codes and names finds the few
    materials, whose rows the primary key then reads directly.
    """
    if not where.name:
        return stock_conditions(where)
    found = memo.matching_materials(conn, where.name)
    if len(found) > MAX_SEARCH_MATERIALS:
        return stock_conditions(where)
    return [
        *stock_conditions(replace(where, name=None)),
        consolidated_stock.c.material.in_(found),
    ]


def stock_page(
    engine: Engine,
    where: StockFilter,
    *,
    sort: str = "material",
    descending: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> StockPage:
    """One page of consolidated rows with the material's name, and the total."""
    if sort not in SORTABLE:
        msg = f"cannot sort by {sort!r}; sortable: {', '.join(SORTABLE)}"
        raise ValueError(msg)
    cs = consolidated_stock
    name = (
        select(func.max(materials.c.name))
        .where(materials.c.material == cs.c.material, materials.c.name != "")
        .scalar_subquery()
        .label("material_name")
    )
    columns = [sort, *(k for k in _KEY if k != sort)]
    with engine.connect() as conn:
        memo = memo_for(engine, table_version(conn))
        conditions = _conditions(conn, memo, where)
        total = memo.totals.get(where)
        if total is None:
            total = int(
                conn.execute(
                    select(func.count()).select_from(cs).where(*conditions)
                ).scalar_one()
            )
            memo.remember_total(where, total)
        # Past the middle, the rows are nearer the other end of the order.
        backwards = offset > total // 2
        if backwards:
            offset, limit = max(0, total - offset - limit), min(limit, total - offset)
        first = desc if descending != backwards else asc
        then = desc if backwards else asc
        order = [first(cs.c[columns[0]]), *(then(cs.c[k]) for k in columns[1:])]
        query = (
            select(cs, name)
            .where(*conditions)
            .order_by(*order)
            .offset(offset)
            .limit(max(limit, 0))
        )
        rows = [_decoded(row) for row in conn.execute(query)]
    return StockPage(total=total, rows=rows[::-1] if backwards else rows)


def consumption_series(
    engine: Engine, materials_on_page: Sequence[str], *, since: datetime, days: int
) -> dict[tuple[str, str], list[Decimal]]:
    """Daily issued quantity per (material, source) since `since`, oldest first.

    Each source is kept apart: two systems reporting the same issue would
    otherwise count it twice.
    """
    if not materials_on_page:
        return {}
    query = select(
        movements.c.material,
        movements.c.source,
        movements.c.posted_at,
        movements.c.quantity,
    ).where(
        movements.c.material.in_(sorted(set(materials_on_page))),
        movements.c.posted_at >= since,
        movements.c.quantity < 0,
    )
    series: dict[tuple[str, str], list[Decimal]] = defaultdict(
        lambda: [Decimal(0)] * days
    )
    with engine.connect() as conn:
        for row in conn.execute(query):
            day = (row.posted_at - since).days
            if 0 <= day < days:
                series[(row.material, row.source)][day] -= row.quantity
    return dict(series)


def list_conflicts(
    engine: Engine, *, include_resolved: bool = False, limit: int = 100, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """Conflicts, largest difference first; open ones only unless asked."""
    conditions = [] if include_resolved else [conflicts.c.resolved_at.is_(None)]
    query = (
        select(conflicts)
        .where(*conditions)
        .order_by(desc(func.abs(conflicts.c.difference)), conflicts.c.id)
        .limit(limit)
        .offset(offset)
    )
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count()).select_from(conflicts).where(*conditions)
        ).scalar_one()
        rows = [_decoded(row) for row in conn.execute(query)]
    return int(total), rows


def stream_health(engine: Engine) -> list[dict[str, Any]]:
    """Per source and stream: the last run, and when it last succeeded."""
    last = (
        select(func.max(sync_runs.c.id))
        .group_by(sync_runs.c.source, sync_runs.c.stream)
        .scalar_subquery()
    )
    succeeded = (
        select(
            sync_runs.c.source,
            sync_runs.c.stream,
            func.max(sync_runs.c.finished_at).label("last_success_at"),
        )
        .where(sync_runs.c.status == "succeeded")
        .group_by(sync_runs.c.source, sync_runs.c.stream)
        .subquery()
    )
    query = (
        select(sync_runs, succeeded.c.last_success_at)
        .outerjoin(
            succeeded,
            and_(
                succeeded.c.source == sync_runs.c.source,
                succeeded.c.stream == sync_runs.c.stream,
            ),
        )
        .where(sync_runs.c.id.in_(last))
        .order_by(sync_runs.c.source, sync_runs.c.stream)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def run_totals(engine: Engine) -> list[dict[str, Any]]:
    """Per source and stream: records pulled, loaded, rejected, and run times."""
    finished = sync_runs.c.status != "running"
    query = (
        select(
            sync_runs.c.source,
            sync_runs.c.stream,
            func.sum(sync_runs.c.pulled).label("pulled"),
            func.sum(sync_runs.c.loaded).label("loaded"),
            func.sum(sync_runs.c.rejected).label("rejected"),
            func.count().label("runs"),
        )
        .where(finished)
        .group_by(sync_runs.c.source, sync_runs.c.stream)
    )
    spans = select(
        sync_runs.c.source,
        sync_runs.c.stream,
        sync_runs.c.started_at,
        sync_runs.c.finished_at,
    ).where(finished)
    seconds: dict[tuple[str, str], float] = defaultdict(float)
    with engine.connect() as conn:
        totals = [dict(row._mapping) for row in conn.execute(query)]
        for row in conn.execute(spans):
            seconds[(row.source, row.stream)] += (
                row.finished_at - row.started_at
            ).total_seconds()
    for total in totals:
        total["seconds"] = seconds[(total["source"], total["stream"])]
    return totals


def outbox_depth(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(alert_outbox)
                .where(alert_outbox.c.status == "queued")
            ).scalar_one()
        )


def list_alerts(
    engine: Engine, *, include_resolved: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """Alert states, most recently seen first; firing ones only unless asked."""
    query = select(alert_state).order_by(desc(alert_state.c.last_seen_at)).limit(limit)
    if not include_resolved:
        query = query.where(alert_state.c.status == "firing")
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def place_choices(engine: Engine) -> tuple[list[str], list[str]]:
    """Known sites and warehouses (from master data: small, unlike the stock table)."""
    with engine.connect() as conn:
        sites = conn.execute(
            select(locations.c.site).distinct().order_by(locations.c.site)
        )
        site_list = [r[0] for r in sites]
        houses = conn.execute(
            select(locations.c.warehouse).distinct().order_by(locations.c.warehouse)
        )
        return site_list, [r[0] for r in houses]
