"""Feishu / Lark custom bot (飞书自定义机器人): interactive card or post, signed body.

Signing: the string `timestamp_s + "\\n" + secret` is the HMAC-SHA256 *key*
and the message is empty; the Base64 digest goes into the JSON body as
`sign`, with `timestamp` (seconds, as text). Errors come as a `code` in the
body (19021 bad signature, 19024 keyword missing, 11232 rate limited). A
request body may be at most 20 KB; a bot takes 100 messages a minute and 5
a second.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

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

__all__ = ["FeishuChannel", "FeishuOptions", "feishu_sign"]

MAX_BODY_BYTES = 20 * 1024
MAX_ITEM_TEXT_BYTES = 8 * 1024
THROTTLED_CODES = frozenset({11232})
THROTTLE_PENALTY = timedelta(minutes=1)
_TEMPLATES = {"critical": "red", "warning": "orange", "info": "blue"}


class FeishuOptions(ChannelOptions):
    format: Literal["card", "post"] = "card"
    at_user_ids: list[str] = Field(default_factory=list)
    """open_ids (ou_…) of group members to mention."""
    at_all: bool = False
    keyword: str | None = None
    """The bot's security keyword, when it has one: put in every title."""


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The body's `sign` for `timestamp_s`: HMAC keyed by `ts\\nsecret` over b""."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuChannel(Channel):
    kind = "feishu"
    options_model = FeishuOptions
    options: FeishuOptions

    @property
    @override
    def rate_limits(self) -> tuple[RateLimit, ...]:
        return (
            RateLimit(5, timedelta(seconds=1)),
            RateLimit(100, timedelta(minutes=1)),
        )

    @override
    def build(
        self, notice: RenderedNotice, *, message_id: str, now: datetime
    ) -> OutgoingRequest:
        mention = self.mentions_wanted(notice)
        ids = list(self.options.at_user_ids) if mention else []
        if mention and self.options.at_all:
            ids.append("all")
        title = notice.title
        keyword = self.options.keyword
        if keyword and keyword not in title:
            title = f"{keyword} {title}"
        signature: dict[str, str] = {}
        if self.options.secret is not None:
            timestamp = int(now.timestamp())
            secret = self.options.secret.get_secret_value()
            signature = {
                "timestamp": str(timestamp),
                "sign": feishu_sign(secret, timestamp),
            }

        def body_for(shown: int) -> bytes:
            if self.options.format == "post":
                message = _post(notice, title, shown, ids)
            else:
                message = _card(notice, title, shown, ids)
            return compact_json({**signature, **message})

        shown = fit_item_count(
            lambda n: len(body_for(n)), len(notice.items), MAX_BODY_BYTES
        )
        return OutgoingRequest(
            self.options.url.get_secret_value(),
            body_for(shown),
            {"Content-Type": "application/json"},
        )

    @override
    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        reply = json_body(body)
        code = None if reply is None else reply.get("code", reply.get("StatusCode"))
        if reply is None or not isinstance(code, int):
            return http_verdict(status, headers, short_text(body))
        detail = f"code {code}: {reply.get('msg', reply.get('StatusMessage', ''))}"
        if code == 0 and status == 200:
            return Verdict(Outcome.SENT, detail)
        if code in THROTTLED_CODES or status == 429:
            return Verdict(Outcome.THROTTLED, detail, THROTTLE_PENALTY)
        if status >= 500:
            return Verdict(Outcome.RETRY, detail)
        return Verdict(Outcome.FAILED, detail)


def _item_markdown(item: RenderedItem, notice: RenderedNotice) -> str:
    lines = [f"**{notice.tag(item.event_label)}{item.headline}**"]
    lines.extend(f"{label}{notice.colon}{value}" for label, value in item.facts)
    if item.link:
        lines.append(f"[{notice.open_label}]({item.link})")
    return truncate_utf8("\n".join(lines), MAX_ITEM_TEXT_BYTES)


def _card(
    notice: RenderedNotice, title: str, shown: int, ids: list[str]
) -> dict[str, object]:
    elements: list[dict[str, object]] = []
    for item in notice.items[:shown]:
        if elements:
            elements.append({"tag": "hr"})
        text = {"tag": "lark_md", "content": _item_markdown(item, notice)}
        elements.append({"tag": "div", "text": text})
    hidden = len(notice.items) - shown
    if hidden:
        more = {"tag": "lark_md", "content": notice.more_line(hidden)}
        elements.append({"tag": "div", "text": more})
    if ids:
        mentions = " ".join(f"<at id={user_id}></at>" for user_id in ids)
        elements.append({"tag": "div", "text": {"tag": "lark_md", "content": mentions}})
    if notice.link:
        button = {
            "tag": "button",
            "text": {"tag": "plain_text", "content": notice.open_label},
            "url": notice.link,
            "type": "primary",
        }
        elements.append({"tag": "action", "actions": [button]})
    resolved = all(item.event == "resolved" for item in notice.items)
    header = {
        "title": {"tag": "plain_text", "content": title},
        "template": "green" if resolved else _TEMPLATES[notice.severity],
    }
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": header,
            "elements": elements,
        },
    }


def _post(
    notice: RenderedNotice, title: str, shown: int, ids: list[str]
) -> dict[str, object]:
    paragraphs: list[list[dict[str, str]]] = []
    for item in notice.items[:shown]:
        paragraphs.append(
            [{"tag": "text", "text": f"{notice.tag(item.event_label)}{item.headline}"}]
        )
        paragraphs.extend(
            [{"tag": "text", "text": f"{label}{notice.colon}{value}"}]
            for label, value in item.facts
        )
        if item.link:
            link = {"tag": "a", "text": notice.open_label, "href": item.link}
            paragraphs.append([link])
    hidden = len(notice.items) - shown
    if hidden:
        paragraphs.append([{"tag": "text", "text": notice.more_line(hidden)}])
    if ids:
        paragraphs.append([{"tag": "at", "user_id": user_id} for user_id in ids])
    locale = "zh_cn" if notice.lang == "zh" else "en_us"
    return {
        "msg_type": "post",
        "content": {"post": {locale: {"title": title, "content": paragraphs}}},
    }
