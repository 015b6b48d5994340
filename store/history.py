"""Keeping each switched snapshot's totals per key, for the ledger check.

A snapshot's lines are dropped when the next one is switched in, so the
ledger (snapshot(t1) - snapshot(t0) = movements in between) needs its own
record of what each snapshot said: one row per key with the summed quantity
(every special stock included, as a source's movements move them too) and
the snapshot's time, the latest `as_of` of its rows. Totals only, so a
history row is a fraction of a snapshot's lines.

Rows older than the retention are pruned as each snapshot is recorded, but
the previous snapshot always stays, so the latest pair can be checked
however far apart the two syncs were. A snapshot left unrecorded (a crash
between the switch and this write) only makes the next pair span two
syncs: the ledger compares consecutive recorded snapshots and the movements
between their times, which stays right.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, literal, select

from stockbridge.store.schema import stock_history, stock_lines

__all__ = ["HISTORY_RETENTION", "record_history"]

HISTORY_RETENTION = timedelta(days=14)
"""How long snapshot totals are kept for `stockbridge ledger --since`."""

_KEY = ("material", "site", "warehouse", "location", "batch", "status")


def record_history(
    conn: Connection,
    *,
    source: str,
    scope: str,
    snapshot_id: int,
    now: datetime,
    retention: timedelta = HISTORY_RETENTION,
) -> None:
    """Add the totals of `snapshot_id` to the history and prune old ones (set-based)."""
    previous = conn.execute(
        select(func.max(stock_history.c.as_of)).where(
            stock_history.c.source == source,
            stock_history.c.scope == scope,
            stock_history.c.snapshot_id != snapshot_id,
        )
    ).scalar_one_or_none()
    as_of = (
        select(func.max(stock_lines.c.as_of))
        .where(stock_lines.c.snapshot_id == snapshot_id)
        .scalar_subquery()
    )
    key = [stock_lines.c[name] for name in _KEY]
    totals = (
        select(
            literal(snapshot_id).label("snapshot_id"),
            *key,
            literal(source).label("source"),
            literal(scope).label("scope"),
            as_of.label("as_of"),
            func.sum(stock_lines.c.quantity).label("quantity"),
            func.min(stock_lines.c.unit).label("unit"),
        )
        .where(stock_lines.c.snapshot_id == snapshot_id)
        .group_by(*key)
    )
    columns = ["snapshot_id", *_KEY, "source", "scope", "as_of", "quantity", "unit"]
    conn.execute(
        delete(stock_history).where(stock_history.c.snapshot_id == snapshot_id)
    )
    conn.execute(stock_history.insert().from_select(columns, totals))
    cutoff = now - retention
    if previous is not None:
        cutoff = min(cutoff, previous)
    conn.execute(
        delete(stock_history).where(
            stock_history.c.source == source,
            stock_history.c.scope == scope,
            stock_history.c.as_of < cutoff,
        )
    )
