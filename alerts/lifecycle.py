"""An alert's life: fire once, remind after `renotify`, resolve when it clears.

Given the findings of this evaluation and the alerts firing before it, this
module decides what changes and which messages go out, without touching the
store; `alerts.service` writes the plan in one transaction. All news for
one channel from one evaluation goes out as one digest (up to
`DIGEST_SIZE` items a message), not as a burst that trips the tool's rate
limit.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from stockbridge.alerts.notices import SEVERITY_RANK, Event, Notice, NoticeItem
from stockbridge.alerts.rules import Evaluation, Finding
from stockbridge.alerts.settings import AlertRule
from stockbridge.store.alert_outbox import AlertStateRow, EvaluationWrite, QueuedMessage

__all__ = ["DIGEST_SIZE", "plan_evaluation"]

DIGEST_SIZE = 10
"""Most items in one message: a digest stays readable and within size limits."""

_EVENT_ORDER: dict[Event, int] = {"firing": 0, "reminder": 1, "resolved": 2}


def plan_evaluation(
    evaluation: Evaluation,
    firing: Mapping[str, AlertStateRow],
    rules: tuple[AlertRule, ...],
    *,
    now: datetime,
) -> EvaluationWrite:
    """The state changes and messages this evaluation causes."""
    write = EvaluationWrite()
    news: dict[str, list[NoticeItem]] = defaultdict(list)
    for key, finding in evaluation.findings.items():
        state = firing.get(key)
        detail = _detail(finding)
        if state is None:
            write.fired.append(
                {"dedup_key": key, "rule": finding.rule.name, "detail": detail}
            )
            item = _item(key, finding.rule, detail, "firing", since=now)
        elif _reminder_due(state, finding.rule.options.renotify, now):
            write.reminded.append((key, detail))
            item = _item(key, finding.rule, detail, "reminder", since=state.fired_at)
        else:
            write.seen.append(key)
            continue
        for channel in finding.rule.channels:
            news[channel].append(item)
    by_name = {rule.name: rule for rule in rules}
    for key, state in firing.items():
        if key in evaluation.findings or key in evaluation.unknown:
            continue
        write.resolved.append(key)
        rule = by_name.get(state.rule)
        if rule is None:  # the rule was removed from the config: close quietly
            continue
        item = _item(key, rule, state.detail, "resolved", since=state.fired_at)
        for channel in rule.channels:
            news[channel].append(item)
    for channel in sorted(news):
        items = sorted(news[channel], key=_importance)
        for start in range(0, len(items), DIGEST_SIZE):
            write.messages.append(_message(channel, items[start : start + DIGEST_SIZE]))
    return write


def _reminder_due(state: AlertStateRow, renotify: timedelta, now: datetime) -> bool:
    if renotify <= timedelta(0):
        return False
    last = state.last_notified_at or state.fired_at
    return now - last >= renotify


def _detail(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.rule.kind,
        "severity": finding.rule.options.severity,
        "subject": finding.subject,
        "figures": finding.figures,
    }


def _item(
    key: str,
    rule: AlertRule,
    detail: Mapping[str, Any],
    event: Event,
    *,
    since: datetime,
) -> NoticeItem:
    return NoticeItem(
        dedup_key=key,
        event=event,
        rule=rule.name,
        kind=rule.kind,
        severity=rule.options.severity,
        subject=dict(detail["subject"]),
        figures=dict(detail["figures"]),
        since=since,
    )


def _importance(item: NoticeItem) -> tuple[int, int, str]:
    return (_EVENT_ORDER[item.event], -SEVERITY_RANK[item.severity], item.dedup_key)


def _message(channel: str, items: list[NoticeItem]) -> QueuedMessage:
    notice = Notice(message_id=str(uuid.uuid4()), items=tuple(items))
    key = items[0].dedup_key
    if len(items) > 1:
        key = f"{key} (+{len(items) - 1} more)"
    return QueuedMessage(channel=channel, dedup_key=key, payload=notice.to_text())
