"""K3 WISE rows (as labelled by `k3wise_sql`) to source records.

Codes are the masters' FNumbers (t_ICItem, t_Stock, t_StockPlace) and the
unit is the base unit's name as K3 shows it ('千克', '个'): ICInventory.FQty
and ICStockBillEntry.FQty are both in the base unit.

Movement sign. K3 stores red bills (FROB=-1) with a negative FQty, so the
effect on stock is +FQty for receipt types and -FQty for issue types, never
multiplied by FROB again; a bill whose FQty sign contradicts its FROB is
reported, not guessed at. A transfer (41) entry is two legs, "<FEntryID>-out"
from FSCStockID and "<FEntryID>-in" to FDCStockID. 生产领料 (24) takes its
warehouse from FSCStockID, every other receipt and issue from FDCStockID.

Red bills. A red bill whose entry names a source bill of its own type
(FSourceTranType = FTranType, FSourceBillNo, FSourceEntryID) cancels that
line: kind `reversal` with `reverses` = "bill/entry". Without such a link a
red 外购入库 (1) is a return to the vendor and a red 生产领料 (24) a return
from production (退料), kind `return`; other red bills keep their type's kind
(e.g. a red 销售出库 is a sales return: `sales_issue`, positive).

Keys. A movement is (FBillNo, FEntryID): K3 numbers each bill type with its
own prefix (WIN, SOUT, CHG ...), so a bill number names one bill. A red bill
that cancels one leg of a transfer through a 10/29 names the transfer entry
without the leg suffix, so its `reverses` matches no key exactly. order_ref
is the entry's FICMOBillNo (生产任务单) or else its FOrderBillNo.

Times. FDate is a day in the account's zone (K3 keeps no posting time):
posted_at is that day's local midnight in UTC. entered_at is FCheckDate (the
audit time), None on bills that moved stock unaudited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from zoneinfo import ZoneInfo

from stockbridge.connectors.k3wise_sql import BILL_TYPES, TRANSFER, BillType, Side
from stockbridge.mapping.model import (
    LocationRecord,
    MaterialRecord,
    MovementKind,
    MovementRecord,
    SourceRecord,
    StockRecord,
    StockStatus,
    UnitRecord,
    UnreadableRecord,
)
from stockbridge.mapping.timezones import to_utc

__all__ = [
    "Row",
    "RowError",
    "bill_stamp",
    "location_record",
    "material_record",
    "movement_records",
    "raw_row",
    "stock_record",
    "unit_record",
]

Row = Mapping[str, object]
"""One result row, values by the labels of `k3wise_sql`."""

_UNRESTRICTED = StockStatus.UNRESTRICTED.value
_RETURN_TYPES = frozenset({1, 24})


class RowError(ValueError):
    """A row this connector cannot read; its text is the reject reason."""


_AS_IS = frozenset({str, int, bool, type(None)})


def raw_row(row: Row) -> dict[str, object]:
    """The row as JSON-safe values: numbers and times as text, ids as ints."""
    return {
        label: value if type(value) in _AS_IS else _as_text(value)
        for label, value in row.items()
    }


def _as_text(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


# --- field readers -------------------------------------------------------------


def _text(row: Row, label: str) -> str:
    value = row[label]
    return "" if value is None else str(value)


def _code(row: Row, label: str, missing: str) -> str:
    """A master's FNumber; NULL means the id has no master row (LEFT JOIN)."""
    value = row[label]
    if value is None or str(value) == "":
        raise RowError(missing)
    return str(value)


def _int(row: Row, label: str) -> int:
    value = row[label]
    try:
        return int(str(value))
    except ValueError:
        msg = f"{label} {value!r} is not an integer"
        raise RowError(msg) from None


def _quantity(row: Row, label: str, *, null_is_zero: bool = False) -> Decimal:
    """Decimal from the driver's text or Decimal (SQLite sends text, others Decimal)."""
    value = row[label]
    if value is None and null_is_zero:
        return Decimal(0)
    try:
        quantity = Decimal(str(value))
    except InvalidOperation:
        quantity = Decimal("NaN")
    if value is None or isinstance(value, bool) or not quantity.is_finite():
        msg = f"{label} {value!r} is not a number"
        raise RowError(msg)
    return quantity


def _positive(row: Row, label: str) -> Decimal:
    quantity = _quantity(row, label)
    if quantity <= 0:
        msg = f"{label} {quantity} is not positive"
        raise RowError(msg)
    return quantity


