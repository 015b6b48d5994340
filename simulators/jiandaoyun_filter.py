"""简道云's data filter, `{"rel": "and"|"or", "cond": [{"field", "method", "value"}]}`, as SQL.

Methods: eq, ne, in, nin (value lists), range ([low, high], either may be
null), empty, not_empty. Number widgets compare exactly, in thousandths
(`<column>_milli`); datetime widgets compare as UTC instants whatever offset
the value is written with. Anything else is an invalid request, as it is to
the real API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Literal

__all__ = ["FilterError", "Widget", "filter_sql", "jdy_time"]

WidgetKind = Literal["text", "number", "datetime"]


@dataclass(frozen=True, slots=True)
class Widget:
    name: str
    """The field id, `_widget_<n>`."""
    column: str
    title: str
    kind: WidgetKind


class FilterError(ValueError):
    """A filter the API refuses."""


def jdy_time(moment: datetime) -> str:
    """A datetime as 简道云 sends it: UTC with milliseconds, '2026-03-31T16:00:00.000Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _values(condition: dict[str, object]) -> list[object]:
    value = condition.get("value")
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _number(value: object, rounding: str | None = None) -> int | None:
    """Thousandths of a number; None if it has none (then nothing equals it)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FilterError(f"not a number: {value!r}")
    try:
        milli = Decimal(str(value)) * 1000
    except InvalidOperation:
        raise FilterError(f"not a number: {value!r}") from None
    if rounding is not None:
        return int(milli.to_integral_value(rounding))
    return int(milli) if milli == milli.to_integral_value() else None


def _datetime(value: object) -> str:
    if not isinstance(value, str):
        raise FilterError(f"not a datetime: {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(f"not a datetime: {value!r}") from None
    if moment.tzinfo is None:
        raise FilterError(f"datetime without an offset: {value!r}")
    return jdy_time(moment)


def _operand(widget: Widget, value: object, rounding: str | None = None) -> object:
    if widget.kind == "number":
        return _number(value, rounding)
    if widget.kind == "datetime":
        return _datetime(value)
    if not isinstance(value, str):
        raise FilterError(f"not text: {value!r}")
    return value


def _condition(
    widget: Widget, method: str, values: list[object]
) -> tuple[str, list[object]]:
    column = f"{widget.column}_milli" if widget.kind == "number" else widget.column
    if method in ("empty", "not_empty"):
        sql = f"({column} IS NULL OR {column} = '')"
        return (sql if method == "empty" else f"NOT {sql}"), []
    if method == "range":
        if len(values) != 2:
            raise FilterError("range takes [low, high]")
        parts, params = [], []
        for bound, operator, rounding in zip(
            values, (">=", "<="), (ROUND_CEILING, ROUND_FLOOR), strict=True
        ):
            if bound is not None and bound != "":
                parts.append(f"{column} {operator} ?")
                params.append(_operand(widget, bound, rounding))
        return " AND ".join(parts) or "1", params
    if method not in ("eq", "ne", "in", "nin") or not values:
        raise FilterError(f"method {method!r} with values {values!r}")
    if method in ("eq", "ne"):
        values = values[:1]
    operands = [
        v for v in (_operand(widget, value) for value in values) if v is not None
    ]
    if not operands:  # a number with no exact thousandths equals nothing
        return ("0" if method in ("eq", "in") else "1"), []
    marks = ", ".join("?" * len(operands))
    negate = "NOT " if method in ("ne", "nin") else ""
    return f"{column} {negate}IN ({marks})", operands


def filter_sql(raw: object, widgets: dict[str, Widget]) -> tuple[str, list[object]]:
    """The WHERE clause and its parameters for a request's `filter` (None: everything)."""
    if raw is None:
        return "1", []
    if not isinstance(raw, dict):
        raise FilterError("filter must be an object")
    relation = raw.get("rel", "and")
    conditions = raw.get("cond", [])
    if relation not in ("and", "or") or not isinstance(conditions, list):
        raise FilterError("filter needs rel 'and'/'or' and a cond list")
    parts: list[str] = []
    params: list[object] = []
    for condition in conditions:
        if not isinstance(condition, dict) or condition.get("field") not in widgets:
            raise FilterError(f"unknown filter field in {condition!r}")
        sql, values = _condition(
            widgets[str(condition["field"])],
            str(condition.get("method")),
            _values(condition),
        )
        parts.append(f"({sql})")
        params.extend(values)
    if not parts:
        return "1", []
    return f" {relation.upper()} ".join(parts), params
