"""The consolidated stock table and its conflicts, computed set-based in SQL.

One statement builds every key's candidates from the sources' current
snapshots; window functions pick the quantity the policy believes and
measure how far the sources disagree. The result replaces
`consolidated_stock` in one transaction (readers see the old table or the
new one, never a mix), and conflicts open, update and close in the same
transaction.

A source "holds" a warehouse when its current snapshot has any row there.
For a key in a warehouse it holds, a source with no row says zero (an MES
keeps no zero rows); in a warehouse it does not hold, it says nothing.
Special stocks (consignment, sales-order stock) are not own stock and are
left out. Quantities are integer micro-units throughout, so every sum and
comparison here is exact on SQLite and PostgreSQL alike. The planner figures
(safety stock, consumption, days of cover, stock-out) come from
`stockbridge.store.planner_figures`, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, bindparam, text

from stockbridge.store.engine import begin_write
from stockbridge.store.planner_figures import (
    SITE_FIGURES,
    available_sql,
    build_site_figures,
    drop_site_figures,
)
from stockbridge.store.types import UtcDateTime, quantity_to_micro

__all__ = ["ConsolidationPolicy", "ConsolidationResult", "OwnerRule", "consolidate"]

KEY = "material, site, warehouse, location, batch, status"


@dataclass(frozen=True, slots=True)
class OwnerRule:
    """`source` is the system of record for keys matching every non-empty list."""

    source: str
    sites: Sequence[str] = ()
    warehouses: Sequence[str] = ()
    statuses: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ConsolidationPolicy:
    """Which source to believe, and how much disagreement is still agreement.

    `safety_stock` maps (material, site) to a quantity that overrides the
    master data; site "" applies to every site without its own entry.
    """

    owners: Sequence[OwnerRule] = ()
    priority: Sequence[str] = ()
    freshest: bool = False
    absolute_tolerance: Decimal = Decimal(0)
    relative_tolerance: Decimal = Decimal(0)
    consumption_days: int = 30
    safety_stock: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConsolidationResult:
    keys: int
    conflicts_open: int
    conflicts_opened: int
    conflicts_resolved: int


def _rank_sql(policy: ConsolidationPolicy, params: dict[str, Any]) -> tuple[str, str]:
    """SQL for a candidate's rank (lower wins) and the name of the deciding rule."""
    owner_cases: list[str] = []
    for n, owner in enumerate(policy.owners):
        conditions = []
        for column, values in (
            ("site", owner.sites),
            ("warehouse", owner.warehouses),
            ("status", owner.statuses),
        ):
            if values:
                names = []
                for m, value in enumerate(values):
                    params[f"o{n}_{column}_{m}"] = value
                    names.append(f":o{n}_{column}_{m}")
                conditions.append(f"m.{column} IN ({', '.join(names)})")
        params[f"o{n}_source"] = owner.source
        match = " AND ".join(conditions) or "1 = 1"
        owner_cases.append(
            f"WHEN {match} THEN CASE WHEN m.source = :o{n}_source THEN 0 ELSE 2 END"
        )
    owner_rank = f"CASE {' '.join(owner_cases)} ELSE 1 END" if owner_cases else "1"
    priority_cases = []
    for n, source in enumerate(policy.priority):
        params[f"p{n}"] = source
        priority_cases.append(f"WHEN m.source = :p{n} THEN {n}")
    priority_rank = (
        f"CASE {' '.join(priority_cases)} ELSE {len(policy.priority)} END"
        if priority_cases and not policy.freshest
        else "0"
    )
    rank = f"({owner_rank}) * 1000 + ({priority_rank})"
    rule = (
        "CASE WHEN count(*) OVER k = 1 THEN 'only source' "
        f"WHEN ({owner_rank}) = 0 THEN 'system of record' "
        f"ELSE '{'freshest' if policy.freshest else 'priority'}' END"
    )
    return rank, rule