def _moment(row: Row, label: str) -> datetime | None:
    """A naive local datetime; drivers send datetime, some text."""
    value = row[label]
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)  # noqa: DTZ001 - local
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        msg = f"{label} {value!r} is not a date and time"
        raise RowError(msg) from None


# --- stock and master data --------------------------------------------------------


def stock_record(row: Row, *, site: str, as_of: datetime) -> SourceRecord:
    """One 即时库存 row; a virtual warehouse's type goes to `special_stock`."""
    raw = raw_row(row)
    try:
        stock_type = row["FStockTypeID"]
        return StockRecord(
            material=_code(row, "item.FNumber", _no_item(row)),
            site=site,
            warehouse=_code(row, "stock.FNumber", _no_stock(row, "FStockID")),
            location=_text(row, "place.FNumber"),
            batch=_text(row, "FBatchNo"),
            status=_UNRESTRICTED,
            quantity=_quantity(row, "FQty"),
            unit=_code(row, "unit.FName", _no_unit(row)),
            as_of=as_of,
            raw=raw,
            reserved=_quantity(row, "FQtyLock", null_is_zero=True),
            special_stock="" if stock_type is None else f"virtual:{stock_type}",
        )
    except RowError as exc:
        return UnreadableRecord(raw=raw, reason=str(exc))


def material_record(row: Row) -> SourceRecord:
    """An item with its base unit's name and batch flag (FBatchManager)."""
    raw = raw_row(row)
    try:
        return MaterialRecord(
            material=_code(row, "FNumber", "t_ICItem row without an FNumber"),
            name=_text(row, "FName"),
            base_unit=_code(row, "unit.FName", _no_unit(row)),
            raw=raw,
            batch_managed=bool(row["FBatchManager"] and _int(row, "FBatchManager")),
        )
    except RowError as exc:
        return UnreadableRecord(raw=raw, reason=str(exc))


def location_record(row: Row, *, site: str) -> SourceRecord:
    """A warehouse (t_Stock); K3 has no line-side flag, so mapping config sets it."""
    raw = raw_row(row)
    try:
        return LocationRecord(
            site=site,
            warehouse=_code(row, "FNumber", "t_Stock row without an FNumber"),
            name=_text(row, "FName"),
            raw=raw,
        )
    except RowError as exc:
        return UnreadableRecord(raw=raw, reason=str(exc))


def unit_record(row: Row) -> SourceRecord:
    """1 unit = unit.FCoefficient / base.FCoefficient base units."""
    raw = raw_row(row)
    try:
        unit = _code(row, "unit.FName", "t_MeasureUnit row without an FName")
        coefficient = _positive(row, "unit.FCoefficient")
        base_coefficient = _positive(row, "base.FCoefficient")
        return UnitRecord(
            material=_code(row, "item.FNumber", "t_ICItem row without an FNumber"),
            unit=unit,
            base_unit=_code(row, "base.FName", "base unit without an FName"),
            factor=Fraction(coefficient) / Fraction(base_coefficient),
            raw=raw,
        )
    except RowError as exc:
        return UnreadableRecord(raw=raw, reason=str(exc))


def _no_item(row: Row) -> str:
    return f"FItemID {row['FItemID']!r} is not in t_ICItem"


def _no_stock(row: Row, column: str) -> str:
    return f"{column} {row[column]!r} is not in t_Stock"


def _no_unit(row: Row) -> str:
    return f"item {row.get('item.FNumber') or row['FItemID']!r} has no base unit in t_MeasureUnit"


# --- movements ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """What every leg of one bill entry shares."""

    document: str
    entry: str
    material: str
    site: str
    batch: str
    unit: str
    quantity: Decimal  # FQty as stored: negative on red bills
    posted_at: datetime
    entered_at: datetime | None
    order_ref: str
    raw: dict[str, object]


def movement_records(row: Row, *, site: str, zone: ZoneInfo) -> list[SourceRecord]:
    """The movement(s) of one entry of a bill that moved stock: two for a transfer."""
    raw = raw_row(row)
    try:
        tran_type = _int(row, "FTranType")
        entry = _entry(row, raw, site, zone)
        if tran_type == TRANSFER:
            return list(_transfer_legs(row, entry))
        bill_type = _bill_type(tran_type)
        kind, reverses = _kind(row, bill_type.kind, tran_type)
        return [
            _leg(
                row,
                entry,
                kind,
                bill_type.side,
                entry.quantity if bill_type.inbound else -entry.quantity,
                line=entry.entry,
                reverses=reverses,
            )
        ]
    except RowError as exc:
        return [UnreadableRecord(raw=raw, reason=str(exc))]


