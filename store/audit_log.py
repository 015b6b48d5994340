"""The audit log of state-changing actions: who, what, when, from where.

Written in the same process that did the action, right after it; the
detail is JSON text of what was asked (never a secret: a created token's
text is not in it, only its id and role).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, desc, func, insert, select

from stockbridge.store.schema import audit_log

__all__ = ["count_audit", "list_audit", "record_audit"]


def record_audit(
    engine: Engine,
    *,
    actor: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    remote_addr: str | None = None,
    now: datetime,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(audit_log).values(
                at=now,
                actor=actor,
                action=action,
                target=target,
                detail=None
                if detail is None
                else json.dumps(detail, ensure_ascii=False, sort_keys=True),
                remote_addr=remote_addr,
            )
        )


def list_audit(
    engine: Engine, *, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(audit_log).order_by(desc(audit_log.c.id)).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def count_audit(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        )
