"""One OData read: resource path and query options in, JSON or Atom reply out.

Paging follows SAP's server-side caps: without `$top` a page holds
`page_size` rows (100) and a `__next` link; a `$top` above `max_page_size`
(5000) is served in pages of that size. The `$skiptoken` in a `__next` link
counts rows already delivered since `$skip`; each page is ordered by the
requested `$orderby` and then by the key, so pages never overlap or skip.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import orjson

from stockbridge.simulators.http_server import Response
from stockbridge.simulators.odata_engine import Reader, Where
from stockbridge.simulators.odata_query import (
    QueryError,
    parse_filter,
    parse_orderby,
    parse_select,
)
from stockbridge.simulators.odata_render import (
    Entity,
    atom_entry,
    atom_feed,
    json_entity,
)

__all__ = ["ReadRequest", "parse_read_request", "render_read"]

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?:\((?P<key>.*)\))?$")
_KEY_PAIR = re.compile(r"\s*(\w+)\s*=\s*('(?:[^']|'')*'|[^,]+)\s*(?:,|$)")
_NOT_FOUND = "/IWBEP/CM_MGW_RT/020"


@dataclass
class ReadRequest:
    set_name: str
    key: dict[str, str] | None = None
    nav: str | None = None
    count_only: bool = False
    filter: str = ""
    orderby: str = ""
    select: str = ""
    expand: list[str] = field(default_factory=list)
    top: int | None = None
    skip: int = 0
    skiptoken: int = 0
    inlinecount: bool = False


def _unquote_literal(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


def _key(reader: Reader, set_name: str, text: str) -> dict[str, str]:
    eset = reader.service.require_set(set_name)
    names = [k.name for k in eset.type.keys]
    if "=" not in text and len(names) == 1:
        return {names[0]: _unquote_literal(text)}
    pairs: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _KEY_PAIR.match(text, position)
        if not match:
            break
        pairs[match.group(1)] = _unquote_literal(match.group(2))
        position = match.end()
    if position < len(text) or sorted(pairs) != sorted(names):
        raise QueryError(
            f"Invalid key predicate '({text})' for entity set '{set_name}'",
            code=_NOT_FOUND,
        )
    return pairs


def _int_option(query: Mapping[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values:
        return None
    if not values[0].isdigit():
        raise QueryError(f"Invalid value '{values[0]}' for system query option {name}")
    return int(values[0])


def parse_read_request(
    reader: Reader, segments: list[str], query: Mapping[str, list[str]]
) -> ReadRequest:
    """The resource and options of a GET; unknown segments are SAP's 404."""
    parts = [s for s in segments if s]
    match = _SEGMENT.match(parts[0])
    eset = reader.service.entity_set(match.group("name")) if match else None
    if match is None or eset is None:
        raise QueryError(
            f"Resource not found for segment '{parts[0]}'", code=_NOT_FOUND, status=404
        )
    read = ReadRequest(eset.name)
    if match.group("key") is not None:
        read.key = _key(reader, eset.name, match.group("key"))
    rest = parts[1:]
    if rest and rest[-1] == "$count":
        read.count_only = True
        rest = rest[:-1]
    if rest:
        nav = eset.type.nav(rest[0])
        if read.key is None or nav is None or len(rest) > 1:
            raise QueryError(
                f"Resource not found for segment '{rest[0]}'",
                code=_NOT_FOUND,
                status=404,
            )
        read.nav = nav.name
    option = {k: v[0] for k, v in query.items() if v}
    read.filter = option.get("$filter", "")
    read.orderby = option.get("$orderby", "")
    read.select = option.get("$select", "")
    read.expand = [e.strip() for e in option.get("$expand", "").split(",") if e.strip()]
    read.top = _int_option(query, "$top")
    read.skip = _int_option(query, "$skip") or 0
    read.skiptoken = _int_option(query, "$skiptoken") or 0
    inlinecount = option.get("$inlinecount", "none")
    if inlinecount not in ("allpages", "none"):
        raise QueryError(
            f"Invalid value '{inlinecount}' for system query option $inlinecount"
        )
    read.inlinecount = inlinecount == "allpages"
    return read


