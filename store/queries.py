"""Read queries for the CLI and the web: loaded movements, rejects, runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, desc, select

from stockbridge.store.schema import movements, rejects, sync_runs

__all__ = ["MovementFilter", "iter_movements", "list_rejects", "list_runs"]


@dataclass(frozen=True, slots=True)
class MovementFilter:
    source: str | None = None
    material: str | None = None
    warehouse: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def iter_movements(
    engine: Engine, where: MovementFilter, *, batch: int = 5000
) -> Iterator[dict[str, Any]]:
    """Loaded movements in posting order, streamed (memory stays flat)."""
    query = select(movements).order_by(
        movements.c.posted_at,
        movements.c.source,
        movements.c.document,
        movements.c.line,
    )
    if where.source:
        query = query.where(movements.c.source == where.source)
    if where.material:
        query = query.where(movements.c.material == where.material)
    if where.warehouse:
        query = query.where(movements.c.warehouse == where.warehouse)
    if where.since:
        query = query.where(movements.c.posted_at >= where.since)
    if where.until:
        query = query.where(movements.c.posted_at < where.until)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(
            query
        )
        for row in result:
            yield dict(row._mapping)


def list_rejects(
    engine: Engine,
    *,
    source: str | None = None,
    stream: str | None = None,
    include_resolved: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Quarantined records, newest first; open ones only unless asked."""
    query = select(rejects).order_by(desc(rejects.c.id))
    if source:
        query = query.where(rejects.c.source == source)
    if stream:
        query = query.where(rejects.c.stream == stream)
    if not include_resolved:
        query = query.where(rejects.c.resolved_at.is_(None))
    if limit:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def list_runs(
    engine: Engine, *, source: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Recent sync runs, newest first."""
    query = select(sync_runs).order_by(desc(sync_runs.c.id)).limit(limit)
    if source:
        query = query.where(sync_runs.c.source == source)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
