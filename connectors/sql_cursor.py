"""The movements cursor of `kind: sql`: the last value of the user's cursor column.

A cursor column is a timestamp (an update or entry time), an integer (an
identity, a rowversion cast to bigint) or text (a zero-padded document
number). The committed cursor is the last value all of whose rows have been
read, so resuming with `> :cursor` never skips a row that shares its value
with the last one read; it is stored as JSON with its type, so a changed
`cursor_type` is noticed instead of compared across types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal

from stockbridge.connectors.errors import SourceConfigError
from stockbridge.connectors.row_values import text_value

__all__ = [
    "INITIAL_CURSOR",
    "CursorType",
    "CursorValue",
    "SqlCursor",
    "cursor_value",
    "out_of_order",
    "parse_cursor_text",
]

CursorType = Literal["timestamp", "integer", "text"]
CursorValue = datetime | int | str

INITIAL_CURSOR: Mapping[str, CursorValue] = {
    "timestamp": datetime(1900, 1, 1),  # noqa: DTZ001 - the source's own naive time
    "integer": -(2**63),
    "text": "",
}
"""`:cursor` before the first run, unless `initial_cursor` says otherwise."""


class SqlCursor:
    """The committed position: the last `cursor_column` value whose rows are all read."""

    def __init__(self, kind: CursorType, value: CursorValue) -> None:
        self.kind = kind
        self.value = value

    def to_json(self) -> str:
        """The cursor as sync stores it."""
        value = (
            self.value.isoformat() if isinstance(self.value, datetime) else self.value
        )
        return json.dumps({"type": self.kind, "value": value}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, kind: CursorType, *, source: str) -> SqlCursor:
        """Read a stored cursor; one of another type means the config changed."""
        try:
            data = json.loads(text)
            stored = data["type"]
            value = data["value"]
        except (ValueError, KeyError, TypeError):
            msg = f"stored movements cursor {text[:200]!r} is not a sql cursor"
            raise SourceConfigError(msg, source=source, stream="movements") from None
        if stored != kind:
            msg = (
                f"the stored cursor is a {stored} cursor but cursor_type is {kind}: "
                "run a full sync (--full) after changing the cursor column"
            )
            raise SourceConfigError(msg, source=source, stream="movements")
        try:
            return cls(kind, parse_cursor_text(str(value), kind))
        except ValueError:
            msg = f"stored movements cursor {text[:200]!r} has an unreadable value"
            raise SourceConfigError(msg, source=source, stream="movements") from None


def parse_cursor_text(text: str, kind: CursorType) -> CursorValue:
    """A cursor value from config or stored text; ValueError if it is not one."""
    if kind == "timestamp":
        try:
            return datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO time") from None
    if kind == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
    return text


def cursor_value(value: object, kind: CursorType) -> CursorValue:
    """A row's cursor column as a comparable value; ValueError if it cannot be one."""
    if value is None:
        raise ValueError("is empty")
    if kind == "timestamp":
        if isinstance(value, datetime):
            return value
        if isinstance(value, date):
            return datetime.combine(value, time())
        if isinstance(value, str):
            return parse_cursor_text(value, kind)
        raise ValueError(f"is a {type(value).__name__}, not a timestamp")
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        if isinstance(value, str):
            return parse_cursor_text(value, kind)
        raise ValueError(f"is a {type(value).__name__}, not an integer")
    return text_value(value)


def out_of_order(later: CursorValue, earlier: CursorValue) -> bool:
    """True when rows came out of cursor order (text order is the database's own)."""
    if isinstance(later, datetime) and isinstance(earlier, datetime):
        if (later.tzinfo is None) != (earlier.tzinfo is None):
            return False
        return later < earlier
    if isinstance(later, int) and isinstance(earlier, int):
        return later < earlier
    return False
