"""`stockbridge serve`: every source's streams on their schedules (APScheduler 3.11).

APScheduler is imported here and nowhere else. Each stream is one job with
`max_instances=1` and `coalesce=True`, so a slow run is never doubled up and
missed firings collapse into one; the store's lease keeps the same promise
across processes. Back-off after repeated failures is computed from the run
history in the store, not from memory, so every worker sharing the store
agrees on it and a restart does not forget it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, desc, select

from stockbridge.alerts.service import deliver_pending, evaluate_and_deliver
from stockbridge.config.models import Settings
from stockbridge.connectors.base import Stream
from stockbridge.store.leases import LeaseHeldError
from stockbridge.store.schema import sync_runs
from stockbridge.sync.reconcile import reconcile
from stockbridge.sync.runner import STREAM_ORDER, sync_stream
from stockbridge.sync.setup import build_connector

__all__ = ["BackoffPolicy", "SyncService", "backoff_until"]

log = logging.getLogger("stockbridge.serve")

ALERT_DELIVERY_SECONDS = 20
"""How often queued alerts are retried between syncs."""


class BackoffPolicy:
    """After `after` failures in a row, wait `base`·2ⁿ (at most `cap`) before the next try."""

    def __init__(
        self,
        after: int = 3,
        base: timedelta = timedelta(minutes=1),
        cap: timedelta = timedelta(hours=1),
    ) -> None:
        self.after = after
        self.base = base
        self.cap = cap


def backoff_until(
    engine: Engine, source: str, stream: str, policy: BackoffPolicy
) -> datetime | None:
    """When this stream may run again after repeated failures, or None if now."""
    with engine.connect() as conn:
        recent = conn.execute(
            select(sync_runs.c.status, sync_runs.c.finished_at)
            .where(
                sync_runs.c.source == source,
                sync_runs.c.stream == stream,
                sync_runs.c.status != "running",
            )
            .order_by(desc(sync_runs.c.id))
            .limit(policy.after + 12)
        ).all()
    failures = 0
    for row in recent:
        if row.status != "failed":
            break
        failures += 1
    if failures < policy.after or not recent:
        return None
    wait = min(policy.base * 2 ** (failures - policy.after), policy.cap)
    until: datetime = recent[0].finished_at + wait
    return until


class SyncService:
    """The scheduled syncs of one config against one store."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        backoff: BackoffPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        workers: int = 4,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.backoff = backoff or BackoffPolicy()
        self.clock = clock
        self.stop = threading.Event()
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": 300,
            },
            timezone=settings.timezone,
        )
        for source, config in settings.sources.items():
            if not config.enabled:
                continue
            with build_connector(settings, source) as connector:
                offered = connector.offered_streams()
            for stream in STREAM_ORDER:
                schedule = config.schedule.for_stream(stream.value)
                if stream not in offered or schedule is None:
                    continue
                trigger = (
                    CronTrigger.from_crontab(schedule.cron, timezone=settings.timezone)
                    if schedule.cron
                    else IntervalTrigger(
                        seconds=(schedule.every or timedelta(hours=1)).total_seconds()
                    )
                )
                self.scheduler.add_job(
                    self.run_once,
                    trigger,
                    args=(source, stream),
                    id=f"{source}:{stream.value}",
                    name=f"sync {source}/{stream.value}",
                    next_run_time=datetime.now(UTC),
                )

        if settings.alerts.channels:
            self.scheduler.add_job(
                self.deliver_alerts,
                IntervalTrigger(seconds=ALERT_DELIVERY_SECONDS),
                id="alerts:deliver",
                name="deliver queued alerts",
            )

    def jobs(self) -> list[str]:
        """The scheduled job ids, `source:stream`."""
        return [job.id for job in self.scheduler.get_jobs()]

    def run_once(self, source: str, stream: Stream) -> None:
        """One scheduled firing: respect back-off and the lease, then sync."""
        if self.stop.is_set():
            return
        until = backoff_until(self.engine, source, stream.value, self.backoff)
        if until is not None and until > self.clock():
            log.warning(
                "%s/%s is backing off after repeated failures until %s",
                source,
                stream.value,
                until.isoformat(),
                extra={"source": source, "stream": stream.value},
            )
            return
        try:
            run = sync_stream(
                self.engine,
                self.settings,
                source,
                stream,
                clock=self.clock,
                stop=self.stop,
            )
        except LeaseHeldError as error:
            log.info(
                "skipped %s/%s: %s",
                source,
                stream.value,
                error,
                extra={"source": source, "stream": stream.value},
            )
            return
        if stream is Stream.STOCK and run.status == "succeeded":
            reconcile(self.engine, self.settings, clock=self.clock)
        if self.settings.alerts.rules:
            evaluate_and_deliver(self.engine, self.settings, clock=self.clock)

    def deliver_alerts(self) -> None:
        """Send queued alerts that a rate limit or an outage held back."""
        deliver_pending(self.engine, self.settings, clock=self.clock)

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        """Stop firing, let runs in flight end after their current batch, and wait."""
        self.stop.set()
        self.scheduler.shutdown(wait=True)
