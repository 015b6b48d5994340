"""U8 rows to source records: the connector's knowledge of what U8's columns mean.

Stock (one record per CurrentStock row, nothing summed):
- `iQuantity` is the on-hand quantity in the inventory's main unit
  (`Inventory.cComUnitCode` -> `ComputationUnit.cComUnitName`, e.g. '个').
- Status is always unrestricted: U8 has no stock status (inspection stock is
  a warehouse of its own). Frozen stock is `reserved`, not a status: the
  whole row when `bStopFlag` is set, else `fStopQuantity + fDisableQuantity`.
  It is still on hand and U8 counts it in `iQuantity`; splitting it into a
  `blocked` record would change stock without a movement (a ledger break)
  and disagree with the MES and Kingdee, which report locks the same way.
  Available = unrestricted - reserved keeps it out of what planners can use.
- The key dimensions U8 adds are kept, not collapsed: non-blank free items
  `cFree1..10` extend the batch as `cBatch|cFree1|...|cFreeN` (up to the last
  non-blank one), VMI stock (`cVMIVenCode`) is special stock 'K' and
  demand-tracked stock (`iSoType` not 0) special stock 'E', as in SAP.
  Location is '': CurrentStock has no bin (U8 keeps bins in InvPosition).

Movements (one record per RdRecordsNN line of a counted voucher, see `u8_sql`):
- quantity = `iQuantity` signed by the header's `bRdFlag` (1 receipt +,
  0 issue -), exactly U8's arithmetic; a red-ink voucher already has a
  negative `iQuantity`, so it is not negated again.
- document `NN-cCode` (codes repeat across voucher types), line `AutoID`.
- kind by type: 01 receipt, 10 production_receipt, 11 production_issue,
  32 sales_issue; 08/09 made from a transfer (`cSource` 调拨) transfer,
  盘盈/盘亏 adjustment, 报废 scrap, other 08 receipt, other 09 issue. A red
  line whose memo names the line it cancels (`冲销 <cCode>/<row>`) is a
  reversal of that line; other red lines keep their type's kind.
- posted_at is `dDate` (the voucher date, midnight local, like SAP's posting
  date); entered_at is `dnmaketime`. Both naive China time read in the
  source's zone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from zoneinfo import ZoneInfo

from stockbridge.mapping.model import (
    LocationRecord,
    MaterialRecord,
    MovementKind,
    MovementRecord,
    StockRecord,
    StockStatus,
    UnitRecord,
    UnreadableRecord,
)
from stockbridge.mapping.timezones import to_utc

__all__ = [
    "ComputationUnit",
    "Fields",
    "cancelled_line",
    "change_time",
    "fields",
    "location_record",
    "material_record",
    "movement_record",
    "stock_record",
    "unit_records",
]

Fields = Mapping[str, object]
"""A row by U8 column name."""

_UNRESTRICTED = StockStatus.UNRESTRICTED.value
_FREE = tuple(f"cFree{n}" for n in range(1, 11))
_CANCELS = re.compile(r"^\s*冲销\s*(\S+)/(\d+)\s*$")
_TRANSFER_SOURCE = "调拨"
_BUS_KINDS = {
    "盘盈入库": MovementKind.ADJUSTMENT,
    "盘亏出库": MovementKind.ADJUSTMENT,
    "报废出库": MovementKind.SCRAP,
    "调拨入库": MovementKind.TRANSFER,
    "调拨出库": MovementKind.TRANSFER,
}
_TYPE_KINDS = {
    "01": MovementKind.RECEIPT,
    "08": MovementKind.RECEIPT,
    "09": MovementKind.ISSUE,
    "10": MovementKind.PRODUCTION_RECEIPT,
    "11": MovementKind.PRODUCTION_ISSUE,
    "32": MovementKind.SALES_ISSUE,
}


class _UnreadableError(ValueError):
    """A row that cannot become a record; its text is the reject reason."""


def fields(names: Sequence[str], row: Sequence[object]) -> dict[str, object]:
    """A row by column name."""
    return dict(zip(names, row, strict=True))


def _raw(row: Fields) -> dict[str, object]:
    # Most values already are text or NULL: keep that path cheap.
    return {
        name: value if value is None or type(value) is str else _as_text(value)
        for name, value in row.items()
    }


def _as_text(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def _text(row: Fields, name: str) -> str:
    value = row[name]
    return "" if value is None else str(value)


def _flag(value: object) -> bool:
    """A U8 bit column (bool on SQL Server, 0/1 on the test databases)."""
    return value is not None and str(value).strip() not in ("", "0", "False")


def _decimal(row: Fields, name: str, *, required: bool = True) -> Decimal:
    value = row[name]
    if value is None:
        if required:
            raise _UnreadableError(f"{name} is empty")
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _UnreadableError(f"{name} {value!r} is not a number") from None
    if not number.is_finite():
        raise _UnreadableError(f"{name} {value!r} is not a finite number")
    return number


def _datetime(row: Fields, name: str) -> datetime | None:
    value = row[name]
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise _UnreadableError(f"{name} {value!r} is not a date and time") from None


def _required_datetime(row: Fields, name: str) -> datetime:
    value = _datetime(row, name)
    if value is None:
        raise _UnreadableError(f"{name} is empty")
    return value


def _main_unit(row: Fields) -> str:
    unit = _text(row, "cComUnitName")
    if not unit:
        raise _UnreadableError(
            f"inventory {_text(row, 'cInvCode')!r} has no main unit"
            " (Inventory.cComUnitCode not in ComputationUnit, or the inventory is missing)"
        )
    return unit


def _batch(row: Fields) -> str:
    batch = _text(row, "cBatch")
    free = [_text(row, name) for name in _FREE]
    while free and not free[-1]:
        free.pop()
    return "|".join([batch, *free]) if free else batch


def stock_record(
    row: Fields, *, site: str, as_of: datetime
) -> StockRecord | UnreadableRecord:
    """One CurrentStock row."""
    raw = _raw(row)
    try:
        quantity = _decimal(row, "iQuantity")
        if _flag(row["bStopFlag"]):
            reserved = max(quantity, Decimal(0))
        else:
            reserved = _decimal(row, "fStopQuantity", required=False) + _decimal(
                row, "fDisableQuantity", required=False
            )
        unit = _main_unit(row)
    except _UnreadableError as exc:
        return UnreadableRecord(raw, str(exc))
    special = ""
    if _text(row, "cVMIVenCode"):
        special = "K"
    elif _flag(row["iSoType"]):
        special = "E"
    return StockRecord(
        material=_text(row, "cInvCode"),
        site=site,
        warehouse=_text(row, "cWhCode"),
        location="",
        batch=_batch(row),
        status=_UNRESTRICTED,
        quantity=quantity,
        unit=unit,
        as_of=as_of,
        raw=raw,
        reserved=reserved,
        special_stock=special,
    )


def change_time(row: Fields) -> datetime | None:
    """When the voucher was last audited or edited (naive local), for the re-scan window."""
    try:
        times = [_datetime(row, name) for name in ("dnverifytime", "dnmodifytime")]
    except _UnreadableError:
        return None
    return max((t for t in times if t is not None), default=None)


def cancelled_line(row: Fields) -> tuple[str, int] | None:
    """(cCode, row number) of the line a red-ink line says it cancels, if it says so."""
    if not _flag(row["bredvouch"]):
        return None
    match = _CANCELS.match(_text(row, "cbMemo"))
    return (match.group(1), int(match.group(2))) if match else None


def _kind(voucher_type: str, row: Fields) -> MovementKind:
    if voucher_type in ("08", "09"):
        if _text(row, "cSource") == _TRANSFER_SOURCE:
            return MovementKind.TRANSFER
        kind = _BUS_KINDS.get(_text(row, "cBusType"))
        if kind is not None:
            return kind
    return _TYPE_KINDS[voucher_type]


def movement_record(
    row: Fields, voucher_type: str, *, site: str, zone: ZoneInfo, reverses: str = ""
) -> MovementRecord | UnreadableRecord:
    """One counted voucher line; `reverses` is the key of the line it cancels, if linked."""
    raw = _raw(row)
    try:
        quantity = _decimal(row, "iQuantity")
        posted = _required_datetime(row, "dDate")
        entered = _datetime(row, "dnmaketime")
        unit = _main_unit(row)
    except _UnreadableError as exc:
        return UnreadableRecord(raw, str(exc))
    return MovementRecord(
        document=f"{voucher_type}-{_text(row, 'cCode')}",
        line=_text(row, "AutoID"),
        kind=MovementKind.REVERSAL if reverses else _kind(voucher_type, row),
        material=_text(row, "cInvCode"),
        site=site,
        warehouse=_text(row, "cWhCode"),
        location="",
        batch=_batch(row),
        status=_UNRESTRICTED,
        quantity=quantity if _flag(row["bRdFlag"]) else -quantity,
        unit=unit,
        posted_at=to_utc(posted, zone),
        raw=raw,
        reverses=reverses,
        order_ref=_text(row, "cMPoCode" if "cMPoCode" in row else "cOrderCode"),
        entered_at=to_utc(entered, zone) if entered is not None else None,
    )


def material_record(row: Fields) -> MaterialRecord | UnreadableRecord:
    """One Inventory row."""
    raw = _raw(row)
    try:
        unit = _main_unit(row)
    except _UnreadableError as exc:
        return UnreadableRecord(raw, str(exc))
    return MaterialRecord(
        material=_text(row, "cInvCode"),
        name=_text(row, "cInvName"),
        base_unit=unit,
        raw=raw,
        batch_managed=_flag(row["bInvBatch"]),
    )


def location_record(
    row: Fields, *, site: str, line_side: frozenset[str]
) -> LocationRecord:
    """One Warehouse row."""
    warehouse = _text(row, "cWhCode")
    return LocationRecord(
        site=site,
        warehouse=warehouse,
        name=_text(row, "cWhName"),
        raw=_raw(row),
        line_side=warehouse in line_side,
    )


class ComputationUnit:
    """A ComputationUnit row: a unit in a unit group and its rate to the group's main unit."""

    __slots__ = ("code", "group", "name", "rate", "raw")

    def __init__(self, row: Fields) -> None:
        self.code = _text(row, "cComunitCode")
        self.name = _text(row, "cComUnitName")
        self.group = _text(row, "cGroupCode")
        self.raw = _raw(row)
        try:
            rate = _decimal(row, "iChangRate")
        except _UnreadableError:
            rate = Decimal(0)
        self.rate = rate


