"""What an outbox message says, independent of any chat tool.

The outbox stores a `Notice` as JSON: the alert items with their figures as
exact decimal strings. It is formatted and signed for its tool only when it
is delivered, so a signature is always fresh (DingTalk and Feishu refuse a
timestamp more than an hour old, and an outage may last longer) and nothing
secret is ever stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, cast

__all__ = ["SEVERITY_RANK", "Event", "Notice", "NoticeItem", "Severity"]

Event = Literal["firing", "reminder", "resolved"]
Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class NoticeItem:
    """One alert's news: it fired, it still holds, or it cleared."""

    dedup_key: str
    event: Event
    rule: str
    kind: str
    severity: Severity
    subject: dict[str, str]
    """What the alert is about, in key order: material, site... or source, stream."""
    figures: dict[str, str]
    """The key figures as text: exact decimals, ISO times, counts."""
    since: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "dedup_key": self.dedup_key,
            "event": self.event,
            "rule": self.rule,
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "figures": self.figures,
            "since": self.since.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> NoticeItem:
        return cls(
            dedup_key=str(data["dedup_key"]),
            event=cast("Event", data["event"]),
            rule=str(data["rule"]),
            kind=str(data["kind"]),
            severity=cast("Severity", data["severity"]),
            subject=cast("dict[str, str]", data["subject"]),
            figures=cast("dict[str, str]", data["figures"]),
            since=datetime.fromisoformat(str(data["since"])),
        )


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to one channel: a single alert, or a digest of several."""

    message_id: str
    """Stays the same across retries: DingTalk's msgUuid, a webhook-id."""
    items: tuple[NoticeItem, ...] = field(default=())

    @property
    def severity(self) -> Severity:
        """The highest severity among the items."""
        return max(
            (item.severity for item in self.items),
            key=SEVERITY_RANK.__getitem__,
            default="info",
        )

    def to_text(self) -> str:
        return json.dumps(
            {
                "message_id": self.message_id,
                "items": [item.to_json() for item in self.items],
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_text(cls, text: str) -> Notice:
        data = json.loads(text)
        return cls(
            message_id=str(data["message_id"]),
            items=tuple(NoticeItem.from_json(item) for item in data["items"]),
        )
