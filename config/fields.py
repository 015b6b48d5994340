"""Value types of the config, each with a message that tells how to fix it.

They exist because YAML guesses types: `0.1` becomes a binary float (inexact,
so quantities and factors must be quoted), `000123` becomes a number (so
codes must be quoted to keep their zeros), `yes` becomes true. Each type says
what it wants in the words a user would write, and each serialises back to
the text it was written as, so `config check` prints a valid config.
"""

from __future__ import annotations

import difflib
import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BeforeValidator, Field, PlainSerializer
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from stockbridge.config.errors import config_problem, describe_value
from stockbridge.config.masking import MASK
from stockbridge.mapping.units import UNITS

__all__ = [
    "Code",
    "DatabaseUrl",
    "DecimalText",
    "Duration",
    "Factor",
    "Name",
    "PositiveInt",
    "TimeZoneName",
    "UnitCode",
    "default_store_url",
    "duration_or_none",
    "format_duration",
    "format_fraction",
]

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_WORDS = "a duration such as 30s, 15m, 2h, 1d or 1h30m"
_QUOTE_NUMBER = (
    'Quote it, e.g. "0.5": unquoted, YAML reads it as a binary float, '
    "which cannot hold most decimals exactly."
)


def duration_or_none(text: str) -> timedelta | None:
    """`1h30m` -> 90 minutes (units d, h, m, s, largest first), else None."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        return None
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    duration = duration_or_none(value) if isinstance(value, str) else None
    if duration is None:
        raise config_problem(_DURATION_WORDS, describe_value(value))
    return duration


def format_duration(value: timedelta) -> str:
    """The shortest text `duration_or_none` reads back as `value`."""
    seconds = int(value.total_seconds())
    text = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            text += f"{count}{unit}"
    return text or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
]


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _time_zone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise config_problem(
            "an IANA time zone name such as Asia/Shanghai", describe_value(value)
        )
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, _zone_names(), n=1, cutoff=0.6)
        hint = f"Did you mean {close[0]!r}?" if close else ""
        raise config_problem(
            "an IANA time zone name such as Asia/Shanghai",
            f"{value!r}, which is not one",
            hint,
        ) from None
    return value


TimeZoneName = Annotated[str, BeforeValidator(_time_zone)]


def _decimal_text(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise config_problem(
            "a decimal number written as text", describe_value(value), _QUOTE_NUMBER
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    raise config_problem(
        'a decimal number written as text, e.g. "0.5"', describe_value(value)
    )


DecimalText = Annotated[
    Decimal, BeforeValidator(_decimal_text), PlainSerializer(str, return_type=str)
]
"""An exact decimal: from text or a whole number, never from a YAML float."""


def _factor(value: object) -> Fraction:
    expected = 'a positive number written as text, e.g. "24", "0.6" or "3/5"'
    if isinstance(value, Fraction):
        number: Fraction | None = value
    elif isinstance(value, float):
        raise config_problem(expected, describe_value(value), _QUOTE_NUMBER)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Fraction(value)
    elif isinstance(value, str):
        number = _parse_fraction(value)
    else:
        number = None
    if number is None or number <= 0:
        raise config_problem(expected, describe_value(value))
    return number


def _parse_fraction(text: str) -> Fraction | None:
    parts = text.split("/")
    if len(parts) > 2:
        return None
    try:
        numbers = [Decimal(part.strip()) for part in parts]
    except InvalidOperation:
        return None
    if not all(number.is_finite() for number in numbers) or numbers[-1] == 0:
        return None
    fraction = Fraction(numbers[0])
    return fraction / Fraction(numbers[1]) if len(numbers) == 2 else fraction


def format_fraction(value: Fraction) -> str:
    """`24`, `0.6` or `1/3`: a decimal when one is exact, else a fraction."""
    if value.denominator == 1:
        return str(value.numerator)
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        return str(Decimal(value.numerator) / Decimal(value.denominator))
    return f"{value.numerator}/{value.denominator}"


Factor = Annotated[
    Fraction,
    BeforeValidator(_factor),
    PlainSerializer(format_fraction, return_type=str),
]
"""An exact, positive conversion factor: "24", "0.6" or "3/5", never a YAML float."""


def _code(value: object) -> str:
    if isinstance(value, str) and value:
        return value
    hint = ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        hint = (
            'Quote codes, e.g. "000123": unquoted, YAML reads them as numbers '
            "and drops leading zeros."
        )
    raise config_problem("a code written as text", describe_value(value), hint)


Code = Annotated[str, BeforeValidator(_code)]
"""A system's code (material, warehouse, ...): text, exactly as written."""


def _unit_code(value: object) -> str:
    if isinstance(value, str) and value in UNITS:
        return value
    close = difflib.get_close_matches(str(value), list(UNITS), n=1)
    raise config_problem(
        "a UN/ECE Recommendation 20 unit code stockbridge knows: " + ", ".join(UNITS),
        describe_value(value),
        f"Did you mean {close[0]!r}?" if close else "",
    )


UnitCode = Annotated[str, BeforeValidator(_unit_code)]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _name(value: object) -> str:
    if isinstance(value, str) and _NAME.fullmatch(value):
        return value
    raise config_problem(
        "a name of letters, digits, _ and - (e.g. sap_plant1000)", describe_value(value)
    )


Name = Annotated[str, BeforeValidator(_name)]
"""The name of a source or alert channel, used in commands and the store."""


def _no_bool(value: object) -> object:
    if isinstance(value, bool):
        raise config_problem("a whole number", describe_value(value))
    return value


PositiveInt = Annotated[int, BeforeValidator(_no_bool), Field(gt=0)]


def default_store_url() -> URL:
    """The embedded store: `stockbridge.db` in the working directory."""
    return URL.create("sqlite", database=str(Path.cwd() / "stockbridge.db"))


def _database_url(value: object) -> URL:
    if isinstance(value, URL):
        return value
    expected = (
        "a SQLAlchemy database URL such as sqlite:///stockbridge.db or "
        "postgresql+psycopg://user:${PGPASSWORD}@host/db"
    )
    if not isinstance(value, str):
        raise config_problem(expected, describe_value(value))
    try:
        return make_url(value)
    except ArgumentError:
        # Not echoed: a malformed URL defeats masking its password.
        raise config_problem(expected, "text that is not such a URL") from None


def _masked_url(url: URL) -> str:
    if url.password is None:
        return url.render_as_string(hide_password=False)
    return url.render_as_string(hide_password=True).replace(":***@", f":{MASK}@", 1)


DatabaseUrl = Annotated[
    URL, BeforeValidator(_database_url), PlainSerializer(_masked_url, return_type=str)
]
"""A SQLAlchemy URL; its password never prints (SQLAlchemy masks it in repr too)."""
