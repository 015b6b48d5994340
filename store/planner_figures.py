"""The planners' figures per material and site, computed set-based in SQL.

Planners plan a material per site (SAP keeps safety stock per plant), and
stock moves from the main warehouse to line-side warehouses before it is
issued, so consumption per warehouse would show the main warehouse as never
consumed. Every figure here is therefore per (material, site), over all of
the site's warehouses, and consolidation repeats it on each of the site's
rows:

- `safety_stock`: the config's for the material and site, else the config's
  for the material at every site ("*"), else the highest the master data of
  any source gives the material.
- `consumption_per_day`: net consumption over the last `consumption_days`
  days before the consolidation time, divided by the days. Net consumption
  is minus the sum of the movements of the consuming kinds (issues,
  production and sales issues, scrap), a same-kind correction with the
  opposite sign included, plus reversals of such lines (a cancelled issue was
  never consumed). Transfers only move stock and returns are receipts in
  their own right, so neither counts. Two systems holding one warehouse (an
  ERP and the MES at the line side) report the same issues there, so per
  warehouse the source reporting the most consumption is taken, not their
  sum; the site's figure sums its warehouses. The quotient is rounded half
  up to the store's micro-units. No net consumption: NULL.
- `days_of_cover`: the site's available stock (the sum of its rows'
  unrestricted - reserved) over `consumption_per_day`, rounded half up to
  0.1 day; 0 when the site has no available stock; NULL when there is no
  consumption (or it rounds to zero), or when the cover reaches
  `MAX_COVER_DAYS`, past which no one plans and no date can be printed.
- `stockout_at`: the latest `as_of` of the site's rows plus `days_of_cover`.

All of it is integer arithmetic on micro-units, whose division truncates
toward zero on SQLite and PostgreSQL alike, and every operand of a division
here is positive: so each figure is the same on both back-ends, and the
same as Python's exact arithmetic. Products are kept small by dividing
before multiplying (quotient and remainder): the largest is ten times a
remainder below the daily consumption, within 64 bits up to 9.2 × 10^11
base units consumed a day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, bindparam, text

from stockbridge.store.types import UtcDateTime, quantity_to_micro

__all__ = [
    "CONSUMING_KINDS",
    "MAX_COVER_DAYS",
    "SITE_FIGURES",
    "available_sql",
    "build_site_figures",
    "drop_site_figures",
]

CONSUMING_KINDS = ("issue", "production_issue", "sales_issue", "scrap")
"""Movement kinds that consume stock."""

MAX_COVER_DAYS = 36_500
"""A cover of 100 years or more is left empty: it projects nothing."""

SITE_FIGURES = "planner_site_work"
"""The temporary table `build_site_figures` leaves: one row per material and site."""

_SAFETY = "planner_safety_work"
_MICRO_DAYS_PER_TENTH = 100_000
_SECONDS_PER_TENTH = 8_640


def available_sql(alias: str) -> str:
    """A row's available quantity: unrestricted stock less what is reserved."""
    return (
        f"CASE WHEN {alias}.status = 'unrestricted' "
        f"THEN {alias}.quantity - {alias}.reserved ELSE 0 END"
    )


def _stockout_sql(dialect: str) -> str:
    """`c.as_of` plus `c.tenths` tenths of a day, as a store time.

    SQLite keeps times as `YYYY-MM-DD HH:MM:SS.ffffff`; its date functions
    round the fraction to milliseconds, which can carry into the seconds, so
    the whole seconds are shifted and the microseconds put back unchanged.
    PostgreSQL adds an interval of seconds only: elapsed time, untouched by
    the session's zone and its daylight saving.
    """
    seconds = f"(c.tenths * {_SECONDS_PER_TENTH})"
    if dialect == "postgresql":
        return f"c.as_of + {seconds} * INTERVAL '1 second'"
    return (
        f"datetime(substr(c.as_of, 1, 19), '+' || {seconds} || ' seconds') "
        "|| substr(c.as_of, 20)"
    )


def _rounded_quotient(dividend: str, divisor: str) -> str:
    """dividend / divisor rounded half up, both positive: quotient plus carry."""
    return (
        f"({dividend}) / ({divisor}) + CASE WHEN 2 * (({dividend}) % ({divisor})) "
        f">= ({divisor}) THEN 1 ELSE 0 END"
    )


