"""What every chat channel is: it builds a signed request and judges the reply.

A channel module knows one tool: its message format, its size limits, its
signing, its rate limits, and how it says "no" (DingTalk, WeCom and Feishu
answer HTTP 200 with an error code in the body, so the body decides). The
delivery worker does the sending, the retries and the bookkeeping; a
channel does no I/O, so its output can be checked byte for byte.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import SecretStr

from stockbridge.alerts.messages import Lang, RenderedNotice
from stockbridge.alerts.notices import SEVERITY_RANK
from stockbridge.config.model_base import StrictModel

__all__ = [
    "DEFAULT_THROTTLE_WAIT",
    "Channel",
    "ChannelOptions",
    "Outcome",
    "OutgoingRequest",
    "RateLimit",
    "Verdict",
    "compact_json",
    "http_verdict",
    "json_body",
    "retry_after",
    "short_text",
]

DEFAULT_THROTTLE_WAIT = timedelta(seconds=30)


class Outcome(StrEnum):
    """How a delivery attempt ended, as the worker must react to it."""

    SENT = "sent"
    RETRY = "retry"
    """A transient fault (tool down, busy, 5xx): try again after a backoff."""
    THROTTLED = "throttled"
    """The tool's rate limit: wait as long as the tool says, then try again."""
    FAILED = "failed"
    """The tool refused for good (bad signature, keyword, removed robot)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    detail: str
    """The tool's own words, e.g. `errcode 310000: sign not match`."""
    wait: timedelta | None = None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `count` messages per `per`, as the tool counts them."""

    count: int
    per: timedelta


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """One POST, ready to send: the URL carries secrets and is never logged."""

    url: str
    body: bytes
    headers: dict[str, str]


class ChannelOptions(StrictModel):
    """Keys every channel has; each kind adds its own."""

    url: SecretStr
    secret: SecretStr | None = None
    lang: Lang | None = None
    """The language of this channel's messages; default: `alerts.lang`."""
    mention_severity: Literal["info", "warning", "critical", "never"] = "critical"
    """Mention the configured people in messages at least this severe."""


class Channel(ABC):
    """A configured chat destination of one kind."""

    kind: ClassVar[str]
    options_model: ClassVar[type[ChannelOptions]]

    def __init__(self, name: str, options: ChannelOptions) -> None:
        self.name = name
        self.options = options

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:
        """The tool's limits for one robot/webhook."""
        return ()

    def mentions_wanted(self, notice: RenderedNotice) -> bool:
        """Whether this message is severe enough to mention people."""
        threshold = self.options.mention_severity
        if threshold == "never":
            return False
        firing = [item for item in notice.items if item.event != "resolved"]
        return any(
            SEVERITY_RANK[item.severity] >= SEVERITY_RANK[threshold] for item in firing
        )

    @abstractmethod
    def build(
        self, notice: RenderedNotice, *, message_id: str, now: datetime
    ) -> OutgoingRequest:
        """The request that posts `notice`, signed as of `now` where the tool signs."""

    @abstractmethod
    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        """What the tool's reply means."""


def json_body(body: bytes) -> dict[str, object] | None:
    """The reply as a JSON object, or None when it is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def retry_after(headers: Mapping[str, str]) -> timedelta | None:
    """A `Retry-After` in seconds, when the reply has one."""
    for key, value in headers.items():
        if key.lower() == "retry-after" and value.strip().isdigit():
            return timedelta(seconds=int(value.strip()))
    return None


def http_verdict(status: int, headers: Mapping[str, str], detail: str) -> Verdict:
    """The usual meaning of a non-success HTTP status."""
    if status == 429:
        return Verdict(
            Outcome.THROTTLED,
            f"HTTP 429 {detail}".strip(),
            retry_after(headers) or DEFAULT_THROTTLE_WAIT,
        )
    if status >= 500 or status == 408:
        return Verdict(Outcome.RETRY, f"HTTP {status} {detail}".strip())
    return Verdict(Outcome.FAILED, f"HTTP {status} {detail}".strip())


def compact_json(data: object) -> bytes:
    """JSON as the tools expect it: UTF-8, no ASCII escapes, no spaces."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def short_text(body: bytes, limit: int = 200) -> str:
    """The start of a reply body as text, for an error detail."""
    return body[:limit].decode("utf-8", errors="replace").strip()
