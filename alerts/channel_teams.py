"""Microsoft Teams via a Workflows webhook: an Adaptive Card in a message.

The legacy Office 365 connectors are retired; a Workflows URL (its `sig`
query parameter is the credential) takes `{"type": "message",
"attachments": [adaptive card]}` and answers 202 Accepted (sometimes 200).
Mentions are `<at>Name</at>` in a TextBlock plus an entity naming the
user's UPN or Entra id. A card may be about 28 KB. Workflows' rate limits
are not documented; the legacy connector's (4 a second, 60 in 30 seconds)
are kept as the safe side.
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
from stockbridge.alerts.text_limits import fit_item_count
from stockbridge.config.model_base import StrictModel

__all__ = ["TeamsChannel", "TeamsMention", "TeamsOptions"]

MAX_BODY_BYTES = 28_000
_COLOURS = {"critical": "Attention", "warning": "Warning", "info": "Accent"}


class TeamsMention(StrictModel):
    id: str
    """The user's UPN (adele@contoso.com) or Entra object id."""
    name: str


class TeamsOptions(ChannelOptions):
    mentions: list[TeamsMention] = Field(default_factory=list)


class TeamsChannel(Channel):
    kind = "teams"
    options_model = TeamsOptions
    options: TeamsOptions

    @property
    @override
    def rate_limits(self) -> tuple[RateLimit, ...]:
        return (
            RateLimit(4, timedelta(seconds=1)),
            RateLimit(60, timedelta(seconds=30)),
        )

    @override
    def build(
        self, notice: RenderedNotice, *, message_id: str, now: datetime
    ) -> OutgoingRequest:
        mentions = self.options.mentions if self.mentions_wanted(notice) else []

        def body_for(shown: int) -> bytes:
            return compact_json(_message(notice, shown, mentions))

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
        text = short_text(body)
        if status in {200, 202}:
            # The retired connectors reported throttling inside a 200 body.
            if "HTTP error 429" in text:
                return Verdict(Outcome.THROTTLED, text, timedelta(seconds=30))
            return Verdict(Outcome.SENT, f"HTTP {status}")
        return http_verdict(status, headers, text)


def _message(
    notice: RenderedNotice, shown: int, mentions: list[TeamsMention]
) -> dict[str, object]:
    body: list[dict[str, object]] = [
        {
            "type": "TextBlock",
            "text": notice.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    for item in notice.items[:shown]:
        body.extend(_item_blocks(item, notice))
    hidden = len(notice.items) - shown
    if hidden:
        body.append(
            {"type": "TextBlock", "text": notice.more_line(hidden), "wrap": True}
        )
    card: dict[str, object] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if mentions:
        tags = " ".join(f"<at>{m.name}</at>" for m in mentions)
        body.append({"type": "TextBlock", "text": tags, "wrap": True})
        card["msteams"] = {
            "entities": [
                {
                    "type": "mention",
                    "text": f"<at>{m.name}</at>",
                    "mentioned": {"id": m.id, "name": m.name},
                }
                for m in mentions
            ]
        }
    if notice.link:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": notice.open_label, "url": notice.link}
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _item_blocks(item: RenderedItem, notice: RenderedNotice) -> list[dict[str, object]]:
    colour = "Good" if item.event == "resolved" else _COLOURS[item.severity]
    blocks: list[dict[str, object]] = [
        {
            "type": "TextBlock",
            "text": f"{notice.tag(item.event_label)}{item.headline}",
            "weight": "Bolder",
            "color": colour,
            "wrap": True,
            "separator": True,
        },
        {
            "type": "FactSet",
            "facts": [{"title": label, "value": value} for label, value in item.facts],
        },
    ]
    if item.link:
        blocks.append(
            {
                "type": "TextBlock",
                "text": f"[{notice.open_label}]({item.link})",
                "wrap": True,
            }
        )
    return blocks
