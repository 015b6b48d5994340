"""Reading values out of REST/JSON rows: dotted field paths, exact numbers, local times.

MES and form APIs nest what we need (`material.code`, `lines.0.qty`), send
quantities as decimal strings or bare JSON numbers, and write times as naive
local text in their own format. Everything here turns one JSON value into
one typed value or says exactly why it cannot (`ValueReadError`, whose text
becomes the reason of an `UnreadableRecord`); nothing is guessed, and no
number ever passes through `float` (bodies are parsed with `Decimal`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final
from zoneinfo import ZoneInfo

from stockbridge.mapping.timezones import to_utc

__all__ = [
    "ISO",
    "MISSING",
    "PATH_PATTERN",
    "FieldPath",
    "TimeReader",
    "ValueReadError",
    "decimal_value",
    "format_time",
    "json_safe",
    "parse_time",
    "text_value",
]

ISO: Final = "iso"
"""The time format name for ISO 8601 text, with or without an offset."""

PATH_PATTERN: Final = r"^[^.\s]+(\.[^.\s]+)*$"
"""A dotted path: non-empty segments without blanks (`data.accessToken`, `lines.0.qty`)."""

_LOCAL_SECONDS: Final = "%Y-%m-%d %H:%M:%S"
_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class _Missing:
    """The value of a path that leads nowhere (distinct from a JSON null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class ValueReadError(ValueError):
    """A value this connector cannot read, and why, in words for a reject."""


class FieldPath:
    """A dotted path into a JSON value, compiled once per run.

    A segment indexes an object by key, or a list by position when it is all
    digits. A path that leads nowhere gives `MISSING`, never an exception.
    """

    __slots__ = ("_key", "_parts", "text")

    def __init__(self, text: str) -> None:
        if not re.fullmatch(PATH_PATTERN, text):
            msg = f"{text!r} is not a dotted field path"
            raise ValueError(msg)
        self.text = text
        self._parts = tuple(text.split("."))
        self._key = text if len(self._parts) == 1 else None

    def __repr__(self) -> str:
        return f"FieldPath({self.text!r})"

    @property
    def head(self) -> str:
        """The first segment: the top-level field the path starts from."""
        return self._parts[0]

    def get(self, value: object) -> object:
        """The value at this path in `value`, or `MISSING`."""
        if self._key is not None and type(value) is dict:  # the hot path: a flat row
            return value.get(self._key, MISSING)
        for part in self._parts:
            if isinstance(value, Mapping):
                if part not in value:
                    return MISSING
                value = value[part]
            elif (
                isinstance(value, Sequence)
                and not isinstance(value, str)
                and part.isdigit()
            ):
                index = int(part)
                if index >= len(value):
                    return MISSING
                value = value[index]
            else:
                return MISSING
        return value


def _absent(value: object) -> bool:
    return value is MISSING or value is None or value == ""


def text_value(value: object, name: str) -> str:
    """A code or id as text; numbers keep their exact digits, blanks are trimmed."""
    if type(value) is str:
        return value.strip()
    if _absent(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    msg = f"{name} is {type(value).__name__}, not text: {_excerpt(value)}"
    raise ValueReadError(msg)


def decimal_value(value: object, name: str) -> Decimal:
    """An exact quantity from a decimal string or a JSON number; never via float."""
    if _absent(value):
        msg = f"{name} is missing"
        raise ValueReadError(msg)
    if isinstance(value, bool):
        msg = f"{name} is {str(value).lower()}, not a number"
        raise ValueReadError(msg)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:  # an exponent beyond what Decimal holds
            msg = f"{name} is out of range: {_excerpt(value)}"
            raise ValueReadError(msg) from None
    else:
        msg = f"{name} is not a number: {_excerpt(value)}"
        raise ValueReadError(msg)
    if not number.is_finite():
        msg = f"{name} is not a finite number: {_excerpt(value)}"
        raise ValueReadError(msg)
    return number


def parse_time(value: object, name: str, time_format: str, zone: ZoneInfo) -> datetime:
    """A UTC time from the source's text; naive text is wall-clock time in `zone`."""
    if _absent(value):
        msg = f"{name} is missing"
        raise ValueReadError(msg)
    if not isinstance(value, str):
        msg = f"{name} is not a time text: {_excerpt(value)}"
        raise ValueReadError(msg)
    text = value.strip()
    try:
        if time_format == ISO:
            moment = datetime.fromisoformat(text)
        elif time_format == _LOCAL_SECONDS and len(text) == 19 and text[10] == " ":
            moment = datetime.fromisoformat(text)  # the C parser: same result, faster
        else:
            moment = datetime.strptime(text, time_format)  # noqa: DTZ007 - zone applied below
    except ValueError:
        shown = "ISO 8601" if time_format == ISO else repr(time_format)
        msg = f"{name} {text!r} does not match the time format {shown}"
        raise ValueReadError(msg) from None
    return to_utc(moment, zone)


class TimeReader:
    """`parse_time` in one format and zone, remembering the texts it read last.

    The lines of one document share their posting and entry times, and the
    cursor field is usually the entry time read again, so most rows hit.
    """

    def __init__(self, time_format: str, zone: ZoneInfo, capacity: int = 4096) -> None:
        self.time_format = time_format
        self.zone = zone
        self._capacity = capacity
        self._read: dict[str, datetime] = {}

    def read(self, value: object, name: str) -> datetime:
        if type(value) is str:
            known = self._read.get(value)
            if known is not None:
                return known
        moment = parse_time(value, name, self.time_format, self.zone)
        if type(value) is str:
            if len(self._read) >= self._capacity:
                self._read.clear()
            self._read[value] = moment
        return moment


def format_time(moment: datetime, time_format: str, zone: ZoneInfo) -> str:
    """`moment` as the source writes it: wall-clock time in `zone`, in its format."""
    local = moment.astimezone(zone)
    if time_format == ISO:
        return local.isoformat(timespec="seconds")
    return local.replace(tzinfo=None).strftime(time_format)


def json_safe(value: object) -> object:
    """`value` fit for a JSON column: numbers as their exact text, containers copied."""
    if type(value) is dict:  # the hot path: text and nulls pass as they are
        return {
            key if type(key) is str else str(key): (
                item if type(item) is str or item is None else json_safe(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None or isinstance(value, str | bool):
        return value
    return repr(value)


def _excerpt(value: object) -> str:
    text = repr(json_safe(value))
    return text if len(text) <= 80 else text[:77] + "..."
