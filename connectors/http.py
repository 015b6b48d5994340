"""The HTTP layer every HTTP/SOAP connector talks through.

One `requests.Session` per source (keep-alive), a timeout on every call, a
per-source rate budget, and one place that turns what came back into the
error hierarchy: connection faults, timeouts, 5xx, 429 and cut-off bodies are
transient (retried by `connectors.retry`); 401/403 are auth errors; other
4xx are protocol errors carrying the system's own words. Every message is
passed through the source's `Redactor`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    TransientError,
)
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy, call_with_retry

__all__ = ["HttpClient", "RateLimiter", "parse_json", "retry_after_seconds"]

_EXCERPT = 500


class RateLimiter:
    """A token bucket: at most `per_second` calls on average, bursts of `burst`."""

    def __init__(
        self,
        per_second: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = per_second
        self._burst: float = burst
        self._tokens: float = burst
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait until a call is within budget, then spend one token."""
        with self._lock:
            now = self._clock()
            self._tokens = min(
                self._burst, self._tokens + (now - self._last) * self._rate
            )
            self._last = now
            if self._tokens < 1:
                wait = (1 - self._tokens) / self._rate
                self._sleep(wait)
                self._last = self._clock()
                self._tokens = 0.0
            else:
                self._tokens -= 1


def parse_json(text: str) -> Any:
    """JSON with every non-integer number as an exact `Decimal`, never a float."""
    return json.loads(text, parse_float=Decimal)


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) as seconds to wait, or None."""
    if not value:
        return None
    try:
        return max(0.0, int(value))  # delay-seconds is whole seconds (RFC 9110)
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class HttpClient:
    """Calls one source's HTTP API with timeouts, retries, rate budget and redaction."""

    def __init__(
        self,
        *,
        source: str,
        redactor: Redactor,
        timeout: tuple[float, float] = (5.0, 60.0),
        retry: RetryPolicy | None = None,
        rate_per_second: float | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.redactor = redactor
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self._sleep = sleep
        self._limiter = (
            RateLimiter(rate_per_second, sleep=sleep) if rate_per_second else None
        )

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        ok: Callable[[requests.Response], bool] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One call, retried on transient faults; returns a response judged ok.

        `ok` lets a caller accept statuses it handles itself (say a 403 that
        asks for a CSRF token); by default 2xx is ok and the rest is raised.
        """

        def attempt() -> requests.Response:
            return self._attempt(method, url, ok, kwargs)

        return call_with_retry(
            attempt,
            self.retry,
            what=f"[{self.source}] {method} {self._safe(url)}",
            sleep=self._sleep,
        )

    def json(self, method: str, url: str, **kwargs: Any) -> Any:
        """A call whose body must be JSON; a cut-off body counts as transient."""

        def attempt() -> Any:
            response = self._attempt(method, url, None, kwargs)
            try:
                return parse_json(response.text)
            except ValueError as exc:
                msg = (
                    f"{method} {self._safe(url)} answered {response.status_code} "
                    f"with a body that is not complete JSON ({exc}): "
                    f"{self._excerpt(response.text)}"
                )
                raise TransientError(msg, source=self.source) from exc

        return call_with_retry(
            attempt,
            self.retry,
            what=f"[{self.source}] {method} {self._safe(url)}",
            sleep=self._sleep,
        )

    def _attempt(
        self,
        method: str,
        url: str,
        ok: Callable[[requests.Response], bool] | None,
        kwargs: Mapping[str, Any],
    ) -> requests.Response:
        if self._limiter:
            self._limiter.acquire()
        try:
            response = self.session.request(
                method, url, timeout=self.timeout, **dict(kwargs)
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            msg = f"{method} {self._safe(url)} failed: {self._safe(str(exc))}"
            raise TransientError(msg, source=self.source) from None
        except requests.exceptions.ChunkedEncodingError as exc:
            msg = f"{method} {self._safe(url)}: connection dropped mid-body ({exc})"
            raise TransientError(msg, source=self.source) from None
        if ok is not None and ok(response):
            return response
        status = response.status_code
        if ok is None and 200 <= status < 300:
            return response
        what = f"{method} {self._safe(url)} answered {status}"
        body = self._excerpt(response.text)
        if status == 429:
            raise TransientError(
                f"{what} (too many requests): {body}",
                source=self.source,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 500 or status in (408, 425):
            raise TransientError(f"{what}: {body}", source=self.source)
        if status in (401, 403):
            raise AuthError(f"{what} (credentials refused): {body}", source=self.source)
        raise ProtocolError(f"{what}: {body}", source=self.source)

    def _safe(self, text: str) -> str:
        return self.redactor.redact(text)

    def _excerpt(self, text: str) -> str:
        text = " ".join(text.split())
        if len(text) > _EXCERPT:
            text = text[:_EXCERPT] + "…"
        return self._safe(text)