def _bill_type(tran_type: int) -> BillType:
    try:
        return BILL_TYPES[tran_type]
    except KeyError:
        msg = f"FTranType {tran_type} is not a stock bill type this connector knows"
        raise RowError(msg) from None


def _entry(row: Row, raw: dict[str, object], site: str, zone: ZoneInfo) -> _Entry:
    quantity = _quantity(row, "FQty")
    red = _int(row, "FROB") == -1
    if (red and quantity > 0) or (not red and quantity < 0):
        msg = (
            f"FQty {quantity} on a {'red' if red else 'blue'} bill (FROB "
            f"{row['FROB']}): K3 stores red bills with negative quantities"
        )
        raise RowError(msg)
    posted = _moment(row, "FDate")
    if posted is None:
        msg = "FDate is empty"
        raise RowError(msg)
    checked = _moment(row, "FCheckDate")
    return _Entry(
        document=_code(row, "FBillNo", "FBillNo is empty"),
        entry=str(_int(row, "FEntryID")),
        material=_code(row, "item.FNumber", _no_item(row)),
        site=site,
        batch=_text(row, "FBatchNo"),
        unit=_code(row, "unit.FName", _no_unit(row)),
        quantity=quantity,
        posted_at=to_utc(posted, zone),
        entered_at=None if checked is None else to_utc(checked, zone),
        order_ref=_text(row, "FICMOBillNo") or _text(row, "FOrderBillNo"),
        raw=raw,
    )


def _kind(row: Row, kind: MovementKind, tran_type: int) -> tuple[MovementKind, str]:
    """The kind, and the "bill/entry" a red bill cancels ("" if none)."""
    if _int(row, "FROB") != -1:
        return kind, ""
    source_bill = _text(row, "FSourceBillNo")
    own_type = (
        row["FSourceTranType"] is not None and _int(row, "FSourceTranType") == tran_type
    )
    if source_bill and row["FSourceEntryID"] is not None and own_type:
        return MovementKind.REVERSAL, f"{source_bill}/{_int(row, 'FSourceEntryID')}"
    if tran_type in _RETURN_TYPES:
        return MovementKind.RETURN, ""
    return kind, ""


def _transfer_legs(row: Row, entry: _Entry) -> tuple[MovementRecord, MovementRecord]:
    kind, reverses = _kind(row, MovementKind.TRANSFER, TRANSFER)
    legs = []
    for side, suffix, sign in ((Side.SOURCE, "out", -1), (Side.DESTINATION, "in", 1)):
        legs.append(
            _leg(
                row,
                entry,
                kind,
                side,
                sign * entry.quantity,
                line=f"{entry.entry}-{suffix}",
                reverses=f"{reverses}-{suffix}" if reverses else "",
            )
        )
    return legs[0], legs[1]


_SIDE_LABELS = {
    Side.DESTINATION: ("dc.FNumber", "dcp.FNumber"),
    Side.SOURCE: ("sc.FNumber", "scp.FNumber"),
}


def _leg(
    row: Row,
    entry: _Entry,
    kind: MovementKind,
    side: Side,
    quantity: Decimal,
    *,
    line: str,
    reverses: str,
) -> MovementRecord:
    stock_label, place_label = _SIDE_LABELS[side]
    return MovementRecord(
        document=entry.document,
        line=line,
        kind=kind,
        material=entry.material,
        site=entry.site,
        warehouse=_code(row, stock_label, _no_stock(row, side.value)),
        location=_text(row, place_label),
        batch=entry.batch,
        status=_UNRESTRICTED,
        quantity=quantity,
        unit=entry.unit,
        posted_at=entry.posted_at,
        raw=entry.raw,
        reverses=reverses,
        order_ref=entry.order_ref,
        entered_at=entry.entered_at,
    )


def bill_stamp(row: Row) -> tuple[int, datetime | None]:
    """The bill's FInterID and audit time (naive local): what the cursor tracks."""
    return _int(row, "FInterID"), _moment(row, "FCheckDate")
