"""A run: one stream of one source, pulled, mapped and committed batch by batch.

A run is a function of (source, stream, config) plus store state: nothing
lives in the process that a second worker could not see, so a crashed or
redelivered run is harmless. The lease keeps one run per stream at a time;
each page the connector yields is committed with its cursor in one
transaction; the run's counts move in the same transactions, so
`pulled = loaded + rejected` holds for whatever was committed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from stockbridge.config.models import Settings
from stockbridge.connectors.base import Connector, Page, Stream
from stockbridge.connectors.redaction import Redactor
from stockbridge.mapping.errors import MappingError
from stockbridge.mapping.mapper import RecordMapper
from stockbridge.mapping.model import (
    LocationRecord,
    MaterialRecord,
    Movement,
    MovementRecord,
    SourceRecord,
    StockLine,
    StockRecord,
    UnitRecord,
    UnreadableRecord,
)
from stockbridge.store.leases import Lease, acquire_lease, new_holder
from stockbridge.store.loading import (
    RejectRow,
    begin_snapshot,
    commit_master_batch,
    commit_movement_batch,
    commit_snapshot_batch,
    read_cursor,
    switch_snapshot,
)
from stockbridge.store.runs import RunRow, abandon_running, finish_run, start_run
from stockbridge.sync.master_data import master_rows
from stockbridge.sync.quarantine import reject_row
from stockbridge.sync.setup import build_connector, build_mapper

__all__ = ["STREAM_ORDER", "Progress", "RunCountMismatchError", "sync_stream"]

log = logging.getLogger("stockbridge.sync")

STREAM_ORDER = (
    Stream.MATERIALS,
    Stream.UNITS,
    Stream.LOCATIONS,
    Stream.STOCK,
    Stream.MOVEMENTS,
)
"""Master data first: the mapper of stock and movements is built from it."""

LEASE_TTL = timedelta(minutes=5)

Progress = Callable[[int], None]
"""Called with the number of records of each committed page."""


class StopRequestedError(RuntimeError):
    """The service is shutting down; the run stopped after a committed batch."""


class RunCountMismatchError(RuntimeError):
    """`pulled = loaded + rejected` did not hold: a bug, and the run says so."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Batch:
    stock: list[StockLine]
    movements: list[Movement]
    master: list[SourceRecord]
    rejects: list[RejectRow]


def _map_page(page: Page, stream: Stream, mapper: RecordMapper) -> _Batch:
    batch = _Batch([], [], [], [])
    for record in page.records:
        try:
            if isinstance(record, UnreadableRecord):
                batch.rejects.append(reject_row(record, record.reason, stream))
            elif stream is Stream.STOCK and isinstance(record, StockRecord):
                batch.stock.append(mapper.stock(record))
            elif stream is Stream.MOVEMENTS and isinstance(record, MovementRecord):
                batch.movements.append(mapper.movement(record))
            elif isinstance(record, MaterialRecord | LocationRecord | UnitRecord):
                batch.master.append(record)
            else:
                reason = f"a {type(record).__name__} in the {stream} stream"
                batch.rejects.append(reject_row(record, reason, stream))
        except MappingError as error:
            batch.rejects.append(reject_row(record, str(error), stream))
    return batch


def _pages(
    connector: Connector, stream: Stream, cursor: str | None, lookback: timedelta
) -> Iterator[Page]:
    if stream is Stream.MOVEMENTS:
        return connector.movements(cursor, lookback=lookback)
    if stream is Stream.STOCK:
        return connector.stock()
    if stream is Stream.MATERIALS:
        return connector.materials()
    if stream is Stream.LOCATIONS:
        return connector.locations()
    return connector.units()


