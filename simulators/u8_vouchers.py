"""Truth movement lines rendered as U8 stock vouchers (RdRecordNN/RdRecordsNN, TransVouch).

How a truth line becomes a voucher line:

- kind → voucher type: receipt 01, production_receipt 10, production_issue 11,
  sales_issue 32, issue and scrap 09, adjustment gain 08 / loss 09, return
  from production a red 11 (退料), return to vendor a red 01 (采购退货).
- reversal → a red-ink voucher of the reversed line's type (`bredvouch=1`).
- `iQuantity` is in the main unit and signed so that U8's own arithmetic,
  `(bRdFlag=1 ? +1 : -1) * iQuantity`, gives the truth's signed quantity; a red
  voucher therefore has negative `iQuantity`.
- transfer → `TransVouch`/`TransVouchs` (from `cOWhCode` to `cIWhCode`) and, once
  audited, the 其他出库 09 and 其他入库 08 vouchers U8 generates from it
  (`cSource='调拨'`, `cBusCode` = the transfer's code, cBusType 调拨出库/调拨入库).
  Those 08/09 vouchers are what moves stock: U8's month-end close sums only
  RdRecord types and never TransVouch, so a reader that adds TransVouch too
  counts each transfer twice. An unaudited transfer has no 08/09 yet. A
  reversed transfer leg is a red 08/09 of its own, without a TransVouch.
- unaudited (truth `effective=0`) → `cHandler=''`, `dVeriDate` NULL.
- times are the truth's UTC in Asia/Shanghai local time: `dDate` is the posting
  date, `dnmaketime` the entry time, `dVeriDate`/`dnverifytime` the audit.

A document's lines share a header when they share type, warehouse, business
type, red flag and audit state; U8 allows nothing else on one voucher.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import NamedTuple

from stockbridge.simulators import u8_schema as schema
from stockbridge.simulators.odbc_targets import Loader, qty, when
from stockbridge.simulators.truth_share import Line

__all__ = [
    "AUDITOR",
    "MAKER",
    "Head",
    "Ids",
    "Item",
    "Slot",
    "VoucherWriter",
    "day",
    "header_row",
    "line_row",
]

MAKER = "李娜"
AUDITOR = "王芳"
_PIECE_PLACES = Decimal("0.0001")
_BLANK_FREE = ("",) * 10


@dataclass(frozen=True, slots=True)
class Item:
    """What a voucher line needs to know about its material."""

    item_id: int
    main_unit: str
    alt_unit: str | None  # U8 unit code of the auxiliary unit
    alt_code: str  # its UN/ECE code, '' if none
    factor: Decimal | None

    def pieces(self, quantity: Decimal) -> str | None:
        """iNum for a main-unit quantity: the count in the auxiliary unit."""
        if self.factor is None:
            return None
        return qty((quantity / self.factor).quantize(_PIECE_PLACES))


class Ids:
    """U8's identity counters: voucher IDs, line AutoIDs and the database rowversion."""

    def __init__(
        self, voucher: int, line: int, transfer: int, transfer_line: int, ufts: int
    ) -> None:
        self._next = {
            "voucher": voucher,
            "line": line,
            "transfer": transfer,
            "transfer_line": transfer_line,
            "ufts": ufts,
        }

    def take(self, name: str) -> int:
        value = self._next[name]
        self._next[name] = value + 1
        return value


class Slot(NamedTuple):
    """Where a line goes: voucher type, bRdFlag, cBusType, cRdCode (收发类别)."""

    voucher_type: str
    rd_flag: int
    bus_type: str
    rd_code: str


_RECEIPT = Slot("01", 1, "普通采购", "101")
_SLOTS: dict[tuple[str, int], Slot] = {
    ("receipt", 1): _RECEIPT,
    ("receipt", -1): _RECEIPT,
    ("return", -1): _RECEIPT,  # 采购退货: a red 采购入库
    ("production_receipt", 1): Slot("10", 1, "成品入库", "102"),
    ("production_receipt", -1): Slot("10", 1, "成品入库", "102"),
    ("production_issue", -1): Slot("11", 0, "领料", "201"),
    ("production_issue", 1): Slot("11", 0, "领料", "201"),
    ("return", 1): Slot("11", 0, "领料", "201"),  # 退料: a red 材料出库
    ("sales_issue", -1): Slot("32", 0, "普通销售", "202"),
    ("sales_issue", 1): Slot("32", 0, "普通销售", "202"),
    ("issue", -1): Slot("09", 0, "其他出库", "203"),
    ("issue", 1): Slot("09", 0, "其他出库", "203"),
    ("scrap", -1): Slot("09", 0, "报废出库", "204"),
    ("scrap", 1): Slot("09", 0, "报废出库", "204"),
    ("adjustment", 1): Slot("08", 1, "盘盈入库", "103"),
    ("adjustment", -1): Slot("09", 0, "盘亏出库", "205"),
    ("transfer", 1): Slot("08", 1, "调拨入库", "104"),
    ("transfer", -1): Slot("09", 0, "调拨出库", "206"),
}


def _slot(line: Line) -> Slot:
    try:
        return _SLOTS[line.origin_kind, line.direction]
    except KeyError:
        msg = f"movement {line.id}: no U8 voucher for kind {line.origin_kind!r}"
        raise ValueError(msg) from None


def day(moment: datetime) -> datetime:
    """U8 keeps voucher dates as datetimes at midnight."""
    return datetime.combine(moment.date(), time())