def _figures_sql(rows_table: str, days: int, dialect: str) -> str:
    kinds = ", ".join(f"'{kind}'" for kind in CONSUMING_KINDS)
    tenths = "10 * (s.available / r.per_day) + " + _rounded_quotient(
        "10 * (s.available % r.per_day)", "r.per_day"
    )
    return f"""
CREATE TEMPORARY TABLE {SITE_FIGURES} AS
WITH site_stock AS (
    SELECT w.material, w.site,
           CAST(SUM({available_sql("w")}) AS BIGINT) AS available,
           MAX(w.as_of) AS as_of
    FROM {rows_table} w GROUP BY w.material, w.site
),
by_source AS (
    SELECT m.source, m.material, m.site, m.warehouse,
           -CAST(SUM(m.quantity) AS BIGINT) AS consumed
    FROM movements m
    WHERE m.posted_at >= :since AND m.posted_at < :now
      AND (m.kind IN ({kinds}) OR (m.kind = 'reversal' AND EXISTS (
          SELECT 1 FROM movements o
          WHERE o.source = m.source AND o.material = m.material
            AND o.kind IN ({kinds})
            AND m.reverses IN (o.document || '/' || o.line,
                               o.document || '/' || o.line || '/' || o.year))))
    GROUP BY m.source, m.material, m.site, m.warehouse
),
by_warehouse AS (
    SELECT material, site, warehouse, MAX(consumed) AS consumed
    FROM by_source GROUP BY material, site, warehouse
),
net_issues AS (
    SELECT material, site, CAST(SUM(consumed) AS BIGINT) AS consumed
    FROM by_warehouse GROUP BY material, site
),
rates AS (
    SELECT material, site, {_rounded_quotient("consumed", str(days))} AS per_day
    FROM net_issues WHERE consumed > 0
),
c AS (
    SELECT s.material, s.site, s.as_of, r.per_day,
           CASE WHEN r.per_day IS NULL OR r.per_day = 0 THEN NULL
                WHEN s.available <= 0 THEN 0
                WHEN s.available / r.per_day >= {MAX_COVER_DAYS} THEN NULL
                ELSE {tenths} END AS tenths
    FROM site_stock s
    LEFT JOIN rates r ON r.material = s.material AND r.site = s.site
)
SELECT c.material, c.site, c.per_day AS consumption_per_day,
       c.tenths * {_MICRO_DAYS_PER_TENTH} AS days_of_cover,
       CASE WHEN c.tenths IS NOT NULL THEN {_stockout_sql(dialect)} END
           AS stockout_at,
       COALESCE(
           (SELECT q.quantity FROM {_SAFETY} q
            WHERE q.material = c.material AND q.site = c.site),
           (SELECT q.quantity FROM {_SAFETY} q
            WHERE q.material = c.material AND q.site = ''),
           (SELECT MAX(mt.safety_stock) FROM materials mt
            WHERE mt.material = c.material)) AS safety_stock
FROM c
"""  # noqa: S608 - only fixed fragments are interpolated; values are bound


def build_site_figures(
    conn: Connection,
    rows_table: str,
    *,
    consumption_days: int,
    safety_stock: Mapping[tuple[str, str], Decimal],
    now: datetime,
) -> None:
    """Create `SITE_FIGURES` for the materials and sites of `rows_table`.

    `rows_table` holds consolidated rows (key, quantity, reserved, as_of);
    `safety_stock` maps (material, site) to a quantity, site "" meaning every
    site without its own entry. Call inside the consolidation's transaction.
    """
    if consumption_days <= 0:
        msg = f"consumption_days must be positive, got {consumption_days}"
        raise ValueError(msg)
    drop_site_figures(conn)
    conn.execute(
        text(
            f"CREATE TEMPORARY TABLE {_SAFETY} (material TEXT NOT NULL, "
            "site TEXT NOT NULL, quantity BIGINT NOT NULL, "
            "PRIMARY KEY (material, site))"
        )
    )
    if safety_stock:
        conn.execute(
            text(f"INSERT INTO {_SAFETY} VALUES (:material, :site, :quantity)"),  # noqa: S608 - a fixed name
            [
                {"material": m, "site": s, "quantity": quantity_to_micro(q)}
                for (m, s), q in safety_stock.items()
            ],
        )
    statement = text(
        _figures_sql(rows_table, int(consumption_days), conn.dialect.name)
    ).bindparams(
        bindparam("since", type_=UtcDateTime()), bindparam("now", type_=UtcDateTime())
    )
    conn.execute(
        statement, {"since": now - timedelta(days=consumption_days), "now": now}
    )


def drop_site_figures(conn: Connection) -> None:
    """Drop the temporary tables of `build_site_figures`."""
    conn.execute(text(f"DROP TABLE IF EXISTS {SITE_FIGURES}"))
    conn.execute(text(f"DROP TABLE IF EXISTS {_SAFETY}"))
