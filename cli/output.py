"""Printing rows as a table for people, or CSV / JSON for tools.

Decimals print as exact strings and times as ISO 8601 UTC in every format,
so what a tool reads is what the store holds.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from rich.console import Console
from rich.table import Table

__all__ = ["OutputFormat", "emit", "plain"]


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def plain(value: object) -> object:
    """A value as JSON/CSV carries it: Decimal and datetime as text, None as ""."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def emit(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[str],
    fmt: OutputFormat,
    *,
    title: str = "",
) -> int:
    """Print `rows` (only `columns`, in order) in `fmt`; returns how many."""
    count = 0
    if fmt is OutputFormat.JSON:
        out = sys.stdout
        out.write("[")
        for count, row in enumerate(rows, start=1):
            record = {c: plain(row.get(c)) for c in columns}
            out.write(
                ("\n  " if count == 1 else ",\n  ")
                + json.dumps(record, ensure_ascii=False)
            )
        out.write("\n]\n" if count else "]\n")
        return count
    if fmt is OutputFormat.CSV:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([plain(row.get(c)) for c in columns])
            count += 1
        return count
    table = Table(title=title or None, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(plain(row.get(c))) for c in columns))
        count += 1
    Console().print(table)
    return count