def sync_stream(
    engine: Engine,
    settings: Settings,
    source: str,
    stream: Stream,
    *,
    full: bool = False,
    connector: Connector | None = None,
    clock: Callable[[], datetime] = _utcnow,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> RunRow:
    """Run one stream of one source now and return its run record.

    `full` ignores the saved cursor (a movements re-read from the start;
    keys make it idempotent). `stop`, when set, ends the run after the batch
    in flight commits. Raises `LeaseHeldError` when another process runs
    this stream; any other failure is recorded on the run, which is returned
    with status "failed".
    """
    config = settings.sources[source]
    own_connector = connector is None
    conn = connector if connector is not None else build_connector(settings, source)
    redactor = getattr(conn, "redactor", None) or Redactor()
    lease = acquire_lease(
        engine,
        f"sync:{source}:{stream.value}",
        holder=new_holder(),
        ttl=LEASE_TTL,
        now=clock(),
    )
    try:
        abandon_running(
            engine,
            source=source,
            stream=stream.value,
            now=clock(),
            reason="abandoned: the process running it stopped before finishing",
        )
        cursor = None if full else read_cursor(engine, source, stream.value)
        run_id = start_run(
            engine,
            source=source,
            kind=config.kind,
            stream=stream.value,
            cursor_before=cursor,
            now=clock(),
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        started = time.monotonic()
        error: str | None = None
        cursor_after = cursor
        try:
            cursor_after = _run(
                engine,
                settings,
                source,
                stream,
                connector=conn,
                run_id=run_id,
                cursor=cursor,
                lease=lease,
                clock=clock,
                progress=progress,
                stop=stop,
            )
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run
            error = redactor.redact(f"{type(exc).__name__}: {exc}")
            cursor_after = read_cursor(engine, source, stream.value)
            # Not log.exception: a traceback's locals and args may hold secrets.
            log.error(  # noqa: TRY400
                "run %s of %s/%s failed: %s",
                run_id,
                source,
                stream.value,
                error,
                extra={"source": source, "stream": stream.value, "run_id": run_id},
            )
        row = finish_run(
            engine, run_id, now=clock(), cursor_after=cursor_after, error=error
        )
        if row.pulled != row.loaded + row.rejected:
            msg = (
                f"run {row.id} of {source}/{stream.value}: pulled {row.pulled} "
                f"!= loaded {row.loaded} + rejected {row.rejected}"
            )
            raise RunCountMismatchError(msg)
        log.info(
            "run %s of %s/%s %s: pulled %d, loaded %d, rejected %d in %.1f s",
            row.id,
            source,
            stream.value,
            row.status,
            row.pulled,
            row.loaded,
            row.rejected,
            time.monotonic() - started,
            extra={"source": source, "stream": stream.value, "run_id": row.id},
        )
        return row
    finally:
        lease.release()
        if own_connector:
            conn.close()


def _run(
    engine: Engine,
    settings: Settings,
    source: str,
    stream: Stream,
    *,
    connector: Connector,
    run_id: int,
    cursor: str | None,
    lease: Lease,
    clock: Callable[[], datetime],
    progress: Progress | None,
    stop: threading.Event | None,
) -> str | None:
    mapper = build_mapper(engine, settings, source, connector)
    snapshot_id = (
        begin_snapshot(engine, source=source, scope="", run_id=run_id, now=clock())
        if stream is Stream.STOCK
        else None
    )
    lookback = settings.sources[source].lookback
    for page in _pages(connector, stream, cursor, lookback):
        batch = _map_page(page, stream, mapper)
        now = clock()
        if stream is Stream.MOVEMENTS:
            commit_movement_batch(
                engine,
                run_id=run_id,
                source=source,
                stream=stream.value,
                loaded=batch.movements,
                rejected=batch.rejects,
                cursor=page.cursor,
                now=now,
            )
            if page.cursor is not None:
                cursor = page.cursor
        elif snapshot_id is not None:
            commit_snapshot_batch(
                engine,
                run_id=run_id,
                source=source,
                snapshot_id=snapshot_id,
                loaded=batch.stock,
                rejected=batch.rejects,
                now=now,
            )
        else:
            rows, rejects = master_rows(
                batch.master,
                mapper=mapper,
                source=source,
                stream=stream.value,
                run_id=run_id,
                now=now,
            )
            commit_master_batch(
                engine,
                run_id=run_id,
                source=source,
                rows=rows,
                rejected=[*batch.rejects, *rejects],
                now=now,
            )
        lease.renew(clock())
        if progress is not None:
            progress(len(page.records))
        if stop is not None and stop.is_set():
            msg = "stopped after a committed batch: the service is shutting down"
            raise StopRequestedError(msg)
    if snapshot_id is not None:
        switch_snapshot(
            engine, source=source, scope="", snapshot_id=snapshot_id, now=clock()
        )
    return cursor
