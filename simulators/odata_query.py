"""OData v2 system query options translated into parameterised SQL.

`$filter` is parsed by a small recursive-descent parser (or < and < not <
comparison < primary) over the subset SAP clients send: eq ne gt ge lt le,
and/or/not, parentheses, `substringof`/`startswith`/`endswith`, and the
literals 'text', datetime'…', time'PT…', numbers, true/false/null. Every
literal becomes a bound parameter in the column's stored form, so a filter
can never inject SQL. Unknown properties and bad syntax raise `QueryError`,
which the simulator answers with an SAP error body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "Column",
    "QueryError",
    "parse_filter",
    "parse_orderby",
    "parse_select",
]


class QueryError(ValueError):
    """A request the service cannot answer; `code` is the SAP message id."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "/IWCOR/CX_DS_EXPR_SYNTAX_ERROR",
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Column:
    sql: str
    edm: str


_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<typed>(?:datetimeoffset|datetime|time|guid)'[^']*')"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_/]*)"
    r"|(?P<punct>[(),])"
    r")"
)
_COMPARISONS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FUNCTIONS = ("substringof", "startswith", "endswith")


@dataclass
class _Expr:
    sql: str
    params: list[object] = field(default_factory=list)
    kind: str = "value"  # "prop", "literal", "bool"
    edm: str = ""  # property type, or literal type: "string", "number", "datetime", ...
    value: object = None  # literal value


def _time_to_sql(duration: str) -> str:
    """'PT10H37M02S' -> '10:37:02', the stored form of Edm.Time."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.\d+)?S)?", duration)
    if not match or duration == "PT":
        raise QueryError(f"Invalid time literal '{duration}'")
    h, m, s = (int(g or 0) for g in match.groups())
    return f"{h:02d}:{m:02d}:{s:02d}"


def _datetime_to_sql(text: str) -> str:
    """Stored form of a datetime literal; one with an offset is moved to UTC first."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"Invalid datetime literal '{text}'") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S")


