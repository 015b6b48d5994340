"""DingTalk custom group robot (钉钉自定义机器人): markdown, @ by mobile, signed URL.

Signing (加签): HMAC-SHA256 keyed with the `SEC…` secret over
`timestamp_ms + "\\n" + secret`, Base64, then URL-encoded into the query as
`&timestamp=…&sign=…`; DingTalk refuses a timestamp more than an hour off.
Every refusal comes back as HTTP 200 with a non-zero `errcode`. A robot
takes 20 messages a minute and is then throttled for 10 minutes, so the
limiter must never let the 21st through.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import quote_plus

from pydantic import Field
from typing_extensions import override

from stockbridge.alerts.channel_base import (
    Channel,
    ChannelOptions,
    Outcome,
    OutgoingRequest,
    RateLimit,
    Verdict,
    compact_json,
    http_verdict,
    json_body,
    short_text,
)
from stockbridge.alerts.messages import RenderedItem, RenderedNotice
from stockbridge.alerts.text_limits import fit_item_count, truncate_utf8

__all__ = ["DingTalkChannel", "DingTalkOptions", "dingtalk_sign"]

MAX_TEXT_BYTES = 20_000
"""Not documented by DingTalk; the figure third-party senders use."""
THROTTLED_CODES = frozenset({410100, 130101})
BUSY_CODES = frozenset({-1})
THROTTLE_PENALTY = timedelta(minutes=10)


class DingTalkOptions(ChannelOptions):
    at_mobiles: list[str] = Field(default_factory=list)
    at_all: bool = False
    keyword: str | None = None
    """The robot's security keyword, when it has one: put in every title."""


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The URL-encoded `sign` query value for `timestamp_ms`."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


class DingTalkChannel(Channel):
    kind = "dingtalk"
    options_model = DingTalkOptions
    options: DingTalkOptions

    @property
    @override
    def rate_limits(self) -> tuple[RateLimit, ...]:
        return (RateLimit(20, timedelta(minutes=1)),)

    @override
    def build(
        self, notice: RenderedNotice, *, message_id: str, now: datetime
    ) -> OutgoingRequest:
        mention = self.mentions_wanted(notice)
        mobiles = self.options.at_mobiles if mention else []
        # An @mobile only notifies when it also appears in the text.
        tail = " ".join(f"@{mobile}" for mobile in mobiles)

        def text_for(shown: int) -> str:
            return _markdown(notice, shown, tail)

        shown = fit_item_count(
            lambda n: len(text_for(n).encode()), len(notice.items), MAX_TEXT_BYTES
        )
        text = truncate_utf8(text_for(shown), MAX_TEXT_BYTES)
        title = notice.title
        keyword = self.options.keyword
        if keyword and keyword not in title:
            title = f"{keyword} {title}"
        payload = {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": text},
            "at": {
                "atMobiles": mobiles,
                "isAtAll": bool(mention and self.options.at_all),
            },
            "msgUuid": message_id,
        }
        url = self.options.url.get_secret_value()
        if self.options.secret is not None:
            timestamp = int(now.timestamp() * 1000)
            sign = dingtalk_sign(self.options.secret.get_secret_value(), timestamp)
            separator = "&" if "?" in url else "?"
            url = f"{url}{separator}timestamp={timestamp}&sign={sign}"
        return OutgoingRequest(
            url, compact_json(payload), {"Content-Type": "application/json"}
        )

    @override
    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        if status != 200:
            return http_verdict(status, headers, short_text(body))
        reply = json_body(body)
        if reply is None or not isinstance(reply.get("errcode"), int):
            return Verdict(Outcome.RETRY, f"unreadable reply: {short_text(body)!r}")
        code = int(reply["errcode"])  # type: ignore[call-overload]
        detail = f"errcode {code}: {reply.get('errmsg', '')}"
        if code == 0:
            return Verdict(Outcome.SENT, detail)
        if code in THROTTLED_CODES:
            return Verdict(Outcome.THROTTLED, detail, THROTTLE_PENALTY)
        if code in BUSY_CODES:
            return Verdict(Outcome.RETRY, detail)
        return Verdict(Outcome.FAILED, detail)


def _markdown(notice: RenderedNotice, shown: int, tail: str) -> str:
    lines = [f"#### {notice.title}", ""]
    for item in notice.items[:shown]:
        lines.extend(_item_lines(item, notice))
    hidden = len(notice.items) - shown
    if hidden:
        lines.append(notice.more_line(hidden))
        if notice.link:
            lines.append(f"[{notice.open_label}]({notice.link})")
    if tail:
        lines.extend(["", tail])
    return "\n".join(lines).rstrip()


def _item_lines(item: RenderedItem, notice: RenderedNotice) -> list[str]:
    lines = [f"**{notice.tag(item.event_label)}{item.headline}**", ""]
    lines.extend(f"- {label}{notice.colon}{value}" for label, value in item.facts)
    if item.link:
        lines.extend(["", f"[{notice.open_label}]({item.link})"])
    lines.extend(["", "---", ""])
    return lines
