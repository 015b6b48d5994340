"""ExecuteBillQuery: FieldKeys, FilterString, OrderString and paging, turned into one SELECT.

The FilterString subset is what integration code sends: `field op literal`
with =, <>, !=, >, >=, <, <=, LIKE, IN (...), IS [NOT] NULL, joined by AND / OR /
NOT and parentheses; literals are quoted strings (dates as
'yyyy-MM-dd HH:mm:ss'), numbers, or N'...'. Anything else is the server's
"GetRealExpress error" (MsgCode 4). Rows come back as the JSON text of an array
of arrays, quantities written as JSON numbers straight from their decimal text.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import orjson

from stockbridge.simulators.k3cloud_forms import FORMS, Field, Form, resolve_field
from stockbridge.simulators.k3cloud_store import CHINA, china_text, render_qty, scaled

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "QueryError",
    "date_literal",
    "execute_bill_query",
]

DEFAULT_LIMIT = 2000
MAX_LIMIT = 10000


class QueryError(Exception):
    """A query the server refuses, with the MsgCode it refuses it with."""

    def __init__(self, msg_code: int, message: str) -> None:
        super().__init__(message)
        self.msg_code = msg_code
        self.message = message


def _missing_field(key: str) -> QueryError:
    return QueryError(9, f"元数据中标识为{key}的字段不存在")


def _bad_filter(text: str) -> QueryError:
    return QueryError(4, f"GetRealExpress error: 过滤条件“{text}”无法解析")


@dataclass(frozen=True)
class _Query:
    form: Form
    fields: list[Field]
    where: str
    params: list[object]
    order: str


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>N?'(?:[^']|'')*')
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<op><>|!=|>=|<=|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "IS", "NULL"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, text = 0, text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise _bad_filter(text)
        kind, value = match.lastgroup, match.group(match.lastgroup)
        if kind == "word" and value.upper() in _KEYWORDS:
            kind, value = "kw", value.upper()
        out.append((kind, value))
        pos = match.end()
    return out


class _FilterParser:
    """Recursive descent over the tokens, emitting SQL with ? parameters."""

    def __init__(self, form: Form, text: str) -> None:
        self.form = form
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.params: list[object] = []

    def parse(self) -> str:
        sql = self._or()
        if self.pos != len(self.tokens):
            raise _bad_filter(self.text)
        return sql

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def _take(self, kind: str, value: str | None = None) -> str:
        token = self._peek()
        if token[0] != kind or (value is not None and token[1] != value):
            raise _bad_filter(self.text)
        self.pos += 1
        return token[1]

    def _or(self) -> str:
        parts = [self._and()]
        while self._peek() == ("kw", "OR"):
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _and(self) -> str:
        parts = [self._not()]
        while self._peek() == ("kw", "AND"):
            self.pos += 1
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _not(self) -> str:
        if self._peek() == ("kw", "NOT"):
            self.pos += 1
            return f"(NOT {self._not()})"
        if self._peek() == ("punct", "("):
            self.pos += 1
            inner = self._or()
            self._take("punct", ")")
            return f"({inner})"
        return self._comparison()

    def _comparison(self) -> str:
        key = self._take("word")
        field = resolve_field(self.form, key)
        if field is None:
            raise _missing_field(key)
        kind, op = self._peek()
        if (kind, op) == ("kw", "IS"):
            self.pos += 1
            negate = self._peek() == ("kw", "NOT")
            self.pos += int(negate)
            self._take("kw", "NULL")
            return f"({field.cmp} IS {'NOT ' if negate else ''}NULL)"
        if (kind, op) == ("kw", "IN"):
            self.pos += 1
            self._take("punct", "(")
            values = [self._literal(field)]
            while self._peek() == ("punct", ","):
                self.pos += 1
                values.append(self._literal(field))
            self._take("punct", ")")
            return self._emit(field, f"IN ({', '.join('?' * len(values))})", values)
        if (kind, op) == ("kw", "LIKE"):
            self.pos += 1
            return self._emit(field, "LIKE ?", [self._string()])
        op = self._take("op")
        return self._emit(
            field, f"{'<>' if op == '!=' else op} ?", [self._literal(field)]
        )

    def _emit(self, field: Field, tail: str, values: list[object]) -> str:
        self.params.extend(values)
        if field.lookup is not None:
            id_expr, table, column = field.lookup
            return f"({id_expr} IN (SELECT id FROM {table} WHERE {column} {tail}))"  # noqa: S608 - our identifiers, values are parameters
        return f"({field.cmp} {tail})"

    def _string(self) -> str:
        kind, value = self._peek()
        if kind == "str":
            self.pos += 1
            return value.removeprefix("N")[1:-1].replace("''", "'")
        if kind == "num":
            self.pos += 1
            return value
        raise _bad_filter(self.text)

    def _literal(self, field: Field) -> object:
        text = self._string()
        try:
            match field.kind:
                case "qty":
                    return scaled(Decimal(text))
                case "int":
                    return int(Decimal(text))
                case "date":
                    return date_literal(text)
                case "text":
                    return text
        except (InvalidOperation, ValueError) as exc:
            raise _bad_filter(self.text) from exc


def date_literal(text: str) -> str:
    """A date literal as the store's sortable China-time text; ValueError if not a date."""
    moment = datetime.fromisoformat(text.strip().replace("/", "-"))
    if moment.tzinfo is None:
        # Naive literals are China local time, as the server reads them.
        return china_text(moment.replace(tzinfo=CHINA))
    return china_text(moment)


