"""The last successful push to each sink, recorded with its audit row.

A push's state and its audit row commit in one transaction: a push the
store remembers is always an audited one. A push that failed records no
state (the next one starts from the last success, so it reuses the same
batch ids and bill numbers the target may already hold) and is audited on
its own by `stockbridge.store.audit_log.record_audit`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from stockbridge.store.engine import begin_write
from stockbridge.store.schema import audit_log, sink_state
from stockbridge.store.upsert import upsert

__all__ = ["AuditEntry", "SinkState", "read_sink_state", "record_push"]


@dataclass(frozen=True, slots=True)
class SinkState:
    sink: str
    kind: str
    content_hash: str
    link_hash: str
    rows: int
    pushed_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to which target, from where."""

    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    remote_addr: str | None = None


def read_sink_state(engine: Engine, sink: str) -> SinkState | None:
    """The last successful push to `sink`, or None if there was none."""
    with engine.connect() as conn:
        row = conn.execute(
            select(sink_state).where(sink_state.c.sink == sink)
        ).one_or_none()
    if row is None:
        return None
    return SinkState(
        sink=row.sink,
        kind=row.kind,
        content_hash=row.content_hash,
        link_hash=row.link_hash,
        rows=int(row.rows),
        pushed_at=row.pushed_at,
        detail=json.loads(row.detail) if row.detail else {},
    )


def record_push(engine: Engine, state: SinkState, audit: AuditEntry) -> None:
    """Remember `state` as the sink's last push and audit it, in one transaction."""
    with engine.connect() as conn, begin_write(conn):
        upsert(
            conn,
            sink_state,
            [
                {
                    "sink": state.sink,
                    "kind": state.kind,
                    "content_hash": state.content_hash,
                    "link_hash": state.link_hash,
                    "rows": state.rows,
                    "pushed_at": state.pushed_at,
                    "detail": _json(state.detail),
                }
            ],
            key=["sink"],
        )
        conn.execute(
            insert(audit_log).values(
                at=state.pushed_at,
                actor=audit.actor,
                action=audit.action,
                target=audit.target,
                detail=_json(audit.detail),
                remote_addr=audit.remote_addr,
            )
        )


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
