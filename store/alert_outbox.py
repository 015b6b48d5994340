"""Alert state and the delivery outbox: what fired, and what is still to send.

An evaluation writes the new alert states and the messages they cause in
one transaction (`write_evaluation`), so a crash leaves either both or
neither: a message is never lost after its alert was recorded as notified,
and never sent for a state that was rolled back. Delivery then reads the
outbox in id order per channel, and records every attempt with its outcome
in `alert_attempts`, which the rate limiter counts.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    desc,
    func,
    insert,
    select,
    update,
)

from stockbridge.store.engine import begin_write
from stockbridge.store.schema import alert_attempts, alert_outbox, alert_state
from stockbridge.store.upsert import upsert

_PG_EVALUATION_LOCK = zlib.crc32(b"stockbridge.alerts.evaluate")

__all__ = [
    "AlertStateRow",
    "EvaluationWrite",
    "OutboxRow",
    "QueuedMessage",
    "attempt_times",
    "enqueue_one",
    "evaluation_transaction",
    "firing_states",
    "list_outbox",
    "next_queued",
    "outbox_counts",
    "queued_channels",
    "record_attempt",
    "write_evaluation",
]


@dataclass(frozen=True, slots=True)
class AlertStateRow:
    dedup_key: str
    rule: str
    fired_at: datetime
    last_notified_at: datetime | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A message to write: to `channel`, about the alerts `dedup_key` names."""

    channel: str
    dedup_key: str
    payload: str


@dataclass(slots=True)
class EvaluationWrite:
    """Everything one evaluation changes, written in one transaction."""

    fired: list[dict[str, Any]] = field(default_factory=list)
    """New or re-opened alerts: dedup_key, rule, detail (a dict)."""
    seen: list[str] = field(default_factory=list)
    """Still firing, not notified now."""
    reminded: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Still firing and notified again now: dedup_key, current detail."""
    resolved: list[str] = field(default_factory=list)
    messages: list[QueuedMessage] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    channel: str
    dedup_key: str
    payload: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None


def firing_states(conn: Connection) -> dict[str, AlertStateRow]:
    """Every alert currently firing, by dedup key."""
    rows = conn.execute(select(alert_state).where(alert_state.c.status == "firing"))
    return {
        row.dedup_key: AlertStateRow(
            dedup_key=row.dedup_key,
            rule=row.rule,
            fired_at=row.fired_at,
            last_notified_at=row.last_notified_at,
            detail=json.loads(row.detail),
        )
        for row in rows
    }


@contextmanager
def evaluation_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction for reading alert state and writing its changes.

    Evaluations run one at a time (SQLite: the write lock from BEGIN; on
    PostgreSQL: a transaction-scoped advisory lock), so two syncs finishing
    together cannot both see an alert as new and both announce it.
    """
    with engine.connect() as conn, begin_write(conn):
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_PG_EVALUATION_LOCK)))
        yield conn


def write_evaluation(
    conn: Connection, write: EvaluationWrite, *, now: datetime
) -> None:
    """Apply one evaluation's state changes and queue its messages.

    Call inside `evaluation_transaction`: states and messages commit together.
    """
    upsert(
        conn,
        alert_state,
        [
            {
                "dedup_key": alert["dedup_key"],
                "rule": alert["rule"],
                "status": "firing",
                "fired_at": now,
                "last_seen_at": now,
                "last_notified_at": now,
                "resolved_at": None,
                "detail": json.dumps(alert["detail"], ensure_ascii=False),
            }
            for alert in write.fired
        ],
        ("dedup_key",),
    )
    if write.seen:
        conn.execute(
            update(alert_state)
            .where(alert_state.c.dedup_key.in_(write.seen))
            .values(last_seen_at=now)
        )
    for key, detail in write.reminded:
        conn.execute(
            update(alert_state)
            .where(alert_state.c.dedup_key == key)
            .values(
                last_seen_at=now,
                last_notified_at=now,
                detail=json.dumps(detail, ensure_ascii=False),
            )
        )
    if write.resolved:
        conn.execute(
            update(alert_state)
            .where(alert_state.c.dedup_key.in_(write.resolved))
            .values(status="resolved", resolved_at=now)
        )
    if write.messages:
        conn.execute(
            insert(alert_outbox),
            [
                {
                    "channel": message.channel,
                    "dedup_key": message.dedup_key,
                    "payload": message.payload,
                    "status": "queued",
                    "created_at": now,
                }
                for message in write.messages
            ],
        )


