"""Reads for `stockbridge explain`: one material's figures and movements, per source.

Everything here is filtered by a `KeyFilter` (a material, and optionally
the rest of the stock key), so the reads stay small whatever the store's
size; the matching itself is done in `stockbridge.sync.explain`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, Table, func, select

from stockbridge.store.schema import (
    conflicts,
    consolidated_stock,
    current_snapshots,
    movements,
    stock_lines,
)

__all__ = [
    "KEY_COLUMNS",
    "KeyFilter",
    "consolidated_rows",
    "held_warehouses",
    "latest_posting",
    "movement_feeders",
    "open_conflicts",
    "snapshot_figures",
    "window_movements",
]

KEY_COLUMNS = ("material", "site", "warehouse", "location", "batch", "status")


@dataclass(frozen=True, slots=True)
class KeyFilter:
    """The keys to explain: one material, narrowed by any other key part given."""

    material: str
    site: str | None = None
    warehouse: str | None = None
    location: str | None = None
    batch: str | None = None
    status: str | None = None

    def conditions(self, table: Table) -> list[ColumnElement[bool]]:
        """The filter as conditions on `table`'s key columns."""
        found = [table.c.material == self.material]
        for name in KEY_COLUMNS[1:]:
            value = getattr(self, name)
            if value is not None:
                found.append(table.c[name] == value)
        return found


def _rows(engine: Engine, query: Select[Any]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def snapshot_figures(engine: Engine, where: KeyFilter) -> list[dict[str, Any]]:
    """Each source's current figure per key (own stock; locations kept apart)."""
    key = [stock_lines.c[name] for name in KEY_COLUMNS]
    query = (
        select(
            current_snapshots.c.source,
            *key,
            func.sum(stock_lines.c.quantity).label("quantity"),
            func.min(stock_lines.c.unit).label("unit"),
            func.max(stock_lines.c.as_of).label("as_of"),
        )
        .join(
            current_snapshots,
            current_snapshots.c.snapshot_id == stock_lines.c.snapshot_id,
        )
        .where(stock_lines.c.special_stock == "", *where.conditions(stock_lines))
        .group_by(current_snapshots.c.source, *key)
    )
    return _rows(engine, query)


def held_warehouses(
    engine: Engine, places: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Which sources' current snapshots cover each (site, warehouse), and as of when.

    A source that holds a warehouse but has no row for a key says zero
    there (an MES keeps no zero rows), as the consolidation reads it.
    """
    if not places:
        return []
    sites = sorted({site for site, _ in places})
    warehouses = sorted({warehouse for _, warehouse in places})
    query = (
        select(
            current_snapshots.c.source,
            stock_lines.c.site,
            stock_lines.c.warehouse,
            func.max(stock_lines.c.as_of).label("as_of"),
        )
        .join(
            current_snapshots,
            current_snapshots.c.snapshot_id == stock_lines.c.snapshot_id,
        )
        .where(
            stock_lines.c.site.in_(sites),
            stock_lines.c.warehouse.in_(warehouses),
        )
        .group_by(
            current_snapshots.c.source, stock_lines.c.site, stock_lines.c.warehouse
        )
    )
    wanted = set(places)
    return [r for r in _rows(engine, query) if (r["site"], r["warehouse"]) in wanted]


def movement_feeders(
    engine: Engine,
    place: tuple[str, str],
    *,
    sources: Iterable[str],
    since: datetime,
    until: datetime,
) -> set[str]:
    """Which of `sources` loaded any movement at (site, warehouse) in the window.

    One indexed probe per source that stops at the first line found.
    """
    site, warehouse = place
    found = set()
    with engine.connect() as conn:
        for source in sources:
            probe = (
                select(movements.c.document)
                .where(
                    movements.c.source == source,
                    movements.c.posted_at >= since,
                    movements.c.posted_at <= until,
                    movements.c.site == site,
                    movements.c.warehouse == warehouse,
                )
                .limit(1)
            )
            if conn.execute(probe).first() is not None:
                found.add(source)
    return found


def window_movements(
    engine: Engine, where: KeyFilter, *, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Movements of the filtered keys posted in [since, until], every source."""
    query = (
        select(movements)
        .where(
            *where.conditions(movements),
            movements.c.posted_at >= since,
            movements.c.posted_at <= until,
        )
        .order_by(
            movements.c.posted_at,
            movements.c.source,
            movements.c.document,
            movements.c.line,
        )
    )
    return _rows(engine, query)


def latest_posting(engine: Engine, where: KeyFilter) -> datetime | None:
    """When the filtered keys last moved in any source, or None if never."""
    query = select(func.max(movements.c.posted_at)).where(*where.conditions(movements))
    with engine.connect() as conn:
        latest: datetime | None = conn.execute(query).scalar_one()
    return latest


def consolidated_rows(engine: Engine, where: KeyFilter) -> list[dict[str, Any]]:
    """The published rows of the filtered keys."""
    return _rows(
        engine,
        select(consolidated_stock).where(*where.conditions(consolidated_stock)),
    )


def open_conflicts(engine: Engine, where: KeyFilter) -> list[dict[str, Any]]:
    """The open conflicts of the filtered keys."""
    return _rows(
        engine,
        select(conflicts).where(
            conflicts.c.resolved_at.is_(None), *where.conditions(conflicts)
        ),
    )
