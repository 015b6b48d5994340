"""Slack incoming webhook: Block Kit message with a text fallback.

The URL is the secret; nothing is signed. Success is HTTP 200 with the body
`ok`; errors are a plain-text code with an HTTP status (`invalid_payload`,
`no_service`, `channel_is_archived`), and HTTP 429 with `Retry-After` when
posting faster than about one message a second. A section's text may be
3,000 characters and a message 50 blocks.
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
    short_text,
)
from stockbridge.alerts.messages import RenderedItem, RenderedNotice

__all__ = ["SlackChannel", "SlackOptions", "slack_escape"]

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
_FIXED_BLOCKS = 4
"""Header, mentions, "more" line, link button."""


class SlackOptions(ChannelOptions):
    mentions: list[str] = Field(default_factory=list)
    """User ids (U012AB3CD), or `here` / `channel`."""


def slack_escape(text: str) -> str:
    """Text safe inside mrkdwn: `&`, `<` and `>` are control characters there."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackChannel(Channel):
    kind = "slack"
    options_model = SlackOptions
    options: SlackOptions

    @property
    @override
    def rate_limits(self) -> tuple[RateLimit, ...]:
        return (RateLimit(1, timedelta(seconds=1)),)

    @override
    def build(
        self, notice: RenderedNotice, *, message_id: str, now: datetime
    ) -> OutgoingRequest:
        blocks: list[dict[str, object]] = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": notice.title[:150]},
            }
        ]
        shown = min(len(notice.items), MAX_BLOCKS - _FIXED_BLOCKS)
        blocks.extend(_section(item, notice) for item in notice.items[:shown])
        if shown < len(notice.items):
            more = notice.more_line(len(notice.items) - shown)
            blocks.append({"type": "context", "elements": [_mrkdwn(more)]})
        if self.mentions_wanted(notice) and self.options.mentions:
            tags = " ".join(_mention(m) for m in self.options.mentions)
            blocks.append({"type": "section", "text": _mrkdwn(tags)})
        if notice.link:
            button = {
                "type": "button",
                "text": {"type": "plain_text", "text": notice.open_label},
                "url": notice.link,
            }
            blocks.append({"type": "actions", "elements": [button]})
        payload = {"text": notice.title, "blocks": blocks}
        return OutgoingRequest(
            self.options.url.get_secret_value(),
            compact_json(payload),
            {"Content-Type": "application/json"},
        )

    @override
    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        text = short_text(body)
        if status == 200 and text == "ok":
            return Verdict(Outcome.SENT, "ok")
        if status == 200:
            return Verdict(Outcome.FAILED, f"HTTP 200 but not ok: {text}")
        return http_verdict(status, headers, text)


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _mention(name: str) -> str:
    return f"<!{name}>" if name in {"here", "channel", "everyone"} else f"<@{name}>"


def _section(item: RenderedItem, notice: RenderedNotice) -> dict[str, object]:
    lines = [f"*{slack_escape(notice.tag(item.event_label) + item.headline)}*"]
    lines.extend(
        f"*{slack_escape(label)}*{notice.colon}{slack_escape(value)}"
        for label, value in item.facts
    )
    if item.link:
        lines.append(f"<{item.link}|{slack_escape(notice.open_label)}>")
    text = "\n".join(lines)
    if len(text) > MAX_SECTION_CHARS:
        text = text[: MAX_SECTION_CHARS - 1] + "…"
    return {"type": "section", "text": _mrkdwn(text)}
