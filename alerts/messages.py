"""The words of a message, in Chinese or English, with its figures and link.

Every chat tool shows the same content: a title, then per alert a headline
("低于安全库存 · 物料 A-100 · 工厂 1000"), its key figures as label/value
pairs, and a link to the planners' page when `public_url` is set. Each
channel module only lays these out in its tool's format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from stockbridge.alerts.notices import Event, Notice, NoticeItem, Severity

__all__ = ["Lang", "RenderedItem", "RenderedNotice", "render_notice"]

Lang = Literal["zh", "en"]

_EVENTS: dict[Event, dict[Lang, str]] = {
    "firing": {"zh": "告警", "en": "ALERT"},
    "reminder": {"zh": "仍未恢复", "en": "STILL FIRING"},
    "resolved": {"zh": "已恢复", "en": "RESOLVED"},
}
_SEVERITIES: dict[Severity, dict[Lang, str]] = {
    "critical": {"zh": "严重", "en": "critical"},
    "warning": {"zh": "警告", "en": "warning"},
    "info": {"zh": "提示", "en": "info"},
}
_KINDS: dict[str, dict[Lang, str]] = {
    "below_safety_stock": {"zh": "低于安全库存", "en": "Below safety stock"},
    "projected_stockout": {"zh": "预计缺货", "en": "Projected stock-out"},
    "negative_stock": {"zh": "负库存", "en": "Negative stock"},
    "conflict": {"zh": "系统间库存不一致", "en": "Systems disagree"},
    "stale_source": {"zh": "数据源未更新", "en": "Source gone stale"},
    "failing_stream": {"zh": "同步连续失败", "en": "Sync failing"},
    "rejects": {"zh": "拒收记录过多", "en": "Too many rejected records"},
    "test": {"zh": "测试消息", "en": "Test message"},
}
_LABELS: dict[str, dict[Lang, str]] = {
    "material": {"zh": "物料", "en": "material"},
    "site": {"zh": "工厂", "en": "site"},
    "warehouse": {"zh": "仓库", "en": "warehouse"},
    "location": {"zh": "库位", "en": "location"},
    "batch": {"zh": "批次", "en": "batch"},
    "status": {"zh": "库存状态", "en": "status"},
    "source": {"zh": "数据源", "en": "source"},
    "stream": {"zh": "数据流", "en": "stream"},
    "channel": {"zh": "通道", "en": "channel"},
    "available": {"zh": "可用量", "en": "available"},
    "safety_stock": {"zh": "安全库存", "en": "safety stock"},
    "shortfall": {"zh": "缺口", "en": "shortfall"},
    "quantity": {"zh": "数量", "en": "quantity"},
    "daily_consumption": {"zh": "日均消耗", "en": "daily consumption"},
    "days_of_cover": {"zh": "可用天数", "en": "days of cover"},
    "horizon_days": {"zh": "预警天数", "en": "horizon (days)"},
    "difference": {"zh": "差异", "en": "difference"},
    "source_values": {"zh": "各系统数量", "en": "per system"},
    "open_since": {"zh": "不一致起始", "en": "disagreeing since"},
    "last_success": {"zh": "最近成功同步", "en": "last successful run"},
    "stale_after": {"zh": "判定未更新", "en": "stale after"},
    "failures": {"zh": "连续失败次数", "en": "failures in a row"},
    "last_error": {"zh": "最近错误", "en": "last error"},
    "open_rejects": {"zh": "未处理拒收", "en": "open rejects"},
    "threshold": {"zh": "阈值", "en": "threshold"},
    "unit": {"zh": "单位", "en": "unit"},
    "since": {"zh": "开始于", "en": "since"},
    "severity": {"zh": "级别", "en": "severity"},
}
_WORDS: dict[str, dict[Lang, str]] = {
    "digest": {"zh": "stockbridge 库存告警：{n} 条", "en": "stockbridge alerts: {n}"},
    "single": {
        "zh": "stockbridge {event}：{what}",
        "en": "stockbridge {event}: {what}",
    },
    "open": {"zh": "查看详情", "en": "Open in stockbridge"},
    "more": {
        "zh": "……另有 {n} 条未列出",
        "en": "... and {n} more not shown",
    },
    "never": {"zh": "从未成功", "en": "never"},
}
_QUANTITY_FIGURES = frozenset(
    {"available", "safety_stock", "shortfall", "quantity", "difference"}
)
_PAGES = {
    "below_safety_stock": "/stock",
    "projected_stockout": "/stock",
    "negative_stock": "/stock",
    "conflict": "/conflicts",
    "stale_source": "/runs",
    "failing_stream": "/runs",
    "rejects": "/rejects",
}


@dataclass(frozen=True, slots=True)
class RenderedItem:
    event: Event
    severity: Severity
    event_label: str
    """告警 / ALERT, 已恢复 / RESOLVED ..."""
    headline: str
    facts: tuple[tuple[str, str], ...]
    link: str | None


@dataclass(frozen=True, slots=True)
class RenderedNotice:
    lang: Lang
    title: str
    items: tuple[RenderedItem, ...]
    severity: Severity
    link: str | None
    """The page for the whole message: the item's own, or the overview."""
    source: Notice
    """What was rendered, for channels that carry the raw figures too."""

    def more_line(self, hidden: int) -> str:
        """The closing line of a digest that could not show every item."""
        return _WORDS["more"][self.lang].format(n=hidden)

    @property
    def open_label(self) -> str:
        return _WORDS["open"][self.lang]

    @property
    def colon(self) -> str:
        """Between a label and its value: full-width in Chinese text."""
        return "：" if self.lang == "zh" else ": "

    def tag(self, label: str) -> str:
        """An event label set off from the headline: 【告警】 or [ALERT]."""
        return f"【{label}】" if self.lang == "zh" else f"[{label}] "