def _sql(statement: str) -> TextClause:
    """A statement whose `:now` is bound as a store time (UTC, the store's format)."""
    clause = text(statement)
    if ":now" in statement:
        clause = clause.bindparams(bindparam("now", type_=UtcDateTime()))
    return clause


def _source_values(conn: Connection) -> str:
    """Each source's quantity for the key, as JSON text: a window aggregate, so
    no join back by key is needed (SQLite would run that join as nested scans,
    quadratic in the number of keys)."""
    if conn.dialect.name == "postgresql":
        return "(json_object_agg(m.source, m.quantity) OVER k)::text"
    return "json_group_object(m.source, m.quantity) OVER k"


def consolidate(
    engine: Engine, policy: ConsolidationPolicy, *, now: datetime
) -> ConsolidationResult:
    """Rebuild the consolidated table from the current snapshots, and track conflicts."""
    params: dict[str, Any] = {
        "now": now,
        "abs_tol": quantity_to_micro(policy.absolute_tolerance),
        "rel_ppm": quantity_to_micro(policy.relative_tolerance),
    }
    rank, rule = _rank_sql(policy, params)
    with engine.connect() as conn, begin_write(conn):
        conn.execute(text("DROP TABLE IF EXISTS consolidation_work"))
        if conn.dialect.name == "postgresql":
            # A snapshot just loaded is not yet in the planner's statistics;
            # estimating it at a few rows, PostgreSQL joins the keys with
            # nested loops, quadratic in their number (minutes for 40,000).
            conn.execute(text("ANALYZE stock_lines"))
        conn.execute(
            _sql(
                f"""
CREATE TEMPORARY TABLE consolidation_work AS
WITH cur AS (
    SELECT c.source, l.material, l.site, l.warehouse, l.location, l.batch, l.status,
           SUM(l.quantity) AS quantity, SUM(l.reserved) AS reserved,
           MIN(l.unit) AS unit, MAX(l.as_of) AS as_of
    FROM stock_lines l JOIN current_snapshots c ON c.snapshot_id = l.snapshot_id
    WHERE l.special_stock = ''
    GROUP BY c.source, l.material, l.site, l.warehouse, l.location, l.batch, l.status
),
keys AS (SELECT DISTINCT {KEY} FROM cur),
held AS (
    SELECT source, site, warehouse, MAX(as_of) AS as_of
    FROM cur GROUP BY source, site, warehouse
),
m AS (
    SELECT k.material, k.site, k.warehouse, k.location, k.batch, k.status, h.source,
           COALESCE(cur.quantity, 0) AS quantity, COALESCE(cur.reserved, 0) AS reserved,
           cur.unit, COALESCE(cur.as_of, h.as_of) AS as_of
    FROM keys k
    JOIN held h ON h.site = k.site AND h.warehouse = k.warehouse
    LEFT JOIN cur ON cur.source = h.source AND cur.material = k.material
        AND cur.site = k.site AND cur.warehouse = k.warehouse
        AND cur.location = k.location AND cur.batch = k.batch AND cur.status = k.status
),
ranked AS (
    SELECT m.*,
           ROW_NUMBER() OVER (k ORDER BY {rank}, m.as_of DESC, m.source) AS rn,
           {rule} AS rule,
           count(*) OVER k AS sources,
           MAX(m.quantity) OVER k - MIN(m.quantity) OVER k AS difference,
           MAX(m.unit) OVER k AS key_unit,
           {_source_values(conn)} AS source_values
    FROM m
    WINDOW k AS (PARTITION BY m.material, m.site, m.warehouse, m.location,
                 m.batch, m.status)
)
SELECT r.material, r.site, r.warehouse, r.location, r.batch, r.status,
       r.quantity, r.reserved, r.key_unit AS unit, r.source AS chosen_source,
       r.rule, r.sources, r.difference, r.as_of, r.source_values,
       CASE WHEN r.sources > 1 AND r.difference > :abs_tol
            AND r.difference * 1000000 > :rel_ppm * ABS(r.quantity)
            THEN 1 ELSE 0 END AS conflict
FROM ranked r
WHERE r.rn = 1
"""
            ),
            params,
        )
        # The conflict updates below look keys up in the work table, one
        # lookup per open conflict: without an index each is a full scan.
        conn.execute(
            text(f"CREATE INDEX consolidation_work_key ON consolidation_work ({KEY})")
        )
        build_site_figures(
            conn,
            "consolidation_work",
            consumption_days=policy.consumption_days,
            safety_stock=policy.safety_stock,
            now=now,
        )
        conn.execute(text("DELETE FROM consolidated_stock"))
        conn.execute(
            _sql(
                f"""
INSERT INTO consolidated_stock ({KEY}, quantity, unit, reserved, available,
    safety_stock, consumption_per_day, days_of_cover, stockout_at,
    chosen_source, rule, source_values, conflict, single_source, as_of, updated_at)
SELECT w.material, w.site, w.warehouse, w.location, w.batch, w.status,
       w.quantity, w.unit, w.reserved, {available_sql("w")},
       f.safety_stock, f.consumption_per_day, f.days_of_cover, f.stockout_at,
       w.chosen_source, w.rule, w.source_values, w.conflict = 1, w.sources = 1,
       w.as_of, :now
FROM consolidation_work w
JOIN {SITE_FIGURES} f ON f.material = w.material AND f.site = w.site
"""
            ),
            {"now": now},
        )
        drop_site_figures(conn)
        resolved = conn.execute(
            _sql(
                """
UPDATE conflicts SET resolved_at = :now
WHERE resolved_at IS NULL AND NOT EXISTS (
    SELECT 1 FROM consolidation_work w WHERE w.conflict = 1
    AND w.material = conflicts.material AND w.site = conflicts.site
    AND w.warehouse = conflicts.warehouse AND w.location = conflicts.location
    AND w.batch = conflicts.batch AND w.status = conflicts.status)
"""
            ),
            {"now": now},
        ).rowcount
        conn.execute(
            _sql(
                """
UPDATE conflicts SET last_seen_at = :now,
    difference = (SELECT w.difference FROM consolidation_work w
        WHERE w.material = conflicts.material AND w.site = conflicts.site
        AND w.warehouse = conflicts.warehouse AND w.location = conflicts.location
        AND w.batch = conflicts.batch AND w.status = conflicts.status),
    source_values = (SELECT w.source_values FROM consolidation_work w
        WHERE w.material = conflicts.material AND w.site = conflicts.site
        AND w.warehouse = conflicts.warehouse AND w.location = conflicts.location
        AND w.batch = conflicts.batch AND w.status = conflicts.status)
WHERE resolved_at IS NULL
"""
            ),
            {"now": now},
        )
        opened = conn.execute(
            _sql(
                f"""
INSERT INTO conflicts ({KEY}, source_values, difference, first_seen_at, last_seen_at)
SELECT {KEY}, source_values, difference, :now, :now FROM consolidation_work w
WHERE w.conflict = 1 AND NOT EXISTS (
    SELECT 1 FROM conflicts c WHERE c.resolved_at IS NULL
    AND c.material = w.material AND c.site = w.site AND c.warehouse = w.warehouse
    AND c.location = w.location AND c.batch = w.batch AND c.status = w.status)
"""
            ),
            {"now": now},
        ).rowcount
        keys = conn.execute(
            text("SELECT count(*) FROM consolidation_work")
        ).scalar_one()
        open_now = conn.execute(
            text("SELECT count(*) FROM conflicts WHERE resolved_at IS NULL")
        ).scalar_one()
        conn.execute(text("DROP TABLE consolidation_work"))
    return ConsolidationResult(int(keys), int(open_now), int(opened), int(resolved))