def _not_found(type_name: str) -> QueryError:
    return QueryError(
        f"Resource not found for segment '{type_name}'", code=_NOT_FOUND, status=404
    )


def render_read(
    read: ReadRequest,
    conn: sqlite3.Connection,
    reader: Reader,
    *,
    root: str,
    hold_late: bool,
    wants_json: bool,
    next_url: Callable[[int], str],
    page_size: int,
    max_page_size: int,
) -> Response:
    namespace = reader.service.name
    target = read.set_name
    where: Where = []
    single = read.key is not None
    if read.key is not None:
        where = reader.key_where(target, read.key, hold_late)
        if read.nav is not None:
            sources = reader.fetch(conn, target, where, hold_late, limit=1)
            if not sources:
                raise _not_found(_type_name(reader, target))
            nav = sources[0].etype.require_nav(read.nav)
            target, where = reader.navigate(nav, sources[0].values, hold_late)
            single = not nav.to_many
    etype = reader.service.require_set(target).type
    columns = reader.columns(target, hold_late)
    if read.filter:
        where = [*where, parse_filter(read.filter, columns, etype.name)]
    if read.count_only:
        return Response.text(str(reader.count(conn, target, where, hold_late)))
    selected = parse_select(
        read.select,
        {p.name for p in etype.props},
        {n.name for n in etype.navs},
        etype.name,
    )
    for name in read.expand:
        if etype.nav(name) is None:
            raise QueryError(
                f"Navigation property '{name}' not found in type '{etype.name}'",
                code=_NOT_FOUND,
            )
    if single:
        rows = reader.fetch(conn, target, where, hold_late, limit=1)
        if not rows:
            raise _not_found(etype.name)
        _expand(conn, reader, rows, read.expand, hold_late)
        return _single(rows[0], root, namespace, selected, wants_json)
    order = parse_orderby(read.orderby, columns, etype.name) if read.orderby else []
    served = read.skiptoken
    remaining = None if read.top is None else max(read.top - served, 0)
    cap = page_size if read.top is None else max_page_size
    limit = cap if remaining is None else min(cap, remaining)
    rows = reader.fetch(
        conn,
        target,
        where,
        hold_late,
        order=order,
        limit=limit + 1,
        offset=read.skip + served,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    link = (
        next_url(served + len(rows))
        if more and (remaining is None or limit < remaining)
        else None
    )
    count = reader.count(conn, target, where, hold_late) if read.inlinecount else None
    _expand(conn, reader, rows, read.expand, hold_late)
    if not wants_json:
        body = atom_feed(
            target, rows, root, namespace, selected, count=count, next_url=link
        )
        return Response(
            200,
            body,
            {"Content-Type": "application/atom+xml; type=feed; charset=utf-8"},
        )
    envelope: dict[str, object] = {}
    if count is not None:
        envelope["__count"] = str(count)
    envelope["results"] = [json_entity(e, root, namespace, selected) for e in rows]
    if link is not None:
        envelope["__next"] = link
    return Response(
        200,
        orjson.dumps({"d": envelope}),
        {"Content-Type": "application/json; charset=utf-8"},
    )


def _type_name(reader: Reader, set_name: str) -> str:
    eset = reader.service.entity_set(set_name)
    return eset.type.name if eset else set_name


def _expand(
    conn: sqlite3.Connection,
    reader: Reader,
    rows: list[Entity],
    navs: list[str],
    hold_late: bool,
) -> None:
    for name in navs:
        reader.expand(conn, rows, name, hold_late)


def _single(
    entity: Entity,
    root: str,
    namespace: str,
    selected: set[str] | None,
    wants_json: bool,
) -> Response:
    if wants_json:
        body = orjson.dumps({"d": json_entity(entity, root, namespace, selected)})
        return Response(200, body, {"Content-Type": "application/json; charset=utf-8"})
    xml = '<?xml version="1.0" encoding="utf-8"?>' + atom_entry(
        entity, root, namespace, selected, top=True
    )
    return Response(
        200,
        xml.encode("utf-8"),
        {"Content-Type": "application/atom+xml; type=entry; charset=utf-8"},
    )
