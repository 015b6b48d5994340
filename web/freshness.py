"""How fresh each source's stock is, against how often it is meant to sync.

Green while the last successful stock sync is at most two intervals old,
amber up to six, red beyond (or never). A cron schedule is taken as daily:
its real spacing varies, and a day is the common case (`0 6 * * mon-fri`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stockbridge.config.models import Settings

__all__ = ["Freshness", "freshness_by_source"]

AMBER_AFTER = 2
RED_AFTER = 6
CRON_INTERVAL = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Freshness:
    source: str
    last_success_at: datetime | None
    age_seconds: int | None
    interval_seconds: int
    level: str
    """green, amber or red."""


def _interval(settings: Settings, source: str) -> timedelta:
    config = settings.sources.get(source)
    if config is None:
        return CRON_INTERVAL
    schedule = config.schedule.for_stream("stock")
    if schedule is None or schedule.every is None:
        return CRON_INTERVAL
    return schedule.every


def freshness_by_source(
    settings: Settings, health: list[dict[str, Any]], *, now: datetime
) -> dict[str, Freshness]:
    """Per source: the age of its last successful stock sync, graded."""
    last: dict[str, datetime | None] = dict.fromkeys(settings.sources)
    for row in health:
        if row["stream"] == "stock":
            last[row["source"]] = row["last_success_at"]
    found = {}
    for source, at in last.items():
        interval = _interval(settings, source)
        if at is None:
            found[source] = Freshness(
                source, None, None, int(interval.total_seconds()), "red"
            )
            continue
        age = now - at
        level = (
            "green"
            if age <= interval * AMBER_AFTER
            else "amber"
            if age <= interval * RED_AFTER
            else "red"
        )
        found[source] = Freshness(
            source, at, int(age.total_seconds()), int(interval.total_seconds()), level
        )
    return found