class Head(NamedTuple):
    """What makes a voucher a voucher: lines share a header only if all of it matches."""

    slot: Slot
    warehouse: str
    red: bool
    audited: bool
    transfer: bool


def header_row(
    ident: int,
    head: Head,
    code: str,
    times: tuple[datetime, datetime],
    *,
    ufts: int,
    source: str = "库存",
    bus_code: str | None = None,
    order_ref: str = "",
    memo: str | None = None,
    om_first: bool = False,
    opening: bool = False,
) -> tuple[object, ...]:
    """An RdRecordNN row; `times` are (posted, entered), naive local."""
    voucher_type, rd_flag, bus_type, rd_code = head.slot
    warehouse, audited = head.warehouse, head.audited
    posted, entered = times
    production = voucher_type in ("10", "11")
    return (
        ident, rd_flag, voucher_type, bus_type, source, bus_code, warehouse, when(day(posted)),
        code, rd_code or None, None if production else order_ref or None,
        order_ref or None if production else None,
        AUDITOR if audited else "", memo, MAKER,
        when(day(entered)) if audited else None,
        0, 0, int(om_first), int(opening),
        when(entered), when(entered), when(entered) if audited else None,
        int(head.red), ufts,
    )  # fmt: skip


def line_row(
    auto_id: int,
    voucher_id: int,
    *,
    material: str,
    item: Item,
    quantity: Decimal,
    batch: str,
    row_number: int,
    ufts: int,
    pieces: str | None = None,
    memo: str | None = None,
) -> tuple[object, ...]:
    """An RdRecordsNN row; `quantity` is iQuantity (main unit, already signed)."""
    return (
        auto_id, voucher_id, material,
        pieces if pieces is not None else item.pieces(quantity), qty(quantity),
        qty(item.factor) if item.factor is not None else None, item.alt_unit,
        batch, *_BLANK_FREE, None, None, None, row_number, memo, ufts,
    )  # fmt: skip


class VoucherWriter:
    """Streams truth lines into vouchers; one truth document is open at a time."""

    def __init__(self, loader: Loader, items: dict[str, Item], ids: Ids) -> None:
        self._loader = loader
        self._items = items
        self._ids = ids
        self._document: str | None = None
        self._vouchers: dict[Head, tuple[int, Line]] = {}
        self._transfers: dict[tuple[str, str | None, bool], tuple[int, Line]] = {}

    def add(self, line: Line) -> None:
        if line.document != self._document:
            self.close()
            self._document = line.document
        transfer = line.kind == "transfer" and line.partner_warehouse is not None
        if transfer and line.direction < 0:
            self._transfer_line(line)
        if transfer and not line.effective:
            return  # U8 writes a transfer's 08/09 vouchers when it is audited
        self._voucher_line(line, transfer)

    def _voucher_line(self, line: Line, transfer: bool) -> None:
        slot = _slot(line)
        quantity = line.quantity if slot.rd_flag else -line.quantity
        red = quantity < 0
        head = Head(slot, line.key[1], red, line.effective, transfer)
        if head not in self._vouchers:
            self._vouchers[head] = (self._ids.take("voucher"), line)
        voucher_id = self._vouchers[head][0]
        material, _, batch = line.key
        item = self._items[material]
        pieces = None
        if item.alt_code and line.entry_unit == item.alt_code:
            pieces = qty(line.entry_quantity if quantity >= 0 else -line.entry_quantity)
        memo = None
        if line.reversed_ref is not None:
            memo = f"冲销 {line.reversed_ref[0]}/{line.reversed_ref[1]}"
        row = line_row(
            self._ids.take("line"), voucher_id, material=material, item=item, quantity=quantity,
            batch=batch, row_number=line.line, ufts=self._ids.take("ufts"), pieces=pieces, memo=memo,
        )  # fmt: skip
        self._loader.add(schema.rd_records(slot.voucher_type), row)

    def _transfer_line(self, line: Line) -> None:
        key = (line.key[1], line.partner_warehouse, line.effective)
        if key not in self._transfers:
            self._transfers[key] = (self._ids.take("transfer"), line)
        transfer_id = self._transfers[key][0]
        material, _, batch = line.key
        quantity = -line.quantity
        row = (
            self._ids.take("transfer_line"), transfer_id, line.document, material, qty(quantity),
            self._items[material].pieces(quantity), batch, *_BLANK_FREE, None, None, line.line,
        )  # fmt: skip
        self._loader.add(schema.TRANS_VOUCHS, row)

    def close(self) -> None:
        """Write the headers of the open document (a header's ufts follows its lines)."""
        for head, (ident, first) in self._vouchers.items():
            row = header_row(
                ident, head, first.document, (first.posted_at, first.entered_at),
                ufts=self._ids.take("ufts"), source="调拨" if head.transfer else "库存",
                bus_code=first.document if head.transfer else None, order_ref=first.order_ref,
            )  # fmt: skip
            self._loader.add(schema.rd_record(head.slot.voucher_type), row)
        for (source, destination, audited), (ident, first) in self._transfers.items():
            row = (
                ident, first.document, when(day(first.posted_at)), source, destination,
                "206", "104", MAKER, AUDITOR if audited else "",
                when(day(first.entered_at)) if audited else None, when(first.entered_at),
                when(first.entered_at) if audited else None, self._ids.take("ufts"),
            )  # fmt: skip
            self._loader.add(schema.TRANS_VOUCH, row)
        self._vouchers.clear()
        self._transfers.clear()