class _Parser:
    def __init__(
        self, text: str, columns: Mapping[str, Column], type_name: str
    ) -> None:
        self.text = text
        self.columns = columns
        self.type_name = type_name
        self.tokens = self._tokenize(text)
        self.pos = 0

    def _tokenize(self, text: str) -> list[tuple[str, str, int]]:
        tokens, index = [], 0
        while index < len(text):
            if text[index:].isspace():
                break
            match = _TOKEN.match(text, index)
            if not match or match.end() == index:
                raise QueryError(f"Invalid token at position {index + 1} in '{text}'")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind), match.start(kind)))
            index = match.end()
        return tokens

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise QueryError(f"Unexpected end of filter expression '{self.text}'")
        self.pos += 1
        return token

    def expect(self, punct: str) -> None:
        kind, value, at = self.take()
        if value != punct or kind != "punct":
            raise QueryError(
                f"Expected '{punct}' at position {at + 1} in '{self.text}'"
            )

    def at_word(self, *words: str) -> str | None:
        token = self.peek()
        if token and token[0] == "name" and token[1] in words:
            return token[1]
        return None

    def parse(self) -> _Expr:
        expr = self.boolean(self.or_expr())
        extra = self.peek()
        if extra is not None:
            raise QueryError(
                f"Invalid token at position {extra[2] + 1} in '{self.text}'"
            )
        return expr

    def or_expr(self) -> _Expr:
        left = self.and_expr()
        while self.at_word("or"):
            self.take()
            right = self.and_expr()
            left = _Expr(
                f"({self.boolean(left).sql} OR {self.boolean(right).sql})",
                left.params + right.params,
                "bool",
            )
        return left

    def and_expr(self) -> _Expr:
        left = self.not_expr()
        while self.at_word("and"):
            self.take()
            right = self.not_expr()
            left = _Expr(
                f"({self.boolean(left).sql} AND {self.boolean(right).sql})",
                left.params + right.params,
                "bool",
            )
        return left

    def not_expr(self) -> _Expr:
        if self.at_word("not"):
            self.take()
            inner = self.boolean(self.not_expr())
            return _Expr(f"(NOT {inner.sql})", inner.params, "bool")
        return self.comparison()

    def comparison(self) -> _Expr:
        left = self.primary()
        operator = self.at_word(*_COMPARISONS)
        if not operator:
            return left
        self.take()
        right = self.primary()
        return self.compare(left, operator, right)

    def boolean(self, expr: _Expr) -> _Expr:
        if expr.kind == "bool":
            return expr
        if expr.kind == "prop" and expr.edm == "Edm.Boolean":
            return _Expr(f"({expr.sql} = 1)", expr.params, "bool")
        raise QueryError(f"Filter expression '{self.text}' is not a boolean expression")

    def compare(self, left: _Expr, operator: str, right: _Expr) -> _Expr:
        sql_op = _COMPARISONS[operator]
        if left.kind == "literal" and right.kind != "literal":
            left, right = right, left
            sql_op = {">": "<", ">=": "<=", "<": ">", "<=": ">="}.get(sql_op, sql_op)
        if right.kind == "literal" and right.edm == "null":
            if sql_op not in ("=", "<>"):
                raise QueryError(
                    f"Operator '{operator}' is not defined for null in '{self.text}'"
                )
            return _Expr(
                f"({left.sql} IS {'NOT ' if sql_op == '<>' else ''}NULL)",
                left.params,
                "bool",
            )
        if (
            left.kind == "bool"
            and right.kind == "literal"
            and right.edm == "boolean"
            and sql_op in ("=", "<>")
        ):
            negate = (right.value is True) != (sql_op == "=")
            return _Expr(
                f"(NOT {left.sql})" if negate else left.sql, left.params, "bool"
            )
        if left.kind == "literal":
            raise QueryError(
                f"Comparison of two literals is not supported in '{self.text}'"
            )
        left_sql, right_sql, params = left.sql, right.sql, left.params + right.params
        if right.kind == "literal":
            right_sql, value = "?", self.coerce(left.edm, right)
            params = [*left.params, value]
        if left.edm == "Edm.Decimal":
            left_sql, right_sql = (
                f"CAST({left_sql} AS REAL)",
                f"CAST({right_sql} AS REAL)",
            )
        return _Expr(f"({left_sql} {sql_op} {right_sql})", params, "bool")

    def coerce(self, edm: str, literal: _Expr) -> object:
        expected = {
            "Edm.String": "string",
            "Edm.DateTime": "datetime",
            "Edm.Time": "time",
            "Edm.Decimal": "number",
            "Edm.Boolean": "boolean",
        }.get(edm)
        if literal.edm != expected:
            raise QueryError(
                f"Literal of type {literal.edm} cannot be compared with a property of type {edm}"
            )
        if edm == "Edm.Boolean":
            return 1 if literal.value else 0
        return literal.value

    def primary(self) -> _Expr:
        kind, value, at = self.take()
        if kind == "punct" and value == "(":
            inner = self.or_expr()
            self.expect(")")
            return inner
        if kind == "string":
            return _Expr(
                "?", kind="literal", edm="string", value=value[1:-1].replace("''", "'")
            )
        if kind == "number":
            return _Expr(
                "?", kind="literal", edm="number", value=value.rstrip("mMdDfFlL")
            )
        if kind == "typed":
            prefix, raw = value.split("'", 1)
            raw = raw[:-1]
            if prefix == "time":
                return _Expr("?", kind="literal", edm="time", value=_time_to_sql(raw))
            if prefix in ("datetime", "datetimeoffset"):
                return _Expr(
                    "?", kind="literal", edm="datetime", value=_datetime_to_sql(raw)
                )
            raise QueryError(f"Literal type '{prefix}' is not supported")
        if kind == "name":
            if value in ("true", "false"):
                return _Expr("?", kind="literal", edm="boolean", value=value == "true")
            if value == "null":
                return _Expr("NULL", kind="literal", edm="null")
            if value in _FUNCTIONS:
                return self.function(value)
            column = self.columns.get(value)
            if column is None:
                raise QueryError(
                    f"Property '{value}' not found in type '{self.type_name}'",
                    code="/IWBEP/CM_MGW_RT/021",
                )
            return _Expr(column.sql, kind="prop", edm=column.edm)
        raise QueryError(f"Invalid token at position {at + 1} in '{self.text}'")

    def function(self, name: str) -> _Expr:
        self.expect("(")
        first = self.primary()
        self.expect(",")
        second = self.primary()
        self.expect(")")
        prop, text = (second, first) if name == "substringof" else (first, second)
        if prop.kind != "prop" or prop.edm != "Edm.String" or text.edm != "string":
            raise QueryError(
                f"Function '{name}' needs a string property and a string literal"
            )
        escaped = (
            str(text.value)
            .replace("\\", "\\\\")
            .replace("%", "\\%")
            .replace("_", "\\_")
        )
        pattern = {
            "substringof": f"%{escaped}%",
            "startswith": f"{escaped}%",
            "endswith": f"%{escaped}",
        }[name]
        return _Expr(f"({prop.sql} LIKE ? ESCAPE '\\')", [pattern], "bool")


def parse_filter(
    text: str, columns: Mapping[str, Column], type_name: str
) -> tuple[str, list[object]]:
    """SQL condition and its parameters for a `$filter` expression."""
    expr = _Parser(text, columns, type_name).parse()
    return expr.sql, expr.params


def parse_orderby(
    text: str, columns: Mapping[str, Column], type_name: str
) -> list[tuple[str, bool]]:
    """[(property, descending)] for `$orderby=A, B desc`."""
    order = []
    for part in text.split(","):
        words = part.split()
        if (
            not words
            or len(words) > 2
            or (len(words) == 2 and words[1] not in ("asc", "desc"))
        ):
            raise QueryError(f"Invalid $orderby expression '{text}'")
        if words[0] not in columns:
            raise QueryError(
                f"Property '{words[0]}' not found in type '{type_name}'",
                code="/IWBEP/CM_MGW_RT/021",
            )
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    return order


def parse_select(
    text: str, properties: set[str], navigations: set[str], type_name: str
) -> set[str] | None:
    """Names to render for `$select` (None: everything); `to_X/Prop` keeps all of `to_X`."""
    if not text.strip() or text.strip() == "*":
        return None
    selected: set[str] = set()
    for raw in text.split(","):
        name = raw.strip()
        head = name.partition("/")[0]
        if head in navigations:
            selected.add(head)
        elif name in properties:
            selected.add(name)
        else:
            raise QueryError(
                f"Property '{name}' not found in type '{type_name}'",
                code="/IWBEP/CM_MGW_RT/021",
            )
    return selected
