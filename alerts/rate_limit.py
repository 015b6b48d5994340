"""Keeping each chat tool's rate limit, counted from the store.

The limiter counts the channel's delivery attempts recorded in the store
(`alert_attempts`), not requests remembered by this process: every worker
and every short-lived `stockbridge sync` sharing the store then keeps the
same limit, and a restart does not forget the last minute. The window is
slid, which is stricter than a tool that counts per calendar minute, and a
margin of 5 % of the window absorbs network jitter between our send and
the tool's receive; exceeding DingTalk's limit costs a 10-minute block.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from stockbridge.alerts.channel_base import RateLimit

__all__ = ["history_needed", "wait_for_slot"]

MARGIN_FRACTION = 20
"""The margin is the window divided by this."""


def _span(limit: RateLimit) -> timedelta:
    return limit.per + limit.per / MARGIN_FRACTION


def history_needed(limits: Sequence[RateLimit]) -> timedelta:
    """How far back attempts must be read to apply `limits`."""
    return max((_span(limit) for limit in limits), default=timedelta(0))


def wait_for_slot(
    attempts: Sequence[datetime], limits: Sequence[RateLimit], *, now: datetime
) -> timedelta:
    """How long to wait before one more attempt keeps every limit (0: now).

    `attempts` are the channel's attempt times, oldest first.
    """
    wait = timedelta(0)
    for limit in limits:
        span = _span(limit)
        recent = [moment for moment in attempts if moment > now - span]
        if len(recent) >= limit.count:
            free_at = recent[len(recent) - limit.count] + span
            wait = max(wait, free_at - now)
    return wait
