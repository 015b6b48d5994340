"""When each stream of a source runs: a fixed interval or a cron expression.

Written as one string for every stream (`schedule: 15m`) or per stream
(`schedule: {default: 1h, movements: 1m}`); a cron expression is written
`cron: 0 6 * * mon-fri`. Cron syntax is checked with APScheduler's own
parser, the one `serve` runs it with, so what passes here also runs there.
Numeric days of week are refused: cron counts 0 as Sunday, APScheduler 3 as
Monday, and a schedule silently one day off is worse than an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal, get_args

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from stockbridge.config.errors import config_problem, describe_value
from stockbridge.config.fields import duration_or_none, format_duration

__all__ = [
    "DEFAULT_SCHEDULE",
    "STREAM_NAMES",
    "Schedule",
    "ScheduleField",
    "SourceSchedule",
    "StreamName",
    "parse_schedule",
]

StreamName = Literal["stock", "movements", "materials", "locations", "units"]
"""The names of `stockbridge.connectors.base.Stream` (config does not import it)."""

STREAM_NAMES: tuple[str, ...] = get_args(StreamName)

_SCHEDULE_WORDS = (
    'an interval such as 30s, 15m or 1h, or "cron: MIN HOUR DAY MONTH WEEKDAY"'
)
# Any digit: even "*/2" picks different days under the two numberings.
_NUMERIC_WEEKDAY = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Either every `every`, or at the times of the crontab `cron`."""

    every: timedelta | None = None
    cron: str | None = None

    def __str__(self) -> str:
        if self.cron is not None:
            return f"cron: {self.cron}"
        return format_duration(self.every or timedelta(0))


def parse_schedule(value: object) -> Schedule:
    """`15m` or `cron: */5 * * * *` -> a `Schedule`; raises a config problem."""
    if isinstance(value, Schedule):
        return value
    if not isinstance(value, str):
        raise config_problem(_SCHEDULE_WORDS, describe_value(value))
    text = value.strip()
    if text.startswith("cron:"):
        return Schedule(cron=_checked_crontab(text.removeprefix("cron:").strip()))
    every = duration_or_none(text)
    if every is None or every <= timedelta(0):
        raise config_problem(_SCHEDULE_WORDS, describe_value(value))
    return Schedule(every=every)


def _checked_crontab(expression: str) -> str:
    fields = expression.split()
    if len(fields) == 5 and _NUMERIC_WEEKDAY.search(fields[4]):
        raise config_problem(
            "a day of week written as names (mon, tue, ..., sun, or a range mon-fri)",
            f"{fields[4]!r} in cron expression {expression!r}",
            "Cron counts 0 as Sunday but APScheduler counts 0 as Monday; "
            "names mean the same to both.",
        )
    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as error:
        raise config_problem(
            "a cron expression of five fields: minute hour day month weekday",
            f"{expression!r} ({error})",
        ) from None
    return " ".join(fields)


ScheduleField = Annotated[
    Schedule, BeforeValidator(parse_schedule), PlainSerializer(str, return_type=str)
]


class SourceSchedule(BaseModel):
    """The schedules of one source's streams; `default` covers the others.

    A single string in YAML is the default for every stream.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    default: ScheduleField | None = None
    stock: ScheduleField | None = None
    movements: ScheduleField | None = None
    materials: ScheduleField | None = None
    locations: ScheduleField | None = None
    units: ScheduleField | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_for_all(cls, data: object) -> object:
        return data if isinstance(data, Mapping | SourceSchedule) else {"default": data}

    @model_serializer(mode="wrap")
    def _shortest(self, handler: SerializerFunctionWrapHandler) -> object:
        rendered = {
            key: value for key, value in handler(self).items() if value is not None
        }
        if list(rendered) == ["default"]:
            return rendered["default"]
        return rendered

    def for_stream(self, stream: str) -> Schedule | None:
        """The schedule of `stream`, or None when it is not scheduled."""
        if stream not in STREAM_NAMES:
            msg = f"unknown stream {stream!r}; streams are {', '.join(STREAM_NAMES)}"
            raise ValueError(msg)
        own: Schedule | None = getattr(self, stream)
        return own or self.default


DEFAULT_SCHEDULE = SourceSchedule(default=Schedule(every=timedelta(minutes=15)))
