"""The ledger check in SQL: snapshot(t1) - snapshot(t0) against the movements between.

One statement does it for every source, key and pair of consecutive
recorded snapshots (`stock_history`). Quantities are integer micro-units,
so the comparison is exact on SQLite and PostgreSQL alike.

Which movements are "between": a snapshot shows what the source had
*recorded* when it was read, so a movement counts in (t0, t1] by when it
was entered (`entered_at`), not by its posting date. A posting back-dated
to before t0 but entered after it is in snapshot(t1) and not in
snapshot(t0), and is counted here; a source that gives no entry time is
judged by its posting time, and a back-dated posting of such a source
shows as a break in one pair and the opposite break in the next. The
same happens to a line entered within clock skew of a snapshot (a
snapshot's time is stockbridge's clock, an entry time the source's). To keep
the scan bounded, movements posted more than `BACKDATING_LIMIT` before the
oldest recorded snapshot are not read.

Keys are compared where a source's snapshots cover the warehouse (either
end of the pair has rows there): movements in a warehouse the source's
stock feed does not report cannot be checked against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, TextualSelect, bindparam, func, select, text
from sqlalchemy.types import BigInteger, String

from stockbridge.store.schema import stock_history
from stockbridge.store.types import Quantity, UtcDateTime, quantity_to_micro

__all__ = ["BACKDATING_LIMIT", "iter_ledger_breaks"]

BACKDATING_LIMIT = timedelta(days=92)
"""How far before a snapshot a posting may be back-dated and still be read."""

_KEY = ("material", "site", "warehouse", "location", "batch", "status")


def _same_key(left: str, right: str) -> str:
    return " AND ".join(f"{left}.{c} = {right}.{c}" for c in _KEY)


def _statement(*, by_source: bool, since: bool) -> TextualSelect:
    source_filter = "WHERE source = :source" if by_source else ""
    chosen = "t1 > :since" if since else "newest = 1"
    key = ", ".join(_KEY)
    sql = f"""
WITH snaps AS (
    SELECT DISTINCT source, scope, snapshot_id, as_of FROM stock_history {source_filter}
),
pairs AS (
    SELECT source, scope, snapshot_id AS s1, as_of AS t1,
           LAG(snapshot_id) OVER w AS s0, LAG(as_of) OVER w AS t0,
           ROW_NUMBER() OVER (PARTITION BY source, scope
                              ORDER BY as_of DESC, snapshot_id DESC) AS newest
    FROM snaps
    WINDOW w AS (PARTITION BY source, scope ORDER BY as_of, snapshot_id)
),
chosen AS (
    SELECT source, scope, s0, t0, s1, t1 FROM pairs
    WHERE s0 IS NOT NULL AND {chosen}
),
ends AS (
    SELECT p.s1 AS pair, h.snapshot_id, h.material, h.site, h.warehouse, h.location,
           h.batch, h.status, h.quantity, h.unit
    FROM chosen p JOIN stock_history h ON h.snapshot_id IN (p.s0, p.s1)
),
held AS (SELECT DISTINCT pair, site, warehouse FROM ends),
moved AS (
    SELECT p.s1 AS pair, m.material, m.site, m.warehouse, m.location, m.batch,
           m.status, SUM(m.quantity) AS quantity, COUNT(*) AS lines,
           MIN(m.unit) AS unit
    FROM chosen p
    JOIN movements m ON m.source = p.source AND m.posted_at > :posted_floor
        AND COALESCE(m.entered_at, m.posted_at) > p.t0
        AND COALESCE(m.entered_at, m.posted_at) <= p.t1
    JOIN held ON held.pair = p.s1 AND held.site = m.site
        AND held.warehouse = m.warehouse
    GROUP BY p.s1, m.material, m.site, m.warehouse, m.location, m.batch, m.status
),
keys AS (
    SELECT pair, {key} FROM ends
    UNION
    SELECT pair, {key} FROM moved
)
SELECT p.source, p.scope, p.t0, p.t1,
       k.material, k.site, k.warehouse, k.location, k.batch, k.status,
       COALESCE(e0.quantity, 0) AS opening,
       COALESCE(mv.quantity, 0) AS moved,
       COALESCE(mv.lines, 0) AS lines,
       COALESCE(e1.quantity, 0) AS closing,
       COALESCE(e1.unit, e0.unit, mv.unit) AS unit
FROM keys k
JOIN chosen p ON p.s1 = k.pair
LEFT JOIN ends e0 ON e0.pair = k.pair AND e0.snapshot_id = p.s0 AND {_same_key("e0", "k")}
LEFT JOIN ends e1 ON e1.pair = k.pair AND e1.snapshot_id = p.s1 AND {_same_key("e1", "k")}
LEFT JOIN moved mv ON mv.pair = k.pair AND {_same_key("mv", "k")}
WHERE ABS(COALESCE(e0.quantity, 0) + COALESCE(mv.quantity, 0)
          - COALESCE(e1.quantity, 0)) > :tolerance
ORDER BY p.source, p.scope, p.t1, k.material, k.site, k.warehouse, k.location,
         k.batch, k.status
"""  # noqa: S608 - only fixed fragments are interpolated; values are bound
    clause = text(sql).bindparams(
        bindparam("posted_floor", type_=UtcDateTime()),
        bindparam("tolerance", type_=BigInteger()),
    )
    if by_source:
        clause = clause.bindparams(bindparam("source", type_=String()))
    if since:
        clause = clause.bindparams(bindparam("since", type_=UtcDateTime()))
    return clause.columns(
        t0=UtcDateTime(),
        t1=UtcDateTime(),
        opening=Quantity(),
        moved=Quantity(),
        closing=Quantity(),
    )


def iter_ledger_breaks(
    engine: Engine,
    *,
    source: str | None = None,
    since: datetime | None = None,
    tolerance: Decimal = Decimal(0),
) -> Iterator[dict[str, Any]]:
    """Keys whose snapshots and movements disagree, per pair of consecutive snapshots.

    Without `since`, the latest pair of each source is checked; with it,
    every pair whose later snapshot is after `since`.
    """
    with engine.connect() as conn:
        oldest_query = select(func.min(stock_history.c.as_of))
        if source is not None:
            oldest_query = oldest_query.where(stock_history.c.source == source)
        oldest = conn.execute(oldest_query).scalar_one_or_none()
        if oldest is None:
            return
        params: dict[str, Any] = {
            "posted_floor": oldest - BACKDATING_LIMIT,
            "tolerance": quantity_to_micro(tolerance),
        }
        if source is not None:
            params["source"] = source
        if since is not None:
            params["since"] = since
        statement = _statement(by_source=source is not None, since=since is not None)
        for row in conn.execute(statement, params):
            yield dict(row._mapping)
