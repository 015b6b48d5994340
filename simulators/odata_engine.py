"""Reading OData entity sets out of SQL tables.

A `Binding` says where an entity set lives: its table and, per property, the
SQL expression that yields the property's stored value. Properties a table
does not hold get SAP's empty value (`''`, `'0'` for numeric text, null dates)
so every property of the `$metadata` is served and filterable. While late
postings are held back a binding can swap expressions and add a condition.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stockbridge.simulators.odata_query import Column
from stockbridge.simulators.odata_render import Entity
from stockbridge.simulators.sap_edmx import EntityType, Nav, Prop, Service

__all__ = ["Binding", "Reader", "Where"]

Where = list[tuple[str, list[object]]]
"""SQL conditions with their parameters, joined by AND."""


def _empty_value(prop: Prop) -> str:
    if prop.edm in ("Edm.DateTime", "Edm.Time"):
        return "NULL"
    if prop.edm == "Edm.Boolean":
        return "0"
    if prop.edm == "Edm.Decimal":
        scale = prop.scale or 0
        return f"'0.{'0' * scale}'" if 0 < scale <= 3 else "'0'"
    return "'0'" if ("sap:display-format", "NonNegative") in prop.attrs else "''"


@dataclass(frozen=True)
class Binding:
    table: str
    columns: Mapping[str, str]
    late_columns: Mapping[str, str] = field(default_factory=dict)
    late_condition: str = ""

    def column_map(self, etype: EntityType, hold_late: bool) -> dict[str, Column]:
        exprs = {**self.columns, **self.late_columns} if hold_late else self.columns
        return {
            p.name: Column(exprs.get(p.name) or _empty_value(p), p.edm)
            for p in etype.props
        }

    def visibility(self, hold_late: bool) -> Where:
        return [(self.late_condition, [])] if hold_late and self.late_condition else []


class Reader:
    """Runs entity-set queries for one service."""

    def __init__(self, service: Service, bindings: Mapping[str, Binding]) -> None:
        self.service = service
        self.bindings = bindings

    def columns(self, set_name: str, hold_late: bool) -> dict[str, Column]:
        eset = self.service.require_set(set_name)
        return self.bindings[set_name].column_map(eset.type, hold_late)

    def _where(
        self, set_name: str, where: Where, hold_late: bool
    ) -> tuple[str, list[object]]:
        conditions = self.bindings[set_name].visibility(hold_late) + where
        if not conditions:
            return "", []
        sql = " WHERE " + " AND ".join(f"({c})" for c, _ in conditions)
        return sql, [p for _, params in conditions for p in params]

    def count(
        self, conn: sqlite3.Connection, set_name: str, where: Where, hold_late: bool
    ) -> int:
        clause, params = self._where(set_name, where, hold_late)
        row = conn.execute(
            f"SELECT COUNT(*) FROM {self.bindings[set_name].table}{clause}",  # noqa: S608 - our identifiers, values are parameters
            params,
        ).fetchone()
        return int(row[0])

    def fetch(
        self,
        conn: sqlite3.Connection,
        set_name: str,
        where: Where,
        hold_late: bool,
        *,
        order: Sequence[tuple[str, bool]] = (),
        limit: int = -1,
        offset: int = 0,
    ) -> list[Entity]:
        """Rows in the requested order, then by key, so pages never overlap or skip."""
        eset = self.service.require_set(set_name)
        columns = self.columns(set_name, hold_late)
        clause, params = self._where(set_name, where, hold_late)
        ordered = list(order) + [
            (k.name, False) for k in eset.type.keys if k.name not in dict(order)
        ]
        order_sql = ", ".join(
            f"{columns[name].sql}{' DESC' if desc else ''}" for name, desc in ordered
        )
        names = [p.name for p in eset.type.props]
        select = ", ".join(columns[n].sql for n in names)
        sql = (
            f"SELECT {select} FROM {self.bindings[set_name].table}{clause}"  # noqa: S608 - our identifiers, values are parameters
            f" ORDER BY {order_sql} LIMIT ? OFFSET ?"
        )
        rows = conn.execute(sql, [*params, limit, offset]).fetchall()
        return [
            Entity(set_name, eset.type, dict(zip(names, row, strict=True)))
            for row in rows
        ]

    def key_where(
        self, set_name: str, key: Mapping[str, str], hold_late: bool
    ) -> Where:
        columns = self.columns(set_name, hold_late)
        return [(f"{columns[name].sql} = ?", [value]) for name, value in key.items()]

    def navigate(
        self, nav: Nav, source: Mapping[str, object], hold_late: bool
    ) -> tuple[str, Where]:
        """Target set and conditions selecting what `nav` reaches from one source entity."""
        target = self.service.set_of_type(nav.target_type).name
        columns = self.columns(target, hold_late)
        return target, [(f"{columns[t].sql} = ?", [source[s]]) for s, t in nav.pairs]

    def expand(
        self,
        conn: sqlite3.Connection,
        entities: list[Entity],
        nav_name: str,
        hold_late: bool,
    ) -> None:
        """Attach `nav_name` targets to each entity with one query per 400 sources.

        Each join column gets an `IN (...)` list, which SQLite answers from the
        index; combinations no source asked for are dropped when matching.
        """
        if not entities:
            return
        nav = entities[0].etype.require_nav(nav_name)
        target = self.service.set_of_type(nav.target_type).name
        columns = self.columns(target, hold_late)
        found: dict[tuple[object, ...], list[Entity]] = {}
        for start in range(0, len(entities), 400):
            chunk = entities[start : start + 400]
            where: Where = []
            for source, target_prop in nav.pairs:
                values = list(dict.fromkeys(e.values[source] for e in chunk))
                marks = ", ".join("?" * len(values))
                where.append((f"{columns[target_prop].sql} IN ({marks})", values))
            for hit in self.fetch(conn, target, where, hold_late):
                hit_key = tuple(hit.values[t] for _, t in nav.pairs)
                found.setdefault(hit_key, []).append(hit)
        for entity in entities:
            hits = found.get(tuple(entity.values[s] for s, _ in nav.pairs), [])
            entity.expanded[nav_name] = (
                hits if nav.to_many else (hits[0] if hits else None)
            )