def _order(form: Form, text: str) -> str:
    """OrderString 'key [ASC|DESC], ...' as SQL; empty means FID, then entry."""
    terms = []
    for part in text.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (
            len(words) == 2 and words[1].upper() not in {"ASC", "DESC"}
        ):
            raise _bad_filter(text)
        field = resolve_field(form, words[0])
        if field is None:
            raise _missing_field(words[0])
        terms.append(f"{field.cmp} {words[1].upper() if len(words) == 2 else 'ASC'}")
    if terms:
        return ", ".join(terms)
    return "r.fid, r.entry_id" if form.table == "bill_rows" else "r.row_id"


def _int(data: dict[str, object], key: str) -> int:
    value = data.get(key)
    if value in (None, ""):
        return 0
    try:
        return int(str(value))
    except ValueError as exc:
        raise QueryError(8, f"data数据包中的参数{key}的值无效。") from exc


def _qty_cell(value: object) -> object:
    # A Fragment is written verbatim: the decimal text becomes the JSON number.
    return None if value is None else orjson.Fragment(render_qty(str(value)))


def _date_cell(value: object) -> object:
    if value is None:
        return None
    text = str(value)
    millis = text[20:23].rstrip("0")
    return f"{text[:10]}T{text[11:19]}{'.' + millis if millis else ''}"


_CELLS: dict[str, Callable[[object], object]] = {"qty": _qty_cell, "date": _date_cell}


def _plan(data: dict[str, object]) -> _Query:
    form_id = str(data.get("FormId") or data.get("formid") or "").strip()
    if not form_id:
        raise QueryError(8, "data数据包中的参数FormId的值不能为空。")
    form = FORMS.get(form_id.lower())
    if form is None:
        raise QueryError(4, f"标识为“{form_id}”的业务对象不存在，或者被删除。")
    keys = [k.strip() for k in str(data.get("FieldKeys") or "").split(",") if k.strip()]
    if not keys:
        raise QueryError(8, "data数据包中的参数FieldKeys的值不能为空。")
    fields = []
    for key in keys:
        field = resolve_field(form, key)
        if field is None:
            raise _missing_field(key)
        fields.append(field)
    where, params = "1", list[object]()
    if form.entity:
        where, params = "r.form = ?", [form.form_id]
    filter_text = str(data.get("FilterString") or "").strip()
    if filter_text:
        parser = _FilterParser(form, filter_text)
        where = f"{where} AND {parser.parse()}"
        params.extend(parser.params)
    return _Query(
        form, fields, where, params, _order(form, str(data.get("OrderString") or ""))
    )


def execute_bill_query(
    db: sqlite3.Connection, data: dict[str, object], *, hold_late: bool
) -> bytes:
    """Run one ExecuteBillQuery and return the JSON body of its rows (UTF-8).

    `hold_late`: the late-postings knob is on, so late lines stay out of sight.
    """
    query = _plan(data)
    start = max(_int(data, "StartRow"), 0)
    limit = _int(data, "Limit")
    limit = DEFAULT_LIMIT if limit <= 0 else min(limit, MAX_LIMIT)
    top = _int(data, "TopRowCount")
    if top > 0:
        limit = max(min(limit, top - start), 0)
    table = query.form.table + ("_held" if hold_late else "")
    sql = (
        f"SELECT {', '.join(f.expr for f in query.fields)} FROM {table} AS r"  # noqa: S608 - our identifiers, values are parameters
        f" WHERE {query.where} ORDER BY {query.order} LIMIT ? OFFSET ?"
    )
    try:
        rows: list[tuple[object, ...]] = db.execute(
            sql, [*query.params, limit, start]
        ).fetchall()
    except (sqlite3.Error, OverflowError) as exc:
        raise _bad_filter(str(data.get("FilterString") or "")) from exc
    cells = [_CELLS.get(f.kind) for f in query.fields]
    if not any(cells):
        return orjson.dumps(rows)
    return orjson.dumps(
        [
            [v if c is None else c(v) for c, v in zip(cells, row, strict=True)]
            for row in rows
        ]
    )
