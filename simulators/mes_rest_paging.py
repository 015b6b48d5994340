"""The three pagination styles an MES REST API may speak; a server speaks one.

Field installations differ, so a connector is configured for the style its
MES uses:

- `page`:   `pageNo` (from 1), `pageSize` -> `data: {records, total, pageNo, pageSize}`
- `offset`: `offset` (from 0), `limit`   -> `data: {items, total}`
- `cursor`: `cursor` (opaque), `limit`   -> `data: {items, nextCursor}`, with
  `nextCursor` null on the last page

Parameters of the other styles are ignored, as real servers ignore unknown
ones. A bad value is a business error (code 4001 in HTTP 200), which a
connector must not read as an empty page.

Every listing is a table numbered in serving order (`seq`), so a cursor page
is an index range; a page/offset page is one too when the previous page of
the same query ended where it starts (`ListingCache`), else `LIMIT/OFFSET`.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Literal

from stockbridge.simulators.http_server import Request

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "PAGINATION_STYLES",
    "ListingCache",
    "PageRequest",
    "PaginationStyle",
    "ParameterError",
    "list_page",
    "read_page_request",
]

PaginationStyle = Literal["page", "offset", "cursor"]
PAGINATION_STYLES: tuple[PaginationStyle, ...] = ("page", "offset", "cursor")
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100


class ParameterError(ValueError):
    """A query parameter the MES refuses; its message is the envelope's `msg`."""


@dataclass(frozen=True, slots=True)
class PageRequest:
    style: PaginationStyle
    scope: str
    """The listing a cursor belongs to; a cursor of another listing is refused."""
    limit: int
    offset: int = 0
    after: int = 0
    """The `seq` a cursor points past."""
    page_no: int = 1


def _integer(request: Request, name: str, default: int, low: int) -> int:
    text = request.arg(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ParameterError(f"参数错误: {name} 必须为整数") from None
    if value < low:
        raise ParameterError(f"参数错误: {name} 不能小于 {low}")
    return value


def _size(request: Request, name: str) -> int:
    size = _integer(request, name, DEFAULT_PAGE_SIZE, 1)
    if size > MAX_PAGE_SIZE:
        raise ParameterError(f"参数错误: {name} 超过上限 {MAX_PAGE_SIZE}")
    return size


def _encode_cursor(scope: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{scope}:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(scope: str, cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        cursor_scope, seq = text.split(":")
        if cursor_scope == scope and seq.isdigit():
            return int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ParameterError("参数错误: cursor 无效")


def read_page_request(
    style: PaginationStyle, request: Request, scope: str
) -> PageRequest:
    """The page asked for, in the server's style."""
    if style == "page":
        page_no = _integer(request, "pageNo", 1, 1)
        size = _size(request, "pageSize")
        return PageRequest(style, scope, size, (page_no - 1) * size, page_no=page_no)
    if style == "offset":
        limit = _size(request, "limit")
        return PageRequest(style, scope, limit, _integer(request, "offset", 0, 0))
    limit = _size(request, "limit")
    cursor = request.arg("cursor") or ""
    after = _decode_cursor(scope, cursor) if cursor else 0
    return PageRequest(style, scope, limit, after=after)


class ListingCache:
    """Totals and page ends of recent listings, kept per query.

    A connector walks page after page; remembering where each page ended makes
    the next one an index seek instead of an OFFSET scan from the start, and
    the total a lookup instead of a count. A real MES would scan; the
    simulator must not be what a benchmark measures. The share never changes
    under an app, and the late knob is part of the query, so an entry never
    goes stale.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._totals: OrderedDict[Hashable, int] = OrderedDict()
        self._ends: OrderedDict[Hashable, int] = OrderedDict()
        self._lock = threading.Lock()

    def total(self, key: Hashable, count: Callable[[], int]) -> int:
        with self._lock:
            if key in self._totals:
                return self._totals[key]
        value = count()
        self._keep(self._totals, key, value)
        return value

    def seq_before(self, key: Hashable, offset: int) -> int | None:
        """The `seq` of the row just before `offset`, if a page ended there."""
        with self._lock:
            return 0 if offset == 0 else self._ends.get((key, offset))

    def page_ended(self, key: Hashable, offset: int, seq: int) -> None:
        self._keep(self._ends, (key, offset), seq)

    def _keep(
        self, entries: OrderedDict[Hashable, int], key: Hashable, value: int
    ) -> None:
        with self._lock:
            entries[key] = value
            if len(entries) > self._capacity:
                entries.popitem(last=False)


def list_page(
    conn: sqlite3.Connection,
    page: PageRequest,
    cache: ListingCache,
    *,
    table: str,
    columns: str,
    where: list[str],
    params: list[object],
    render: Callable[[tuple[object, ...]], dict[str, object]],
) -> dict[str, object]:
    """The envelope's `data` for one page of `table` (numbered by `seq`) under `where`."""
    condition = " AND ".join(where) or "1"
    select = f"SELECT seq, {columns} FROM {table} WHERE {condition}"  # noqa: S608 - fixed names
    if page.style == "cursor":
        rows = conn.execute(
            f"{select} AND seq > ? ORDER BY seq LIMIT ?",
            [*params, page.after, page.limit + 1],
        ).fetchall()
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        return {
            "items": [render(row[1:]) for row in rows],
            "nextCursor": _encode_cursor(page.scope, rows[-1][0]) if more else None,
        }
    key = (table, condition, tuple(params))
    after = cache.seq_before(key, page.offset)
    if after is None:
        rows = conn.execute(
            f"{select} ORDER BY seq LIMIT ? OFFSET ?",
            [*params, page.limit, page.offset],
        ).fetchall()
    else:
        rows = conn.execute(
            f"{select} AND seq > ? ORDER BY seq LIMIT ?", [*params, after, page.limit]
        ).fetchall()
    if rows:
        cache.page_ended(key, page.offset + len(rows), rows[-1][0])
    total = cache.total(
        key,
        lambda: int(
            conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {condition}",  # noqa: S608 - fixed names
                params,
            ).fetchone()[0]
        ),
    )
    items = [render(row[1:]) for row in rows]
    if page.style == "page":
        return {
            "records": items,
            "total": total,
            "pageNo": page.page_no,
            "pageSize": page.limit,
        }
    return {"items": items, "total": total}
