"""Reading a truth file: what simulators render and what tests check against.

Rows come back as small frozen records with `Decimal` quantities and aware
UTC datetimes, straight from the stored text. Movements stream from a
cursor in `entered_at` order (the order a system learns of them, which is
what an incremental pull sees), so a million-line truth reads in flat memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "Discrepancy",
    "Material",
    "Meta",
    "Movement",
    "Site",
    "StockKey",
    "StockRow",
    "TruthReader",
    "Warehouse",
]

StockKey = tuple[str, str, str, str, str]
"""(material, site, warehouse, batch, status)."""

_FETCH = 5_000


@dataclass(frozen=True, slots=True)
class Meta:
    seed: int
    materials: int
    days: int
    start_at: datetime
    now_at: datetime
    movements: int


@dataclass(frozen=True, slots=True)
class Material:
    material: str
    name: str
    name_en: str
    base_unit: str
    alt_unit: str
    alt_factor: Decimal | None
    batch_managed: bool
    safety_stock: Decimal


@dataclass(frozen=True, slots=True)
class Site:
    site: str
    name: str
    erp: str


@dataclass(frozen=True, slots=True)
class Warehouse:
    site: str
    warehouse: str
    name: str
    kind: str
    systems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Movement:
    id: int
    event: int
    system: str
    document: str
    line: int
    year: str
    kind: str
    material: str
    site: str
    warehouse: str
    batch: str
    status: str
    quantity: Decimal
    entry_unit: str
    entry_quantity: Decimal
    posted_at: datetime
    entered_at: datetime
    reverses: int | None
    order_ref: str
    effective: bool
    late: bool
    counterpart: int | None

    @property
    def key(self) -> StockKey:
        return (self.material, self.site, self.warehouse, self.batch, self.status)


@dataclass(frozen=True, slots=True)
class StockRow:
    system: str
    material: str
    site: str
    warehouse: str
    batch: str
    status: str
    quantity: Decimal
    reserved: Decimal

    @property
    def key(self) -> StockKey:
        return (self.material, self.site, self.warehouse, self.batch, self.status)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    id: int
    kind: str
    system: str
    movement: int
    material: str
    site: str
    warehouse: str
    batch: str
    status: str
    difference: Decimal
    description: str

    @property
    def key(self) -> StockKey:
        return (self.material, self.site, self.warehouse, self.batch, self.status)


_MOVEMENT_COLUMNS = (
    "id, event, system, document, line, year, kind, material, site, warehouse, batch,"
    " status, quantity, entry_unit, entry_quantity, posted_at, entered_at, reverses,"
    " order_ref, effective, late, counterpart"
)


def _movement(row: tuple[Any, ...]) -> Movement:
    (ident, event, system, document, line, year, kind, material, site, warehouse, batch,
     status, quantity, entry_unit, entry_quantity, posted_at, entered_at, reverses,
     order_ref, effective, late, counterpart) = row  # fmt: skip
    return Movement(
        ident, event, system, document, line, year, kind, material, site, warehouse,
        batch, status, Decimal(quantity), entry_unit, Decimal(entry_quantity),
        datetime.fromisoformat(posted_at), datetime.fromisoformat(entered_at),
        reverses, order_ref, bool(effective), bool(late), counterpart,
    )  # fmt: skip


class TruthReader:
    """A read-only view of a truth file; use as a context manager.

    One reader belongs to one thread (sqlite3's default); a threaded server
    opens one per thread or per request, which is cheap.
    """

    def __init__(self, path: Path | str) -> None:
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        self._conn = sqlite3.connect(uri, uri=True)

    def __enter__(self) -> TruthReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def meta(self) -> Meta:
        seed, materials, days, start, now, movements = self._conn.execute(
            "SELECT seed, materials, days, start_at, now_at, movements FROM meta"
        ).fetchone()
        return Meta(
            seed,
            materials,
            days,
            datetime.fromisoformat(start),
            datetime.fromisoformat(now),
            movements,
        )

    def materials(self) -> Iterator[Material]:
        """Every material of the group (the item master is shared), in code order."""
        rows = self._conn.execute(
            "SELECT material, name, name_en, base_unit, alt_unit, alt_factor,"
            " batch_managed, safety_stock FROM materials ORDER BY material"
        )
        for code, name, name_en, base, alt, factor, batch, safety in rows:
            yield Material(
                code,
                name,
                name_en,
                base,
                alt,
                Decimal(factor) if factor else None,
                bool(batch),
                Decimal(safety),
            )

    def sites(self) -> Iterator[Site]:
        for row in self._conn.execute(
            "SELECT site, name, erp FROM sites ORDER BY site"
        ):
            yield Site(*row)

    def warehouses(self, system: str | None = None) -> Iterator[Warehouse]:
        """Warehouses, or only those `system` holds."""
        rows = self._conn.execute(
            "SELECT site, warehouse, name, kind, systems FROM warehouses"
            " ORDER BY site, warehouse"
        )
        for site, warehouse, name, kind, systems in rows:
            holders = tuple(systems.split(","))
            if system is None or system in holders:
                yield Warehouse(site, warehouse, name, kind, holders)

    def movements(
        self, system: str, *, site: str | None = None, include_late: bool = True
    ) -> Iterator[Movement]:
        """`system`'s lines in `entered_at`, id order; `include_late=False` is the knob on."""
        sql = f"SELECT {_MOVEMENT_COLUMNS} FROM movements WHERE system = ?"  # noqa: S608
        params: list[object] = [system]
        if site is not None:
            sql += " AND site = ?"
            params.append(site)
        if not include_late:
            sql += " AND late = 0"
        cursor = self._conn.execute(sql + " ORDER BY entered_at, id", params)
        try:
            while rows := cursor.fetchmany(_FETCH):
                for row in rows:
                    yield _movement(row)
        finally:
            cursor.close()

    def movement(self, movement_id: int) -> Movement:
        row = self._conn.execute(
            f"SELECT {_MOVEMENT_COLUMNS} FROM movements WHERE id = ?",  # noqa: S608
            (movement_id,),
        ).fetchone()
        if row is None:
            msg = f"no movement {movement_id} in the truth"
            raise KeyError(msg)
        return _movement(row)

    def opening_stock(self, system: str) -> Iterator[StockRow]:
        """Balances at `start_at` (`reserved` is 0: the truth keeps none for the opening)."""
        return self._stock("opening_stock", "'0'", system)

    def stock(self, system: str) -> Iterator[StockRow]:
        """What `system` reports on hand at `now_at`, late postings included."""
        return self._stock("stock", "reserved", system)

    def _stock(self, table: str, reserved: str, system: str) -> Iterator[StockRow]:
        rows = self._conn.execute(
            f"SELECT system, material, site, warehouse, batch, status, quantity, {reserved}"  # noqa: S608
            f" FROM {table} WHERE system = ?"
            " ORDER BY material, site, warehouse, batch, status",
            (system,),
        )
        for system_, material, site, warehouse, batch, status, quantity, held in rows:
            yield StockRow(
                system_,
                material,
                site,
                warehouse,
                batch,
                status,
                Decimal(quantity),
                Decimal(held),
            )

    def discrepancies(self, system: str | None = None) -> Iterator[Discrepancy]:
        rows = self._conn.execute(
            "SELECT id, kind, system, movement, material, site, warehouse, batch, status,"
            " difference, description FROM discrepancies ORDER BY id"
        )
        for (
            ident,
            kind,
            holder,
            movement,
            material,
            site,
            warehouse,
            batch,
            status,
            *rest,
        ) in rows:
            if system is None or holder == system:
                difference, description = rest
                yield Discrepancy(
                    ident,
                    kind,
                    holder,
                    movement,
                    material,
                    site,
                    warehouse,
                    batch,
                    status,
                    Decimal(difference),
                    description,
                )
