"""Leases: one run per stream at a time, across processes and machines.

A lease is a row naming its holder and an expiry; the holder renews it with
every committed batch. Another process may take it over once it has
expired, or at once when the holder is a process on this same machine that
no longer exists (a `kill -9` must not block the next run for a whole TTL).
The row lives in the store, so every worker that shares the store sees it.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update

from stockbridge.store.engine import begin_write
from stockbridge.store.schema import leases
from stockbridge.store.upsert import upsert

__all__ = ["Lease", "LeaseHeldError", "acquire_lease", "new_holder"]


class LeaseHeldError(RuntimeError):
    """Another live process holds the lease."""


def new_holder() -> str:
    """A holder id: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_is_dead(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Lease:
    """A held lease; renew it while working, release it when done."""

    engine: Engine
    name: str
    holder: str
    ttl: timedelta

    def renew(self, now: datetime) -> None:
        """Push the expiry forward; fails if the lease was taken over meanwhile."""
        with self.engine.connect() as conn, begin_write(conn):
            result = conn.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == self.holder)
                .values(expires_at=now + self.ttl)
            )
            if result.rowcount != 1:
                msg = f"lease {self.name!r} was taken over by another process"
                raise LeaseHeldError(msg)

    def release(self) -> None:
        with self.engine.connect() as conn, begin_write(conn):
            conn.execute(
                delete(leases).where(
                    leases.c.name == self.name, leases.c.holder == self.holder
                )
            )


def acquire_lease(
    engine: Engine, name: str, *, holder: str, ttl: timedelta, now: datetime
) -> Lease:
    """Take the lease `name`, or raise `LeaseHeldError` naming who holds it."""
    with engine.connect() as conn, begin_write(conn):
        row = conn.execute(
            select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)
        ).one_or_none()
        if (
            row is not None
            and row.holder != holder
            and row.expires_at > now
            and not _holder_is_dead(row.holder)
        ):
            msg = (
                f"{name} is already running in {row.holder} "
                f"(lease expires {row.expires_at.isoformat()})"
            )
            raise LeaseHeldError(msg)
        upsert(
            conn,
            leases,
            [
                {
                    "name": name,
                    "holder": holder,
                    "acquired_at": now,
                    "expires_at": now + ttl,
                }
            ],
            ("name",),
        )
    return Lease(engine, name, holder, ttl)
