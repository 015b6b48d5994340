"""Walking a listing page by page in the style its API speaks (see `PaginationSettings`).

Each style ends on the server's own signal (an empty or short page, the
total reached, no next cursor or link) and refuses to go round in circles:
a cursor, link or last id seen before, or a page identical to the one
before it (a server that ignores the page parameter), is a `ProtocolError`
rather than an endless pull. Only the current page is held in memory.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin

from stockbridge.connectors.errors import ProtocolError
from stockbridge.connectors.mes_rest_client import MesClient, Reply
from stockbridge.connectors.mes_rest_streams import PaginationSettings
from stockbridge.connectors.mes_rest_values import (
    MISSING,
    FieldPath,
    ValueReadError,
    decimal_value,
    text_value,
)
from stockbridge.connectors.retry import RetryPolicy

__all__ = ["Listing", "pages"]


@dataclass(frozen=True, slots=True)
class Listing:
    """One listing to walk: an endpoint, its fixed parameters and its paging."""

    label: str
    """Which part of a fan-out this is ('' when there is none); names cursor positions."""
    method: str
    target: str
    pagination: PaginationSettings
    params: Mapping[str, object] = field(default_factory=dict)

    def with_params(self, **extra: object) -> Listing:
        return Listing(
            self.label,
            self.method,
            self.target,
            self.pagination,
            {**self.params, **extra},
        )


class _Walk:
    """What every style needs: the call, and reading items, totals and next values."""

    def __init__(
        self, client: MesClient, listing: Listing, size: int, retry: RetryPolicy | None
    ) -> None:
        self.client = client
        self.listing = listing
        self.size = size
        self.retry = retry
        pagination = listing.pagination
        self.items_path = (
            FieldPath(pagination.items_path) if pagination.items_path else None
        )
        self.size_param = pagination.size_parameter

    def call(self, params: Mapping[str, object], target: str | None = None) -> Reply:
        return self.client.call(
            self.listing.method, target or self.listing.target, params, retry=self.retry
        )

    def sized(self, **paging: object) -> dict[str, object]:
        params = dict(self.listing.params)
        if self.size_param:
            params[self.size_param] = self.size
        params.update(paging)
        return params

    def items(self, reply: Reply) -> list[object]:
        value = (
            reply.data if self.items_path is None else self.items_path.get(reply.data)
        )
        if value is None:
            return []  # some servers say "no rows" with null
        if not isinstance(value, list):
            where = self.items_path.text if self.items_path else "the data"
            found = "nothing" if value is MISSING else type(value).__name__
            msg = (
                f"{self.listing.target}: expected a list of rows at {where!r}, found "
                f"{found}; check pagination.items_path and envelope.data_path"
            )
            raise self.error(msg)
        return value

    def text_at(self, path: str, value: object, what: str) -> str:
        try:
            return text_value(FieldPath(path).get(value), what)
        except ValueReadError as exc:
            raise self.error(f"{self.listing.target}: {exc}") from None

    def total(self, reply: Reply) -> int | None:
        path = self.listing.pagination.total_path
        if path is None:
            return None
        try:
            return int(decimal_value(FieldPath(path).get(reply.data), path))
        except ValueReadError as exc:
            raise self.error(f"{self.listing.target}: total {exc}") from None

    def error(self, message: str) -> ProtocolError:
        return ProtocolError(message, source=self.client.source)

    def loop(self, what: str, value: str) -> ProtocolError:
        return self.error(
            f"{self.listing.target}: the server sent {what} {value!r} twice; "
            "stopping instead of reading the same rows forever"
        )


def pages(
    client: MesClient,
    listing: Listing,
    *,
    size: int | None = None,
    retry: RetryPolicy | None = None,
) -> Generator[list[object]]:
    """The rows of `listing`, one list per server page, in the server's order."""
    walk = _Walk(client, listing, size or listing.pagination.size, retry)
    style = listing.pagination.style
    if style == "none":
        yield walk.items(walk.call(listing.params))
    elif style in ("page", "offset"):
        yield from _numbered(walk)
    elif style == "cursor":
        yield from _cursor(walk)
    elif style == "link":
        yield from _link(walk)
    else:
        yield from _after_id(walk)


def _numbered(walk: _Walk) -> Iterator[list[object]]:
    """page/offset: stop on an empty page, at the total, or on a short page without one."""
    pagination = walk.listing.pagination
    by_page = pagination.style == "page"
    page, offset, fetched = pagination.first_page, 0, 0
    previous: list[object] | None = None
    while True:
        position = (
            {pagination.page_param: page}
            if by_page
            else {pagination.offset_param: offset}
        )
        reply = walk.call(walk.sized(**position))
        items = walk.items(reply)
        if items and items == previous:
            what = f"page {page}" if by_page else f"offset {offset}"
            msg = (
                f"{walk.listing.target}: {what} repeats the page before it; the "
                "server ignores the paging parameter (check pagination)"
            )
            raise walk.error(msg)
        if items:
            yield items
        fetched += len(items)
        total = walk.total(reply)
        if not items or (total is not None and fetched >= total):
            return
        if total is None and len(items) < walk.size:
            return
        previous = items
        page += 1
        offset += len(items)


def _cursor(walk: _Walk) -> Iterator[list[object]]:
    pagination = walk.listing.pagination
    next_path = pagination.next_path or ""
    seen: set[str] = set()
    cursor = ""
    while True:
        paging = {pagination.cursor_param: cursor} if cursor else {}
        reply = walk.call(walk.sized(**paging))
        items = walk.items(reply)
        if items:
            yield items
        cursor = walk.text_at(next_path, reply.data, f"next cursor ({next_path})")
        if not cursor:
            return
        if cursor in seen:
            raise walk.loop("the cursor", cursor)
        seen.add(cursor)


def _link(walk: _Walk) -> Iterator[list[object]]:
    """Follow next links on the API's own origin only: our credentials go nowhere else."""
    next_path = walk.listing.pagination.next_path
    seen: set[str] = set()
    target = walk.listing.target
    params: Mapping[str, object] = walk.sized()
    while True:
        reply = walk.call(params, target)
        items = walk.items(reply)
        if items:
            yield items
        link = (
            walk.text_at(next_path, reply.data, f"next link ({next_path})")
            if next_path
            else reply.next_link or ""
        )
        if not link:
            return
        link = urljoin(reply.url, link)
        if not walk.client.same_origin(link):
            msg = (
                f"{walk.listing.target}: the next link {link!r} leaves the API's "
                "origin; not following it with our credentials"
            )
            raise walk.error(msg)
        if link in seen:
            raise walk.loop("the next link", link)
        seen.add(link)
        target = link
        if walk.listing.method == "GET":
            params = {}  # the link carries the query


def _after_id(walk: _Walk) -> Iterator[list[object]]:
    """简道云 style: the last row's id is the exclusive cursor; a short page is the end."""
    pagination = walk.listing.pagination
    id_path = pagination.id_path or ""
    last = ""
    while True:
        paging = {pagination.cursor_param: last} if last else {}
        items = walk.items(walk.call(walk.sized(**paging)))
        if items:
            yield items
        if len(items) < walk.size:
            return
        key = walk.text_at(id_path, items[-1], f"the last row's id ({id_path})")
        if not key:
            msg = f"{walk.listing.target}: the last row of a page has no {id_path!r}"
            raise walk.error(msg)
        if key == last:
            raise walk.loop("the last id", key)
        last = key
