"""Posting a goods movement: the deep insert `POST A_MaterialDocumentHeader`.

Checks what SAP checks before it books anything (material, plant, storage
location, unit, batch handling, decimal strings, no stock deficit), then
writes the document and moves the stock in one transaction. A transfer
posting entered as one item gets its receiving item generated, as in SAP.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from stockbridge.simulators.sap_codes import (
    external_batch,
    external_material,
    transaction_type,
)

__all__ = ["PostingError", "post_goods_movement"]

# movement type -> debit/credit of the entered item
_SIMPLE = {
    "101": "S", "102": "H", "122": "H", "123": "S", "201": "H", "202": "S",
    "261": "H", "262": "S", "551": "H", "552": "S", "561": "S", "562": "H",
    "601": "H", "602": "S", "701": "S", "702": "H",
}  # fmt: skip
# transfer types -> (issuing stock type, receiving stock type); None: as entered
_TRANSFER: dict[str, tuple[str | None, str | None]] = {
    "311": (None, None),
    "321": ("02", "01"),
    "322": ("01", "02"),
    "343": ("07", "01"),
    "344": ("01", "07"),
    "349": ("07", "02"),
    "350": ("02", "07"),
}
_STOCK_TYPE_TEXT = {
    "01": "Unrestricted-use",
    "02": "Quality inspection",
    "07": "Blocked stock",
}


class PostingError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class _Line:
    material: str
    sloc: str
    batch: str
    stock_type: str
    mvt_type: str
    dc: str
    base_unit: str
    qty_base: Decimal
    entry_unit: str
    qty_entry: Decimal
    mfg_order: str = ""
    purchase_order: str = ""
    cost_center: str = ""
    irc: tuple[str, str, str, str, str] = ("", "", "", "", "")
    auto: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _text(item: dict[str, object], name: str) -> str:
    value = item.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PostingError(
            "/IWBEP/CM_MGW_RT/000", f"Property '{name}' has invalid value '{value}'"
        )
    return value.strip()


def _decimal(item: dict[str, object], name: str) -> Decimal | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):  # S/4 rejects Edm.Decimal sent as a JSON number
        raise PostingError(
            "/IWBEP/CM_MGW_RT/000", f"Property '{name}' has invalid value '{value}'"
        )
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise PostingError(
            "/IWBEP/CM_MGW_RT/000", f"Property '{name}' has invalid value '{value}'"
        ) from None
    if not number.is_finite() or number <= 0:
        raise PostingError("M7/004", f"Enter a positive quantity in '{name}'")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -3:
        raise PostingError(
            "M7/004", f"'{name}' allows at most 3 decimal places: '{value}'"
        )
    return number


def _date(value: object, name: str) -> str | None:
    """'/Date(ms)/' or ISO text -> stored 'YYYY-MM-DDT00:00:00'."""
    if value in (None, ""):
        return None
    text = str(value)
    match = re.fullmatch(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/", text)
    try:
        instant = (
            datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
            if match
            else datetime.fromisoformat(text)
        )
    except ValueError:
        raise PostingError(
            "/IWBEP/CM_MGW_RT/000", f"Property '{name}' has invalid value '{text}'"
        ) from None
    return instant.strftime("%Y-%m-%dT00:00:00")


def _item_lines(
    conn: sqlite3.Connection, raw: dict[str, object], plant: str, slocs: set[str]
) -> list[_Line]:
    material = external_material(_text(raw, "Material"))
    known = conn.execute(
        "SELECT base_unit, batch_managed FROM material WHERE material = ?", (material,)
    ).fetchone()
    if not material or known is None:
        raise PostingError("M7/001", f"Material {material} does not exist")
    base_unit, batch_managed = known
    if _text(raw, "Plant") != plant:
        raise PostingError("M7/002", f"Plant {_text(raw, 'Plant')} does not exist")
    sloc = _text(raw, "StorageLocation")
    if sloc not in slocs:
        raise PostingError("M7/003", f"Storage location {plant} {sloc} does not exist")
    batch = external_batch(_text(raw, "Batch"))
    if batch_managed and not batch:
        raise PostingError("M7/018", f"Enter a batch for material {material}")
    if batch and not batch_managed:
        raise PostingError("M7/019", f"Material {material} is not handled in batches")
    mvt_type = _text(raw, "GoodsMovementType")
    if mvt_type not in _SIMPLE and mvt_type not in _TRANSFER:
        raise PostingError(
            "M7/005", f"Movement type {mvt_type} is not supported for this transaction"
        )
    qty_entry, entry_unit = (
        _decimal(raw, "QuantityInEntryUnit"),
        _text(raw, "EntryUnit"),
    )
    if qty_entry is None:
        qty_entry, entry_unit = _decimal(raw, "QuantityInBaseUnit"), base_unit
    if qty_entry is None:
        raise PostingError("M7/004", "Enter a quantity in 'QuantityInEntryUnit'")
    factor = conn.execute(
        "SELECT numerator, denominator FROM uom WHERE product = ? AND alt_unit = ?",
        (material, entry_unit),
    ).fetchone()
    if factor is None:
        raise PostingError(
            "M7/006", f"Unit {entry_unit} is not defined for material {material}"
        )
    qty_base = (qty_entry * Decimal(factor[0]) / Decimal(factor[1])).quantize(
        Decimal("0.001"), ROUND_HALF_UP
    )
    order = _text(raw, "ManufacturingOrder")
    stock_type = _text(raw, "InventoryStockType") or "01"
    line = _Line(
        material, sloc, batch, stock_type, mvt_type, _SIMPLE.get(mvt_type, "H"), base_unit, qty_base,
        entry_unit, qty_entry, mfg_order=order, purchase_order=_text(raw, "PurchaseOrder"),
        cost_center=_text(raw, "CostCenter"),
    )  # fmt: skip
    if mvt_type not in _TRANSFER:
        return [line]
    source, target = _TRANSFER[mvt_type]
    line.stock_type = source or stock_type
    to_sloc = _text(raw, "IssuingOrReceivingStorageLoc") or sloc
    if to_sloc not in slocs or (mvt_type == "311" and to_sloc == sloc):
        raise PostingError(
            "M7/003", f"Enter a receiving storage location other than {plant} {sloc}"
        )
    to_type = target or line.stock_type
    line.irc = (material, batch, plant, to_sloc, to_type)
    receiving = _Line(
        material, to_sloc, batch, to_type, mvt_type, "S", base_unit, qty_base, entry_unit, qty_entry,
        irc=(material, batch, plant, sloc, line.stock_type), auto="X",
    )  # fmt: skip
    return [line, receiving]


def _check_and_move_stock(
    conn: sqlite3.Connection, lines: list[_Line], plant: str
) -> None:
    changes: dict[tuple[str, str, str, str], Decimal] = {}
    units: dict[tuple[str, str, str, str], str] = {}
    for line in lines:
        key = (line.material, line.sloc, line.batch, line.stock_type)
        changes[key] = changes.get(key, Decimal(0)) + (
            line.qty_base if line.dc == "S" else -line.qty_base
        )
        units[key] = line.base_unit
    for key, change in changes.items():
        row = conn.execute(
            "SELECT qty, qty_early FROM stock WHERE material = ? AND plant = ? AND sloc = ? AND batch = ?"
            " AND stock_type = ?",
            (key[0], plant, key[1], key[2], key[3]),
        ).fetchone()
        on_hand = Decimal(row[0]) if row else Decimal(0)
        if on_hand + change < 0:
            text = _STOCK_TYPE_TEXT.get(key[3], key[3])
            where = f"{key[0]} {plant} {key[1]}" + (f" {key[2]}" if key[2] else "")
            raise PostingError(
                "M7/021",
                f"Deficit of SL {text} {-(on_hand + change)} {units[key]} : {where}",
            )
        if row:
            conn.execute(
                "UPDATE stock SET qty = ?, qty_early = ? WHERE material = ? AND plant = ? AND sloc = ?"
                " AND batch = ? AND stock_type = ?",
                (
                    str(on_hand + change),
                    str(Decimal(row[1]) + change),
                    key[0],
                    plant,
                    key[1],
                    key[2],
                    key[3],
                ),
            )
        else:
            conn.execute(
                "INSERT INTO stock VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key[0],
                    plant,
                    key[1],
                    key[2],
                    key[3],
                    units[key],
                    str(change),
                    str(change),
                ),
            )


def _next_document(conn: sqlite3.Connection, year: str) -> str:
    row = conn.execute(
        "SELECT MAX(doc) FROM header WHERE year = ? AND doc GLOB '49[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'",
        (year,),
    ).fetchone()
    return str(int(row[0]) + 1) if row and row[0] else "4900000001"


def post_goods_movement(
    conn: sqlite3.Connection,
    payload: object,
    *,
    plant: str,
    slocs: set[str],
    user: str,
    entered: datetime,
    zone: ZoneInfo,
) -> tuple[str, str]:
    """Book the document described by `payload`; returns (year, document)."""
    if not isinstance(payload, dict):
        raise PostingError(
            "/IWBEP/CM_MGW_RT/000", "The request body is not a JSON object"
        )
    raw_items = payload.get("to_MaterialDocumentItem")
    if isinstance(raw_items, dict):
        raw_items = raw_items.get("results")
    if (
        not isinstance(raw_items, list)
        or not raw_items
        or not all(isinstance(i, dict) for i in raw_items)
    ):
        raise PostingError(
            "M7/022", "Document contains no items; enter to_MaterialDocumentItem"
        )
    gm_code = _text(payload, "GoodsMovementCode")
    if gm_code not in ("01", "02", "03", "04", "05", "06", "07"):
        raise PostingError("M7/023", f"Goods movement code '{gm_code}' is not valid")
    local = entered.astimezone(zone)
    posting = _date(payload.get("PostingDate"), "PostingDate") or local.strftime(
        "%Y-%m-%dT00:00:00"
    )
    document_date = _date(payload.get("DocumentDate"), "DocumentDate") or posting
    conn.execute("BEGIN IMMEDIATE")
    try:
        lines = [
            line for raw in raw_items for line in _item_lines(conn, raw, plant, slocs)
        ]
        _check_and_move_stock(conn, lines, plant)
        year = posting[:4]
        doc = _next_document(conn, year)
        creation = (local.strftime("%Y-%m-%dT00:00:00"), local.strftime("%H:%M:%S"))
        itt = transaction_type(lines[0].mvt_type)
        conn.execute(
            "INSERT INTO header VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (
                year, doc, itt, document_date, posting, *creation, user[:12].upper(),
                _text(payload, "MaterialDocumentHeaderText"), _text(payload, "ReferenceDocument"), gm_code,
            ),
        )  # fmt: skip
        period = f"{posting[:4]}{int(posting[5:7]):03d}"
        for number, line in enumerate(lines, start=1):
            conn.execute(
                f"INSERT INTO item VALUES ({', '.join('?' * 38)})",  # noqa: S608 - fixed text
                (
                    year, doc, number, None, None, line.material, plant, line.sloc, line.batch,
                    line.mvt_type, line.stock_type, line.base_unit, f"{line.qty_base:.3f}",
                    line.entry_unit, f"{line.qty_entry:.3f}", line.dc, line.mfg_order,
                    line.purchase_order, "", line.cost_center, *line.irc, line.auto, "0000", "", "0",
                    0, 0, posting, *creation, user[:12].upper(), gm_code, itt, period,
                ),
            )  # fmt: skip
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return year, doc
