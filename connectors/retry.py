"""Retry policy for connectors: tenacity, on transient faults only.

Exponential backoff with jitter; a system's own `Retry-After` wins over the
backoff (capped). Auth, protocol and config errors are never retried: a
wrong password retried five times locks the account. Sleep is injectable so
tests run without waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from stockbridge.connectors.errors import TransientError

__all__ = ["RetryPolicy", "call_with_retry"]

T = TypeVar("T")
log = logging.getLogger("stockbridge.connectors")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before a transient fault becomes the run's error."""

    attempts: int = 6
    initial_wait: float = 0.2
    max_wait: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 120.0


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn`, retrying `TransientError` by `policy`; re-raise the last error."""
    backoff = wait_exponential_jitter(
        multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, policy.max_retry_after)
        seconds: float = backoff(state)
        return seconds

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s failed (attempt %d of %d), retrying: %s",
            what,
            state.attempt_number,
            policy.attempts,
            exc,
        )

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception_type(TransientError),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn)
