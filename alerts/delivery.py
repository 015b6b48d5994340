"""The delivery worker: outbox messages to their chat tools, each once, in order.

Per channel, the oldest queued message goes first and the others wait
behind it, so a tool that is down or throttling gets one request per
backoff step rather than a flood, and messages arrive in the order they
were written. Each attempt and its outcome is recorded in the same
transaction as the message's new status. The retry schedule is tenacity's
exponential wait, applied to the attempt count stored with the message, so
it survives restarts and is shared by every worker; a lease per channel
keeps two workers from sending the same message.

A process killed after the tool accepted a message but before the store
recorded it sends it again on restart: delivery is at-least-once at that
instant, and the message id (DingTalk `msgUuid`, the `webhook-id` header)
lets a tool that deduplicates drop the repeat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from sqlalchemy import Engine
from tenacity import RetryCallState, Retrying, wait_exponential

from stockbridge.alerts.channel_base import Channel, Outcome, Verdict
from stockbridge.alerts.messages import render_notice
from stockbridge.alerts.notices import Notice
from stockbridge.alerts.rate_limit import history_needed, wait_for_slot
from stockbridge.alerts.settings import AlertSetup
from stockbridge.store.alert_outbox import (
    OutboxRow,
    attempt_times,
    next_queued,
    queued_channels,
    record_attempt,
)
from stockbridge.store.leases import LeaseHeldError, acquire_lease, new_holder

__all__ = ["DeliveryPass", "DeliveryWorker", "RetrySchedule"]

log = logging.getLogger("stockbridge.alerts")

Clock = Callable[[], datetime]
LEASE_TTL = timedelta(minutes=5)
LEASE_BUSY_WAIT = timedelta(seconds=5)
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Exponential backoff between attempts of one message, and when to give up."""

    first: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=10)
    give_up_after: timedelta = timedelta(days=1)

    def wait_after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: first·2ⁿ⁻¹, capped."""
        wait = wait_exponential(
            multiplier=self.first.total_seconds(), max=self.cap.total_seconds()
        )
        state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = attempts
        return timedelta(seconds=wait(state))


@dataclass(slots=True)
class DeliveryPass:
    """What a pass (or a drain) did, and when something is next due."""

    sent: int = 0
    retried: int = 0
    throttled: int = 0
    failed: int = 0
    next_due: datetime | None = None
    verdicts: list[tuple[str, Verdict]] = field(default_factory=list)

    def due_at(self, moment: datetime) -> None:
        if self.next_due is None or moment < self.next_due:
            self.next_due = moment

    def add(self, other: DeliveryPass) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.throttled += other.throttled
        self.failed += other.failed
        self.verdicts.extend(other.verdicts)
        self.next_due = other.next_due


class DeliveryWorker:
    """Delivers the outbox of one store through the configured channels."""

    def __init__(
        self,
        engine: Engine,
        setup: AlertSetup,
        *,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        schedule: RetrySchedule | None = None,
    ) -> None:
        self.engine = engine
        self.setup = setup
        self.clock = clock
        self.sleep = sleep
        self.schedule = schedule or RetrySchedule()
        self.holder = new_holder()

    def deliver_due(self) -> DeliveryPass:
        """One pass: every channel sends what is due and its limit allows."""
        result = DeliveryPass()
        with requests.Session() as session:
            for channel in queued_channels(self.engine):
                self._deliver_channel(channel, session, result)
        return result

    def drain(self, *, within: timedelta) -> DeliveryPass:
        """Deliver until nothing is queued or `within` has passed, sleeping between."""
        deadline = self.clock() + within
        total = DeliveryPass()
        while True:
            result = self.deliver_due()
            total.add(result)
            now = self.clock()
            if result.next_due is None or now >= deadline:
                return total
            pause = min(result.next_due, deadline) - now
            self.sleep(max(pause.total_seconds(), 0.0))

    def deliver_now(self, message: OutboxRow, *, max_wait: timedelta) -> Verdict:
        """Send `message` at once, ahead of its channel's queue: `alerts test`.

        Waits (at most `max_wait`) for the channel's rate limit; a message
        that is not accepted is marked failed, not retried.
        """
        channel = self.setup.channels[message.channel]
        now = self.clock()
        limits = channel.rate_limits
        recent = attempt_times(self.engine, channel.name, now - history_needed(limits))
        wait = wait_for_slot(recent, limits, now=now)
        if wait > max_wait:
            verdict = Verdict(
                Outcome.FAILED,
                f"not sent: the channel's rate limit allows the next message in "
                f"{wait.total_seconds():.0f} s",
            )
        else:
            if wait > timedelta(0):
                self.sleep(wait.total_seconds())
            now = self.clock()
            with requests.Session() as session:
                verdict = self.send(
                    channel, Notice.from_text(message.payload), session, now
                )
        final = Verdict(
            Outcome.SENT if verdict.outcome is Outcome.SENT else Outcome.FAILED,
            verdict.detail,
        )
        self._record(message, final, now, DeliveryPass())
        return verdict

    def _deliver_channel(
        self, name: str, session: requests.Session, result: DeliveryPass
    ) -> None:
        try:
            lease = acquire_lease(
                self.engine,
                f"alerts-channel:{name}",
                holder=self.holder,
                ttl=LEASE_TTL,
                now=self.clock(),
            )
        except LeaseHeldError:
            result.due_at(self.clock() + LEASE_BUSY_WAIT)
            return
        try:
            while (message := next_queued(self.engine, name)) is not None:
                if not self._deliver_one(message, session, result):
                    return
                lease.renew(self.clock())
        finally:
            lease.release()

    def _deliver_one(
        self, message: OutboxRow, session: requests.Session, result: DeliveryPass
    ) -> bool:
        """Try `message` if it is due; False when the channel must wait."""
        now = self.clock()
        channel = self.setup.channels.get(message.channel)
        if channel is None:
            verdict = Verdict(
                Outcome.FAILED, f"channel {message.channel!r} is no longer configured"
            )
            self._record(message, verdict, now, result)
            return True
        if message.next_attempt_at is not None and message.next_attempt_at > now:
            result.due_at(message.next_attempt_at)
            return False
        limits = channel.rate_limits
        recent = attempt_times(self.engine, channel.name, now - history_needed(limits))
        wait = wait_for_slot(recent, limits, now=now)
        if wait > timedelta(0):
            result.due_at(now + wait)
            return False
        verdict = self.send(channel, Notice.from_text(message.payload), session, now)
        self._record(message, verdict, now, result)
        # A message that is done lets the next one go; one that waits holds
        # the channel, so its successors stay in order behind it.
        return verdict.outcome in {Outcome.SENT, Outcome.FAILED}

    def send(
        self, channel: Channel, notice: Notice, session: requests.Session, now: datetime
    ) -> Verdict:
        """Format, sign and post `notice` once; the tool's verdict."""
        rendered = render_notice(
            notice,
            lang=self.setup.lang_of(channel.name),
            public_url=self.setup.public_url,
            timezone=self.setup.timezone,
        )
        request = channel.build(rendered, message_id=notice.message_id, now=now)
        try:
            response = session.post(
                request.url,
                data=request.body,
                headers=request.headers,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                allow_redirects=False,
            )
        except requests.Timeout:
            return Verdict(Outcome.RETRY, "timed out")
        except requests.ConnectionError:
            return Verdict(Outcome.RETRY, "could not connect")
        except requests.RequestException as error:
            # The message of a requests error holds the URL, a secret.
            return Verdict(Outcome.RETRY, f"request failed ({type(error).__name__})")
        with response:
            return channel.judge(
                response.status_code, response.headers, response.content
            )

    def _record(
        self, message: OutboxRow, verdict: Verdict, now: datetime, result: DeliveryPass
    ) -> None:
        attempts = message.attempts + 1
        status, next_attempt = "queued", None
        detail = verdict.detail
        if verdict.outcome is Outcome.SENT:
            status = "sent"
            result.sent += 1
        elif verdict.outcome is Outcome.FAILED:
            status = "failed"
            result.failed += 1
        elif now - message.created_at >= self.schedule.give_up_after:
            status = "failed"
            detail = f"gave up after {attempts} attempts: {verdict.detail}"
            result.failed += 1
        else:
            if verdict.outcome is Outcome.THROTTLED:
                wait = verdict.wait or self.schedule.wait_after(attempts)
                result.throttled += 1
            else:
                wait = self.schedule.wait_after(attempts)
                result.retried += 1
            next_attempt = now + wait
            result.due_at(next_attempt)
        record_attempt(
            self.engine,
            message,
            now=now,
            outcome=verdict.outcome.value,
            detail=detail,
            status=status,
            next_attempt_at=next_attempt,
        )
        result.verdicts.append((message.channel, verdict))
        log.info(
            "alert message %d to %s: %s (%s)",
            message.id,
            message.channel,
            verdict.outcome.value,
            detail,
            extra={"channel": message.channel, "outbox_id": message.id},
        )
