"""Reading a whole form through ExecuteBillQuery: rows bound to names, pages by keyset.

ExecuteBillQuery answers positional rows in FieldKeys order; each row is
bound here to its keys by name, and a row that is not a list of exactly that
many cells is either K3's error wrapper (raised with its MsgCode) or a
protocol error, never data.

Pages follow a stable OrderString whose last keys are unique (FID, then the
entry id). Instead of moving `StartRow` forward, each page asks for the rows
*after* the last one read (a keyset filter, `StartRow` 0): a bill modified
or audited while we read moves to the end of the order instead of shifting
every later row back by one, which with `StartRow` offsets silently skips a
row. The keyset uses only `>` and `>=`, never `=` on a date, so a date that
renders with fewer digits than it is stored with cannot break the tie.
`Limit` is capped at 10000 (older servers at 2000, which they enforce
silently), so only a page shorter than 2000 rows, or an empty one, ends the
read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from stockbridge.connectors.errors import ProtocolError
from stockbridge.connectors.k3cloud_client import WebApiClient

__all__ = [
    "MAX_LIMIT",
    "BillQuery",
    "OrderKey",
    "Position",
    "Row",
    "bind_rows",
    "date_literal",
    "raw_row",
    "read_pages",
]

MAX_LIMIT = 10_000
_SAFE_PAGE = 2_000
"""The smallest cap a server applies to Limit: a page this long may not be the last."""

_DATE = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,7})?")

Row = dict[str, Any]
Position = tuple[Any, ...]
"""The order-key values of the last row read."""


@dataclass(frozen=True)
class OrderKey:
    """One key of the OrderString, and how its values are written as literals."""

    key: str
    kind: Literal["date", "int", "text"]


@dataclass(frozen=True)
class BillQuery:
    """A form, the FieldKeys to read, a FilterString and a unique stable order."""

    form_id: str
    keys: tuple[str, ...]
    filter: str
    order: tuple[OrderKey, ...]

    def __post_init__(self) -> None:
        missing = [o.key for o in self.order if o.key not in self.keys]
        if missing:
            msg = f"order keys {missing} must be among the FieldKeys"
            raise ValueError(msg)


def date_literal(text: str) -> str:
    """A K3 date as a FilterString literal ('2026-03-23 10:44:38.64'), else ValueError."""
    if not _DATE.fullmatch(text):
        msg = f"{text!r} is not a K3 date"
        raise ValueError(msg)
    return f"'{text.replace('T', ' ')}'"


def _literal(order: OrderKey, value: object) -> str:
    if order.kind == "date":
        return date_literal(str(value))
    if order.kind == "int":
        return str(int(str(value)))
    return "'" + str(value).replace("'", "''") + "'"


def _after(order: Sequence[OrderKey], position: Position) -> str:
    """A filter for the rows strictly after `position` in `order`.

    `(a, b) > (x, y)` is `a > x OR (a >= x AND b > y)`: the `>=` branch only
    adds rows where a = x, without ever comparing a date for equality. A None
    value sorts first (as SQL Server and SQLite order NULLs).
    """
    head, value = order[0], position[0]
    rest = _after(order[1:], position[1:]) if len(order) > 1 else ""
    if value is None:
        if not rest:
            return f"{head.key} IS NOT NULL"
        return f"({head.key} IS NOT NULL OR ({head.key} IS NULL AND {rest}))"
    literal = _literal(head, value)
    if not rest:
        return f"{head.key} > {literal}"
    return f"({head.key} > {literal} OR ({head.key} >= {literal} AND {rest}))"


def read_pages(
    client: WebApiClient,
    query: BillQuery,
    *,
    limit: int,
    after: Position | None = None,
) -> Iterator[list[Row]]:
    """Every row of `query` after `after` (None: from the first), page by page."""
    limit = max(1, min(limit, MAX_LIMIT))
    order_string = ", ".join(f"{o.key} ASC" for o in query.order)
    position = after
    while True:
        conditions = [f"({query.filter})"] if query.filter else []
        if position is not None:
            try:
                conditions.append(_after(query.order, position))
            except ValueError as exc:
                msg = f"{query.form_id}: cannot page on after row {position!r}: {exc}"
                raise ProtocolError(msg, source=client.source) from None
        data = {
            "FormId": query.form_id,
            "FieldKeys": ",".join(query.keys),
            "FilterString": " AND ".join(conditions),
            "OrderString": order_string,
            "StartRow": 0,
            "Limit": limit,
        }
        rows = bind_rows(client.execute_bill_query(data), query, source=client.source)
        if rows:
            yield rows
            position = tuple(rows[-1][o.key] for o in query.order)
        if len(rows) < min(limit, _SAFE_PAGE):
            return


def bind_rows(reply: Sequence[Any], query: BillQuery, *, source: str) -> list[Row]:
    """Positional rows as {FieldKey: value}; anything else in the reply is an error."""
    width = len(query.keys)
    bound: list[Row] = []
    for row in reply:
        if not isinstance(row, list) or len(row) != width:
            msg = (
                f"ExecuteBillQuery on {query.form_id} answered a row that is not "
                f"{width} values in FieldKeys order: {_excerpt(row)}"
            )
            raise ProtocolError(msg, source=source)
        bound.append(dict(zip(query.keys, row, strict=True)))
    return bound


def raw_row(row: Mapping[str, Any]) -> dict[str, object]:
    """A bound row as JSON-safe text for quarantine (numbers as their decimal text)."""
    return {
        key: value if value is None or type(value) is str else str(value)
        for key, value in row.items()
    }


def _excerpt(value: object) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "…"
