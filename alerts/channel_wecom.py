"""WeCom group robot (企业微信群机器人 / 消息推送): markdown within 4096 bytes.

The `key` in the URL is the only credential: no signing, no keywords. The
markdown `content` may be at most 4096 UTF-8 bytes (errcode 40058
otherwise), so a digest drops items to fit and a lone long item is cut on a
character boundary. Mentions are `<@userid>` inside the markdown. Errors
come as HTTP 200 with `errcode`; a robot takes 20 messages a minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

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

__all__ = ["MAX_MARKDOWN_BYTES", "WeComChannel", "WeComOptions"]

MAX_MARKDOWN_BYTES = 4096
THROTTLED_CODES = frozenset({45009})
BUSY_CODES = frozenset({-1})
THROTTLE_PENALTY = timedelta(minutes=1)
_COLOURS = {"firing": "warning", "reminder": "comment", "resolved": "info"}


class WeComOptions(ChannelOptions):
    mention_userids: list[str] = Field(default_factory=list)
    """WeCom user ids to mention as `<@userid>`."""


class WeComChannel(Channel):
    kind = "wecom"
    options_model = WeComOptions
    options: WeComOptions

    @property
    @override
    def rate_limits(self) -> tuple[RateLimit, ...]:
        return (RateLimit(20, timedelta(minutes=1)),)

    @override
    def build(
        self, notice: RenderedNotice, *, message_id: str, now: datetime
    ) -> OutgoingRequest:
        mentions = self.options.mention_userids if self.mentions_wanted(notice) else []
        tail = " ".join(f"<@{userid}>" for userid in mentions)

        def content_for(shown: int) -> str:
            return _markdown(notice, shown, tail)

        shown = fit_item_count(
            lambda n: len(content_for(n).encode()),
            len(notice.items),
            MAX_MARKDOWN_BYTES,
        )
        content = truncate_utf8(content_for(shown), MAX_MARKDOWN_BYTES)
        payload = {"msgtype": "markdown", "markdown": {"content": content}}
        return OutgoingRequest(
            self.options.url.get_secret_value(),
            compact_json(payload),
            {"Content-Type": "application/json"},
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
    lines = [f"## {notice.title}"]
    for item in notice.items[:shown]:
        lines.extend(_item_lines(item, notice))
    hidden = len(notice.items) - shown
    if hidden:
        lines.append(notice.more_line(hidden))
        if notice.link:
            lines.append(f"[{notice.open_label}]({notice.link})")
    if tail:
        lines.append(tail)
    return "\n".join(lines)


def _item_lines(item: RenderedItem, notice: RenderedNotice) -> list[str]:
    colour = _COLOURS[item.event]
    lines = [
        f'**<font color="{colour}">{notice.tag(item.event_label)}</font>'
        f"{item.headline}**"
    ]
    lines.extend(f">{label}{notice.colon}{value}" for label, value in item.facts)
    if item.link:
        lines.append(f"[{notice.open_label}]({item.link})")
    return lines
