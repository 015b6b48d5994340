"""Cell values of database rows and spreadsheet drops, read strictly.

Generic SQL results and CSV/XLSX drops hand us whatever type the driver or
the file holds: text, int, Decimal, float, datetime. Each reader here turns
one cell into what the canonical model needs or raises `CellError` saying
what is wrong with it, so the row becomes a reject with a reason instead of
a guess.

Floats. A float reaches us from a FLOAT/REAL database column (SQLite stores
NUMERIC as REAL, the SQLite ODBC driver returns float) or from an XLSX
number cell (Excel keeps every number as an IEEE double). It is read as the
decimal of its 15 significant digits (`format(value, ".15g")`): every
decimal written with at most 15 significant digits survives the trip
through a double and back unchanged (DBL_DIG = 15), so 12.5, 0.1 and
1234.567 come back exactly as typed, and a formula result such as
0.1 * 3 = 0.30000000000000004 comes back as 0.3, the value Excel itself
shows and computes with (its precision is 15 digits). A quantity with more
than 15 significant digits cannot be held by a float at all: give such
columns a DECIMAL/text type (SQL: cast in the query) or format the cells
as text. The cell's number format is not used: it is display only, and
applying it ("0" shows 12.5 as 13) would change quantities silently.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from stockbridge.mapping.timezones import to_utc

__all__ = [
    "CellError",
    "decimal_value",
    "float_decimal",
    "raw_text",
    "text_value",
    "time_value",
]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = {
    sep: re.compile(rf"[+-]?\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+(?:\.\d*)?")
    for sep in (",", " ", "'", "\u00a0", "\u202f", "_")
}
_DATE_SLASHES = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")


class CellError(ValueError):
    """A cell that cannot be read; the message names the column and value."""

    def __init__(self, column: str, value: object, problem: str) -> None:
        self.column = column
        super().__init__(f"column {column}: {_shown(value)} {problem}")


def _shown(value: object) -> str:
    if value is None:
        return "the cell"
    text = raw_text(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def float_decimal(value: float) -> Decimal:
    """The decimal of a float's 15 significant digits (see the module docstring)."""
    return Decimal(format(value, ".15g"))


def decimal_value(value: object, *, thousands: str | None = None) -> Decimal:
    """An exact Decimal from a number cell or number text; ValueError if it is none.

    Text must be a plain decimal (sign, digits, point, exponent); with
    `thousands` set, groups of three separated by it are accepted too
    ("1,234.5"), and nothing looser: "1,2,3" is not a number.
    """
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool):
        raise ValueError("is a boolean, not a number")  # noqa: TRY004 - a bad cell value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("is not a finite number")
        number = float_decimal(value)
    elif isinstance(value, str):
        number = _decimal_text(value, thousands)
    elif value is None:
        raise ValueError("is empty")
    else:
        raise ValueError(f"is a {type(value).__name__}, not a number")
    if not number.is_finite():
        raise ValueError("is not a finite number")
    return number


def _decimal_text(value: str, thousands: str | None) -> Decimal:
    text = value.strip()
    if not text:
        raise ValueError("is empty")
    if _NUMBER.fullmatch(text):
        return Decimal(text)
    if thousands is not None:
        grouped = _GROUPED.get(thousands)
        if grouped is not None and grouped.fullmatch(text):
            return Decimal(text.replace(thousands, ""))
    raise ValueError("is not a number")


def text_value(value: object) -> str:
    """A code or name as text: trimmed; integral numbers without a '.0'."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float):
        return format(float_decimal(value), "f")
    return raw_text(value).strip()


def raw_text(value: object) -> str:
    """A cell as JSON-safe text for `raw` (quarantine keeps what the source had)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def time_value(value: object, zone: ZoneInfo, *, layout: str | None = None) -> datetime:
    """An aware UTC time from a datetime, date or text cell; naive ones are in `zone`.

    Text is ISO 8601 ("2026-03-01 08:00:00", "2026-03-01T08:00:00+08:00",
    "2026-03-01") or, as Chinese exports often write it, "2026/3/1 8:00";
    `layout` (a strptime format) reads anything else.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str):
        moment = _time_text(value.strip(), layout)
    elif value is None:
        raise ValueError("is empty")
    else:
        raise ValueError(f"is a {type(value).__name__}, not a date or time")
    return to_utc(moment, zone)


def _time_text(text: str, layout: str | None) -> datetime:
    if not text:
        raise ValueError("is empty")
    try:
        if layout is not None:
            return datetime.strptime(text, layout)  # noqa: DTZ007 - zone applied by caller
        iso = _DATE_SLASHES.sub(
            lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", text, count=1
        )
        if len(iso) > 10 and iso[10] == " " and iso[12:13] == ":":
            iso = f"{iso[:11]}0{iso[11:]}"  # "2026-03-01 8:00" -> "... 08:00"
        return datetime.fromisoformat(iso)
    except ValueError:
        wanted = f"in the layout {layout!r}" if layout else "like 2026-03-01 08:00:00"
        raise ValueError(f"is not a date or time {wanted}") from None
