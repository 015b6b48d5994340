"""Sync run records: started, counted batch by batch, finished.

The counts of a run are advanced in the same transaction as the rows they
count (see `store.loading`), so after a crash they still describe exactly
what was committed. A run left `running` by a process that died is closed
as failed by the next run of its stream, once that run holds the lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, RowMapping, insert, select, update

from stockbridge.store.engine import begin_write
from stockbridge.store.schema import sources, sync_runs

__all__ = [
    "RunCounts",
    "RunRow",
    "abandon_running",
    "ensure_source",
    "finish_run",
    "start_run",
]


@dataclass(frozen=True, slots=True)
class RunCounts:
    """What one committed batch adds to its run."""

    pulled: int
    loaded: int
    rejected: int


@dataclass(frozen=True, slots=True)
class RunRow:
    """A sync run as recorded."""

    id: int
    source: str
    stream: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    pulled: int
    loaded: int
    rejected: int
    cursor_before: str | None
    cursor_after: str | None
    error: str | None


def ensure_source(conn: Connection, name: str, kind: str, now: datetime) -> None:
    """Register a source the first time it is synced."""
    exists = conn.execute(select(sources.c.kind).where(sources.c.name == name)).first()
    if exists is None:
        conn.execute(insert(sources).values(name=name, kind=kind, first_seen_at=now))
    elif exists.kind != kind:
        conn.execute(update(sources).where(sources.c.name == name).values(kind=kind))


def start_run(
    engine: Engine,
    *,
    source: str,
    kind: str,
    stream: str,
    cursor_before: str | None,
    now: datetime,
    host: str,
    pid: int,
) -> int:
    """Record a run as started and return its id."""
    with engine.connect() as conn, begin_write(conn):
        ensure_source(conn, source, kind, now)
        result = conn.execute(
            insert(sync_runs)
            .values(
                source=source,
                stream=stream,
                status="running",
                started_at=now,
                cursor_before=cursor_before,
                host=host,
                pid=pid,
            )
            .returning(sync_runs.c.id)
        )
        return int(result.scalar_one())


def add_counts(conn: Connection, run_id: int, counts: RunCounts) -> None:
    """Advance a run's counts inside the caller's batch transaction."""
    conn.execute(
        update(sync_runs)
        .where(sync_runs.c.id == run_id)
        .values(
            pulled=sync_runs.c.pulled + counts.pulled,
            loaded=sync_runs.c.loaded + counts.loaded,
            rejected=sync_runs.c.rejected + counts.rejected,
        )
    )


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    now: datetime,
    cursor_after: str | None,
    error: str | None,
) -> RunRow:
    """Close a run as succeeded (no error) or failed, and return it."""
    with engine.connect() as conn, begin_write(conn):
        conn.execute(
            update(sync_runs)
            .where(sync_runs.c.id == run_id)
            .values(
                status="failed" if error else "succeeded",
                finished_at=now,
                cursor_after=cursor_after,
                error=error,
            )
        )
        row = conn.execute(select(sync_runs).where(sync_runs.c.id == run_id)).one()
    return _run_row(row._mapping)


def abandon_running(
    engine: Engine, *, source: str, stream: str, now: datetime, reason: str
) -> int:
    """Close runs of this stream still marked running: their process is gone."""
    with engine.connect() as conn, begin_write(conn):
        result = conn.execute(
            update(sync_runs)
            .where(
                sync_runs.c.source == source,
                sync_runs.c.stream == stream,
                sync_runs.c.status == "running",
            )
            .values(status="failed", finished_at=now, error=reason)
        )
        return int(result.rowcount)


def _run_row(m: RowMapping) -> RunRow:
    return RunRow(
        id=int(m["id"]),
        source=m["source"],
        stream=m["stream"],
        status=m["status"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        pulled=int(m["pulled"]),
        loaded=int(m["loaded"]),
        rejected=int(m["rejected"]),
        cursor_before=m["cursor_before"],
        cursor_after=m["cursor_after"],
        error=m["error"],
    )
