"""Choosing consolidated rows for a write-back sink and shaping each into a payload.

Values are text: quantities as plain decimal text (`12.5`, never a float
and never an exponent), times as ISO 8601 UTC, codes translated through
the sink's `codes` tables. A code a given table lacks is not guessed: every
missing one is collected while shaping, and the push stops before anything
is sent, naming them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from stockbridge.config.sinks_section import (
    CODE_COLUMNS,
    PLACEHOLDER,
    CodeColumn,
    RowSelection,
)
from stockbridge.sinks.base import Row, SinkError

__all__ = ["RowShaper", "decimal_text"]

_SHOWN_MISSING = 10


def decimal_text(value: Decimal) -> str:
    """`12.500000` -> `12.5`, `100` -> `100`: one text per number, no exponent."""
    return f"{value.normalize():f}" if value else "0"


class RowShaper:
    """A sink's row selection, code tables and templates, applied row by row."""

    def __init__(
        self,
        sink: str,
        select: RowSelection,
        codes: Mapping[CodeColumn, Mapping[str, str]],
    ) -> None:
        self.sink = sink
        self.select = select
        self.codes = codes
        self._missing: dict[CodeColumn, set[str]] = {}

    def selected(self, rows: Iterable[Row]) -> Iterator[Row]:
        """The rows the selection takes, in the order given."""
        s = self.select
        for row in rows:
            if s.site and row["site"] not in s.site:
                continue
            if s.warehouse and row["warehouse"] not in s.warehouse:
                continue
            if s.status and row["status"] not in s.status:
                continue
            if s.conflicts_only and not row["conflict"]:
                continue
            if s.difference is not None:
                gap = self._gap(row)
                if (gap <= 0) if s.difference.sign == "positive" else (gap >= 0):
                    continue
            yield row

    def render(self, template: object, row: Row) -> Any:
        """`template` with the row's values in its placeholders."""
        return _fill(template, self._values(row))

    def check_codes(self) -> None:
        """Raise `SinkError` naming every code the `codes` tables lacked so far."""
        if not self._missing:
            return
        parts = []
        for column, values in sorted(self._missing.items()):
            shown = sorted(values)[:_SHOWN_MISSING]
            more = len(values) - len(shown)
            parts.append(
                f"{column} {', '.join(shown)}" + (f" and {more} more" if more else "")
            )
        msg = (
            f"sink {self.sink!r}: no target code for {'; '.join(parts)} in its "
            "`codes` tables; nothing was sent"
        )
        raise SinkError(msg)

    def _gap(self, row: Row) -> Decimal:
        rule = self.select.difference
        assert rule is not None  # noqa: S101 - only called when a rule is set
        figure: Decimal = row["sources"].get(rule.source, Decimal(0))
        gap: Decimal = row["quantity"] - figure
        return gap

    def _values(self, row: Row) -> dict[str, str]:
        values: dict[str, str] = {
            column: self._code(column, str(row[column])) for column in CODE_COLUMNS
        }
        for name in ("quantity", "available", "reserved"):
            values[name] = decimal_text(row[name])
        safety = row["safety_stock"]
        values["safety_stock"] = "" if safety is None else decimal_text(safety)
        values["as_of"] = row["as_of"].isoformat().replace("+00:00", "Z")
        if self.select.difference is not None:
            values["difference"] = decimal_text(abs(self._gap(row)))
        for source, figure in row["sources"].items():
            values[f"source.{source}"] = decimal_text(figure)
        return values

    def _code(self, column: CodeColumn, value: str) -> str:
        table = self.codes.get(column)
        if table is None:
            return value
        translated = table.get(value)
        if translated is None:
            self._missing.setdefault(column, set()).add(value or "''")
            return value
        return translated


def _fill(template: object, values: Mapping[str, str]) -> Any:
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values) for value in template]
    if isinstance(template, str):
        # A source without a figure for the key leaves its placeholder empty.
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template)
    return template
