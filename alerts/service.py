"""Entry points: evaluate after a sync, deliver what is due, send a test.

`evaluate_and_deliver` is what the sync command and the scheduler call
after each run: it evaluates every rule and writes alert states and their
messages in one transaction, then makes one delivery pass that never
waits. Whatever a rate limit or an outage holds back stays queued for the
next pass (`deliver_pending`, the scheduler's periodic job, or
`stockbridge alerts run`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from stockbridge.alerts.channel_base import Verdict
from stockbridge.alerts.delivery import DeliveryPass, DeliveryWorker
from stockbridge.alerts.lifecycle import plan_evaluation
from stockbridge.alerts.notices import Notice, NoticeItem
from stockbridge.alerts.rules import evaluate_rules
from stockbridge.alerts.settings import AlertSetup, load_alert_setup
from stockbridge.config.models import Settings
from stockbridge.store.alert_outbox import (
    QueuedMessage,
    enqueue_one,
    evaluation_transaction,
    firing_states,
    write_evaluation,
)

__all__ = [
    "EvaluationSummary",
    "deliver_pending",
    "evaluate_alerts",
    "evaluate_and_deliver",
    "send_test",
]

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class EvaluationSummary:
    fired: int
    reminded: int
    resolved: int
    firing: int
    messages: int


def evaluate_alerts(
    engine: Engine, setup: AlertSetup, settings: Settings, *, now: datetime
) -> EvaluationSummary:
    """Evaluate every rule; write states and queue messages in one transaction."""
    with evaluation_transaction(engine) as conn:
        firing = firing_states(conn)
        evaluation = evaluate_rules(conn, setup.rules, settings, firing, now=now)
        write = plan_evaluation(evaluation, firing, setup.rules, now=now)
        write_evaluation(conn, write, now=now)
    return EvaluationSummary(
        fired=len(write.fired),
        reminded=len(write.reminded),
        resolved=len(write.resolved),
        firing=len(write.fired) + len(write.reminded) + len(write.seen),
        messages=len(write.messages),
    )


def evaluate_and_deliver(
    engine: Engine, settings: Settings, *, clock: Clock
) -> tuple[EvaluationSummary, DeliveryPass]:
    """After a sync: evaluate the rules, then one delivery pass without waiting.

    Raises:
        ConfigError: the `alerts:` section is invalid.
    """
    setup = load_alert_setup(settings)
    summary = evaluate_alerts(engine, setup, settings, now=clock())
    return summary, DeliveryWorker(engine, setup, clock=clock).deliver_due()


def deliver_pending(
    engine: Engine,
    settings: Settings,
    *,
    clock: Clock,
    sleep: Callable[[float], None] = time.sleep,
    within: timedelta = timedelta(0),
) -> DeliveryPass:
    """Deliver queued messages; keep at it for `within` (0: one pass)."""
    worker = DeliveryWorker(
        engine, load_alert_setup(settings), clock=clock, sleep=sleep
    )
    if within <= timedelta(0):
        return worker.deliver_due()
    return worker.drain(within=within)


def send_test(
    engine: Engine,
    settings: Settings,
    channel: str,
    *,
    clock: Clock,
    sleep: Callable[[float], None] = time.sleep,
) -> Verdict:
    """Send a sample message to `channel` now and return the tool's verdict.

    The message goes through the outbox, so it counts towards the channel's
    rate limit and shows in `stockbridge alerts list`.

    Raises:
        KeyError: no channel of that name is configured.
    """
    setup = load_alert_setup(settings)
    if channel not in setup.channels:
        raise KeyError(channel)
    now = clock()
    item = NoticeItem(
        dedup_key=f"test|{channel}",
        event="firing",
        rule="test",
        kind="test",
        severity="info",
        subject={"channel": channel},
        figures={"available": "3", "safety_stock": "10", "unit": "H87"},
        since=now,
    )
    notice = Notice(message_id=str(uuid.uuid4()), items=(item,))
    message = enqueue_one(
        engine,
        QueuedMessage(channel, item.dedup_key, notice.to_text()),
        now=now,
    )
    worker = DeliveryWorker(engine, setup, clock=clock, sleep=sleep)
    return worker.deliver_now(message, max_wait=timedelta(minutes=1))
