"""One system's share of the ground truth, as the database simulators read it.

The U8 and K3 WISE simulators render the same things (master data, opening
balances, movement lines, closing stock) from `truth.sqlite`; this module reads
them once, streams the movement lines in id order, and turns the truth's UTC
times into the naive China local time both databases store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from zoneinfo import ZoneInfo

__all__ = [
    "CHINA",
    "UNIT_NAMES",
    "Balance",
    "Line",
    "MaterialInfo",
    "StockKey",
    "TruthShare",
    "WarehouseInfo",
    "local_time",
]

CHINA = ZoneInfo("Asia/Shanghai")

UNIT_NAMES = {
    "H87": "个",
    "KGM": "千克",
    "GRM": "克",
    "TNE": "吨",
    "MTR": "米",
    "LTR": "升",
    "CT": "箱",
    "BX": "盒",
}
"""The Chinese unit names Chinese ERPs keep, by UN/ECE code."""

StockKey = tuple[str, str, str]
"""(material, warehouse, batch): the stock key inside one site with no statuses."""


@lru_cache(maxsize=65_536)
def local_time(iso_utc: str) -> datetime:
    """A truth time (ISO 8601 UTC) as naive Asia/Shanghai wall-clock time."""
    return datetime.fromisoformat(iso_utc).astimezone(CHINA).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class MaterialInfo:
    material: str
    name: str
    base_unit: str
    alt_unit: str
    alt_factor: Decimal | None
    batch_managed: bool


@dataclass(frozen=True, slots=True)
class WarehouseInfo:
    warehouse: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class Balance:
    key: StockKey
    quantity: Decimal
    reserved: Decimal


@dataclass(frozen=True, slots=True)
class Line:
    """One movement line of the share, with what the renderers need to place it.

    `origin_kind` and `direction` describe the line being reversed when this one
    is a reversal (a red-ink voucher repeats the original's type), else this
    line. `partner_warehouse` is the other leg's warehouse when this is a
    transfer leg whose other leg is in the same share with the same effective
    and late flags (so both legs can be one transfer document), else None.
    """

    id: int
    document: str
    line: int
    kind: str
    key: StockKey
    quantity: Decimal
    entry_unit: str
    entry_quantity: Decimal
    posted_at: datetime
    entered_at: datetime
    order_ref: str
    effective: bool
    late: bool
    origin_kind: str
    direction: int
    partner_warehouse: str | None
    reversed_ref: tuple[str, int] | None

    @property
    def reversal(self) -> bool:
        return self.kind == "reversal"


_LINES = """
SELECT m.id, m.document, m.line, m.kind, m.material, m.warehouse, m.batch, m.status,
       m.quantity, m.entry_unit, m.entry_quantity, m.posted_at, m.entered_at,
       m.order_ref, m.effective, m.late,
       r.kind, r.quantity, r.document, r.line,
       c.warehouse,
       c.system = m.system AND c.site = m.site AND c.effective = m.effective AND c.late = m.late
FROM movements m
LEFT JOIN movements r ON r.id = m.reverses
LEFT JOIN movements c ON c.id = m.counterpart AND m.kind = 'transfer'
WHERE m.system = ? AND m.site = ? {late}
ORDER BY m.id
"""


class TruthShare:
    """Read-only view of (system, site) in a truth file; use as a context manager."""

    def __init__(self, path: Path | str, system: str, site: str) -> None:
        self.system = system
        self.site = site
        self._conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        start, now = self._conn.execute("SELECT start_at, now_at FROM meta").fetchone()
        self.start_at = local_time(start)
        self.now_at = local_time(now)

    def __enter__(self) -> TruthShare:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._conn.close()

    def materials(self) -> list[MaterialInfo]:
        """Every material of the group (item masters are shared), in code order."""
        rows = self._conn.execute(
            "SELECT material, name, base_unit, alt_unit, alt_factor, batch_managed"
            " FROM materials ORDER BY material"
        )
        return [
            MaterialInfo(
                code, name, base, alt, Decimal(factor) if factor else None, bool(batch)
            )
            for code, name, base, alt, factor, batch in rows
        ]

    def warehouses(self) -> list[WarehouseInfo]:
        rows = self._conn.execute(
            "SELECT warehouse, name, kind FROM warehouses WHERE site = ? ORDER BY warehouse",
            (self.site,),
        )
        return [WarehouseInfo(*row) for row in rows]

    def opening(self) -> list[Balance]:
        return self._balances("opening_stock", "'0'")

    def stock(self) -> list[Balance]:
        """The closing stock the system reports, late postings included."""
        return self._balances("stock", "reserved")

    def _balances(self, table: str, reserved: str) -> list[Balance]:
        rows = self._conn.execute(
            f"SELECT material, warehouse, batch, status, quantity, {reserved} FROM {table}"  # noqa: S608
            " WHERE system = ? AND site = ? ORDER BY material, warehouse, batch",
            (self.system, self.site),
        )
        balances = []
        for material, warehouse, batch, status, quantity, held in rows:
            _require_unrestricted(status, table)
            balances.append(
                Balance((material, warehouse, batch), Decimal(quantity), Decimal(held))
            )
        return balances

    def lines(self, *, late: bool | None = None) -> Iterator[Line]:
        """Movement lines in id order; `late` True/False keeps only late/on-time ones."""
        late_filter = "" if late is None else f"AND m.late = {int(late)}"
        cursor = self._conn.execute(
            _LINES.format(late=late_filter), (self.system, self.site)
        )
        for row in cursor:
            (ident, document, line, kind, material, warehouse, batch, status, quantity,
             entry_unit, entry_quantity, posted_at, entered_at, order_ref, effective,
             late_flag, reversed_kind, reversed_quantity, reversed_document, reversed_line,
             partner, same_share) = row  # fmt: skip
            _require_unrestricted(status, "movements")
            signed = Decimal(quantity)
            origin = (
                signed if reversed_quantity is None else -Decimal(reversed_quantity)
            )
            yield Line(
                id=ident,
                document=document,
                line=line,
                kind=kind,
                key=(material, warehouse, batch),
                quantity=signed,
                entry_unit=entry_unit,
                entry_quantity=Decimal(entry_quantity),
                posted_at=local_time(posted_at),
                entered_at=local_time(entered_at),
                order_ref=order_ref,
                effective=bool(effective),
                late=bool(late_flag),
                origin_kind=reversed_kind or kind,
                direction=1 if origin > 0 else -1,
                partner_warehouse=partner if same_share else None,
                reversed_ref=None
                if reversed_document is None
                else (reversed_document, reversed_line),
            )

    def late_effect(self) -> dict[StockKey, Decimal]:
        """What the effective late lines add to each key (what a hold keeps back)."""
        effect: dict[StockKey, Decimal] = {}
        for line in self.lines(late=True):
            if line.effective:
                effect[line.key] = effect.get(line.key, Decimal(0)) + line.quantity
        return effect


def _require_unrestricted(status: str, table: str) -> None:
    # U8 and K3 WISE have no stock status: inspection stock lives in its own
    # warehouse there. A truth that gives them a status cannot be rendered.
    if status != "unrestricted":
        msg = f"{table}: status {status!r} has no U8/K3 WISE form (only 'unrestricted')"
        raise ValueError(msg)