def enqueue_one(engine: Engine, message: QueuedMessage, *, now: datetime) -> OutboxRow:
    """Queue a message outside an evaluation (`alerts test`), and return it."""
    with engine.connect() as conn, begin_write(conn):
        row = conn.execute(
            insert(alert_outbox)
            .values(
                channel=message.channel,
                dedup_key=message.dedup_key,
                payload=message.payload,
                status="queued",
                created_at=now,
            )
            .returning(*alert_outbox.c)
        ).one()
    return _outbox_row(row._mapping)


def queued_channels(engine: Engine) -> list[str]:
    """Channels with messages still queued."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(alert_outbox.c.channel)
                .where(alert_outbox.c.status == "queued")
                .distinct()
                .order_by(alert_outbox.c.channel)
            ).scalars()
        )


def next_queued(engine: Engine, channel: str) -> OutboxRow | None:
    """The oldest queued message of `channel`: a channel delivers in order."""
    with engine.connect() as conn:
        row = conn.execute(
            select(alert_outbox)
            .where(alert_outbox.c.channel == channel, alert_outbox.c.status == "queued")
            .order_by(alert_outbox.c.id)
            .limit(1)
        ).first()
    return None if row is None else _outbox_row(row._mapping)


def attempt_times(engine: Engine, channel: str, since: datetime) -> list[datetime]:
    """When `channel`'s delivery attempts were made after `since`, oldest first."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(alert_attempts.c.attempted_at)
                .where(
                    alert_attempts.c.channel == channel,
                    alert_attempts.c.attempted_at > since,
                )
                .order_by(alert_attempts.c.attempted_at)
            ).scalars()
        )


def record_attempt(
    engine: Engine,
    message: OutboxRow,
    *,
    now: datetime,
    outcome: str,
    detail: str,
    status: str,
    next_attempt_at: datetime | None,
) -> None:
    """Log one attempt and move the message to its new status, together."""
    with engine.connect() as conn, begin_write(conn):
        conn.execute(
            insert(alert_attempts).values(
                outbox_id=message.id,
                channel=message.channel,
                attempted_at=now,
                outcome=outcome,
                detail=detail,
            )
        )
        conn.execute(
            update(alert_outbox)
            .where(alert_outbox.c.id == message.id)
            .values(
                status=status,
                attempts=alert_outbox.c.attempts + 1,
                last_error=None if status == "sent" else detail,
                next_attempt_at=next_attempt_at,
                sent_at=now if status == "sent" else None,
            )
        )


def list_outbox(
    engine: Engine,
    *,
    status: str | None = None,
    channel: str | None = None,
    limit: int | None = 100,
) -> list[OutboxRow]:
    """Outbox messages, newest first."""
    query = select(alert_outbox).order_by(desc(alert_outbox.c.id))
    if status:
        query = query.where(alert_outbox.c.status == status)
    if channel:
        query = query.where(alert_outbox.c.channel == channel)
    if limit:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [_outbox_row(row._mapping) for row in conn.execute(query)]


def outbox_counts(engine: Engine) -> dict[tuple[str, str], int]:
    """How many messages each channel has in each status."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                alert_outbox.c.channel, alert_outbox.c.status, func.count()
            ).group_by(alert_outbox.c.channel, alert_outbox.c.status)
        ).all()
    return {(channel, status): int(count) for channel, status, count in rows}


def _outbox_row(m: RowMapping) -> OutboxRow:
    return OutboxRow(
        id=int(m["id"]),
        channel=m["channel"],
        dedup_key=m["dedup_key"],
        payload=m["payload"],
        status=m["status"],
        attempts=int(m["attempts"]),
        last_error=m["last_error"],
        created_at=m["created_at"],
        next_attempt_at=m["next_attempt_at"],
        sent_at=m["sent_at"],
    )