def render_notice(
    notice: Notice, *, lang: Lang, public_url: str | None, timezone: str
) -> RenderedNotice:
    """The words of `notice` in `lang`; times shown in `timezone`."""
    zone = ZoneInfo(timezone)
    items = tuple(_render_item(item, lang, public_url, zone) for item in notice.items)
    if len(items) == 1:
        only = items[0]
        title = _WORDS["single"][lang].format(
            event=only.event_label, what=only.headline
        )
        link = only.link
    else:
        title = _WORDS["digest"][lang].format(n=len(items))
        link = public_url
    return RenderedNotice(lang, title, items, notice.severity, link, notice)


def _render_item(
    item: NoticeItem, lang: Lang, public_url: str | None, zone: ZoneInfo
) -> RenderedItem:
    kind = _KINDS.get(item.kind, {"zh": item.kind, "en": item.kind})[lang]
    subject = " · ".join(
        f"{_label(key, lang)} {value}" for key, value in item.subject.items() if value
    )
    headline = f"{kind} · {subject}" if subject else kind
    unit = item.figures.get("unit", "")
    facts: list[tuple[str, str]] = [
        (_label("severity", lang), _SEVERITIES[item.severity][lang])
    ]
    for key, value in item.figures.items():
        if key == "unit":
            continue
        shown = _shown_value(key, value, lang, zone)
        if key in _QUANTITY_FIGURES and unit:
            shown = f"{shown} {unit}"
        facts.append((_label(key, lang), shown))
    facts.append((_label("since", lang), _local_time(item.since, zone)))
    return RenderedItem(
        event=item.event,
        severity=item.severity,
        event_label=_EVENTS[item.event][lang],
        headline=headline,
        facts=tuple(facts),
        link=_link(item, public_url),
    )


def _label(key: str, lang: Lang) -> str:
    return _LABELS.get(key, {"zh": key, "en": key})[lang]


def _shown_value(key: str, value: str, lang: Lang, zone: ZoneInfo) -> str:
    if key in {"last_success", "open_since"}:
        if not value:
            return _WORDS["never"][lang]
        return _local_time(datetime.fromisoformat(value), zone)
    return value


def _local_time(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _link(item: NoticeItem, public_url: str | None) -> str | None:
    if public_url is None:
        return None
    page = _PAGES.get(item.kind)
    if page is None:
        return public_url
    query = {key: value for key, value in item.subject.items() if value}
    return f"{public_url}{page}?{urlencode(query)}" if query else public_url + page
