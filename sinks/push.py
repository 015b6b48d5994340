"""One push to one sink: read the table, send, remember, audit.

The rows are the central store's consolidated table; each sink takes and
shapes what it needs. A dry run sends nothing and records nothing. An
applied push holds the sink's lease in the store (one push per sink at a
time, across processes: two pushes deciding at once that a bill is missing
would both save it) and writes an audit row whatever happens (who: the OS
user or the actor given; what: the sink, counts and hashes, or the error;
where from: this host); only a push that completed records the sink's new
state, in the same transaction as its audit row, so a push that failed
half-way is repeated from the same state and reuses the same idempotency
keys.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Generator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine

from stockbridge.config.models import Settings
from stockbridge.sinks.base import PushResult, Sink, SinkError
from stockbridge.sinks.registry import build_sink
from stockbridge.store.audit_log import record_audit
from stockbridge.store.leases import LeaseHeldError, acquire_lease, new_holder
from stockbridge.store.sink_state import (
    AuditEntry,
    SinkState,
    read_sink_state,
    record_push,
)
from stockbridge.store.stock_queries import StockFilter, iter_consolidated

__all__ = ["PUSH_ACTION", "default_actor", "push"]

PUSH_ACTION = "sink.push"
LEASE_TTL = timedelta(hours=1)
"""How long a push may hold its sink; a dead holder on this host frees it at once."""


def default_actor() -> str:
    """The OS user running the push."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or passwd
        return "unknown"


def _now() -> datetime:
    return datetime.now(UTC)


def push(
    engine: Engine,
    settings: Settings,
    name: str,
    *,
    apply: bool,
    force: bool = False,
    actor: str | None = None,
    clock: Callable[[], datetime] = _now,
) -> PushResult:
    """Push the consolidated table to sink `name` (dry-run unless `apply`).

    Raises:
        ConfigError: the sink's config is invalid.
        SinkError: the push failed (`SinkRefusedError`: the target said no).
    """
    sink = build_sink(settings, name)
    try:
        if not apply:
            return _send(engine, sink, dry_run=True, force=force)
        try:
            lease = acquire_lease(
                engine, f"sink:{name}", holder=new_holder(), ttl=LEASE_TTL, now=clock()
            )
        except LeaseHeldError as held:
            msg = f"sink {name!r}: not pushed: {held}"
            raise SinkError(msg) from None
        try:
            return _apply(engine, sink, force, actor or default_actor(), clock)
        finally:
            lease.release()
    finally:
        sink.close()


def _send(engine: Engine, sink: Sink, *, dry_run: bool, force: bool) -> PushResult:
    last = read_sink_state(engine, sink.name)
    # A generator: closed here, so its read connection goes back at once.
    table = cast(
        "Generator[dict[str, Any], None, None]",
        iter_consolidated(engine, StockFilter()),
    )
    with closing(table) as rows:
        return sink.push(rows, dry_run=dry_run, last=last, force=force)


def _apply(
    engine: Engine,
    sink: Sink,
    force: bool,
    actor: str,
    clock: Callable[[], datetime],
) -> PushResult:
    host = socket.gethostname()
    try:
        result = _send(engine, sink, dry_run=False, force=force)
    except SinkError as error:
        record_audit(
            engine,
            actor=actor,
            action=PUSH_ACTION,
            target=f"{sink.kind}:{sink.name} {sink.target}",
            detail={
                "sink": sink.name,
                "kind": sink.kind,
                "outcome": "failed",
                "error": str(error),
            },
            remote_addr=host,
            now=clock(),
        )
        raise
    _remember(engine, result, actor, host, clock())
    return result


def _remember(
    engine: Engine, result: PushResult, actor: str, host: str, now: datetime
) -> None:
    sent = not result.unchanged or result.sent > 0
    audit = AuditEntry(
        actor=actor,
        action=PUSH_ACTION,
        target=f"{result.kind}:{result.sink} {result.target}",
        detail={
            "sink": result.sink,
            "outcome": "pushed" if sent else "unchanged",
            **result.summary(),
        },
        remote_addr=host,
    )
    if not sent:  # nothing went out: the state stays as the last push left it
        record_audit(
            engine,
            actor=audit.actor,
            action=audit.action,
            target=audit.target,
            detail=audit.detail,
            remote_addr=audit.remote_addr,
            now=now,
        )
        return
    state = SinkState(
        sink=result.sink,
        kind=result.kind,
        content_hash=result.content_hash,
        link_hash=result.link_hash,
        rows=result.rows,
        pushed_at=now,
        detail={"keys": list(result.keys)},
    )
    record_push(engine, state, audit)