def unit_records(
    row: Fields,
    units: Mapping[str, ComputationUnit],
    groups: Mapping[str, list[ComputationUnit]],
) -> list[UnitRecord | UnreadableRecord]:
    """The fixed-rate alternative units of one Inventory row (iGroupType 1).

    A floating-rate group (2) has no fixed factor (each line's iNum is the
    authority), and a single-unit group (0) none to give.
    """
    if _text(row, "iGroupType") != "1":
        return []
    material = _text(row, "cInvCode")
    main = units.get(_text(row, "cComUnitCode"))
    if main is None or main.rate <= 0:
        reason = f"inventory {material!r}: main unit {_text(row, 'cComUnitCode')!r} has no usable rate"
        return [UnreadableRecord(_raw(row), reason)]
    records: list[UnitRecord | UnreadableRecord] = []
    for unit in groups.get(_text(row, "cGroupCode"), []):
        if unit.code == main.code:
            continue
        raw = {"cInvCode": material, "cComUnitCode": main.code, **unit.raw}
        if unit.rate <= 0:
            reason = (
                f"inventory {material!r}: unit {unit.code!r} has no usable iChangRate"
            )
            records.append(UnreadableRecord(raw, reason))
            continue
        factor = Fraction(unit.rate) / Fraction(main.rate)
        records.append(UnitRecord(material, unit.name, main.name, factor, raw))
    return records
