"""Truth movement lines rendered as K3 WISE stock bills (ICStockBill/ICStockBillEntry).

How a truth line becomes a bill entry:

- kind → FTranType: receipt 1 (外购入库), production_receipt 2 (产成品入库),
  adjustment gain 40 (盘盈入库), production_issue 24 (生产领料), sales_issue 21
  (销售出库), scrap and adjustment loss 43 (盘亏毁损), issue 29 (其他出库); a
  return from production is a red 24 (退料), a return to vendor a red 1.
- a transfer whose two legs are both in the share is one 41 (仓库调拨) entry:
  `FSCStockID` the source, `FDCStockID` the destination, FQty positive. A
  single leg (or a reversed leg) is a 29 out or a 10 in.
- reversal → a red bill (`FROB=-1`) of the reversed line's FTranType, with
  `FSourceBillNo`/`FSourceEntryID` naming the reversed line.
- `FQty` is in the base unit and negative on red bills, as K3 WISE stores them,
  so the stock effect is `+FQty` for receipt types (1 2 5 10 40) and `-FQty`
  for issue types (21 24 28 29 43), and a 41 moves `FQty` from FSCStockID to
  FDCStockID. Do not multiply by FROB as well: FROB only says red or blue.
- the warehouse is `FDCStockID` on every receipt and issue except 24, which
  uses `FSCStockID` (the other column is 0).
- audit state. A line that moved stock (truth `effective=1`) is on an audited
  bill (`FStatus=1`, `FCheckerID`, `FCheckDate`), or, when the account updates
  stock on save (`UPSTOCKWHENSAVE`), every fourth bill is saved but not yet
  audited (`FStatus=0`, `FUpStockWhenSave=1`): it has moved stock all the same.
  A line that did not move stock is on a voided bill (`FCancellation=1`), or on
  an unaudited bill saved while stock moved only on audit
  (`FUpStockWhenSave=0`). Stock moves iff
  `FStatus > 0 OR (FUpStockWhenSave > 0 AND FCancellation < 1)`.
- `FDate` is the posting date and `FCheckDate` the entry time, in Asia/Shanghai
  local time; FInterID grows in the truth's line order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import NamedTuple

from stockbridge.simulators import k3wise_schema as schema
from stockbridge.simulators.odbc_targets import Loader, money, qty, when
from stockbridge.simulators.truth_share import Line

__all__ = [
    "BILLER",
    "CHECKER",
    "BillState",
    "BillWriter",
    "Item",
    "bill_row",
    "entry_row",
    "state_of",
]

BILLER = 16394
CHECKER = 16395
_TRANSFER = 41


@dataclass(frozen=True, slots=True)
class Item:
    """What an entry needs to know about its material."""

    item_id: int
    base_unit_id: int
    alt_unit_id: int | None
    alt_code: str  # UN/ECE code of the alternative unit, '' if none
    price: Decimal


class _Type(NamedTuple):
    code: int
    inbound: bool


_RECEIPT = _Type(1, inbound=True)
_PICK = _Type(24, inbound=False)
_TYPES: dict[tuple[str, int], _Type] = {
    ("receipt", 1): _RECEIPT,
    ("receipt", -1): _RECEIPT,
    ("return", -1): _RECEIPT,
    ("production_receipt", 1): _Type(2, inbound=True),
    ("production_receipt", -1): _Type(2, inbound=True),
    ("production_issue", -1): _PICK,
    ("production_issue", 1): _PICK,
    ("return", 1): _PICK,
    ("sales_issue", -1): _Type(21, inbound=False),
    ("sales_issue", 1): _Type(21, inbound=False),
    ("issue", -1): _Type(29, inbound=False),
    ("issue", 1): _Type(29, inbound=False),
    ("scrap", -1): _Type(43, inbound=False),
    ("scrap", 1): _Type(43, inbound=False),
    ("adjustment", 1): _Type(40, inbound=True),
    ("adjustment", -1): _Type(43, inbound=False),
    ("transfer", 1): _Type(10, inbound=True),
    ("transfer", -1): _Type(29, inbound=False),
}


def _tran_type(line: Line) -> _Type:
    try:
        return _TYPES[line.origin_kind, line.direction]
    except KeyError:
        msg = f"movement {line.id}: no K3 WISE bill type for kind {line.origin_kind!r}"
        raise ValueError(msg) from None


class BillState(NamedTuple):
    status: int
    checked: bool
    cancellation: int
    upstock_when_save: int


def state_of(inter_id: int, *, effective: bool, upstock_when_save: bool) -> BillState:
    """Audit, void and save-time flags that make a bill move stock iff `effective`."""
    if effective:
        if upstock_when_save and inter_id % 4 == 0:
            return BillState(0, checked=False, cancellation=0, upstock_when_save=1)
        return BillState(
            1, checked=True, cancellation=0, upstock_when_save=int(upstock_when_save)
        )
    if inter_id % 2 == 0:
        return BillState(
            0, checked=False, cancellation=1, upstock_when_save=int(upstock_when_save)
        )
    return BillState(0, checked=False, cancellation=0, upstock_when_save=0)


def _day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time())


def bill_row(
    inter_id: int,
    bill_no: str,
    *,
    tran_type: int,
    times: tuple[datetime, datetime],
    state: BillState,
    red: bool,
    note: str | None = None,
) -> tuple[object, ...]:
    """An ICStockBill row; `times` are (posted, entered), naive local."""
    posted, entered = times
    return (
        "0", inter_id, bill_no, tran_type, when(_day(posted)), state.status,
        CHECKER if state.checked else None, when(entered) if state.checked else None,
        state.cancellation, -1 if red else 1, state.upstock_when_save, BILLER, 0, 0, 0, note,
    )  # fmt: skip


def entry_row(
    inter_id: int,
    entry_id: int,
    *,
    item: Item,
    quantity: Decimal,
    batch: str,
    stocks: tuple[int, int],
    unit: tuple[int, Decimal] | None = None,
    orders: tuple[str | None, str | None] = (None, None),
    source: tuple[int, str, int] | None = None,
) -> tuple[object, ...]:
    """An entry; `quantity` is FQty (base unit, signed), `stocks` (FDCStockID, FSCStockID),
    `unit` (FUnitID, FAuxQty) when entered in another unit."""
    unit_id, aux = unit if unit is not None else (item.base_unit_id, quantity)
    source_type, source_bill, source_entry = (
        source if source is not None else (None, None, None)
    )
    return (
        "0", inter_id, entry_id, item.item_id, qty(quantity), qty(aux), unit_id, batch, "", 0,
        stocks[0], stocks[1], 0, 0, qty(item.price), money(quantity * item.price),
        orders[0], orders[1], source_type, source_bill, source_entry, None,
    )  # fmt: skip


class BillWriter:
    """Streams truth lines into bills; one truth document is open at a time."""

    def __init__(
        self,
        loader: Loader,
        items: dict[str, Item],
        stocks: dict[str, int],
        next_inter_id: int,
        *,
        upstock_when_save: bool,
    ) -> None:
        self._loader = loader
        self._items = items
        self._stocks = stocks
        self._next = next_inter_id
        self._upstock = upstock_when_save
        self._document: str | None = None
        self._bills: dict[tuple[int, bool, bool], tuple[int, Line]] = {}

    @property
    def next_inter_id(self) -> int:
        return self._next

    def add(self, line: Line) -> None:
        if line.document != self._document:
            self.close()
            self._document = line.document
        paired = line.kind == "transfer" and line.partner_warehouse is not None
        if paired and line.direction > 0:
            return  # the destination leg is the 41 entry's FDCStockID
        tran_type = _TRANSFER if paired else _tran_type(line).code
        quantity = (
            -line.quantity if paired or not _tran_type(line).inbound else line.quantity
        )
        red = quantity < 0
        key = (tran_type, red, line.effective)
        if key not in self._bills:
            self._bills[key] = (self._next, line)
            self._next += 1
        inter_id = self._bills[key][0]
        material, warehouse, batch = line.key
        item = self._items[material]
        here = self._stocks[warehouse]
        if paired:
            stocks = (self._stocks[str(line.partner_warehouse)], here)
        else:
            stocks = (0, here) if tran_type == _PICK.code else (here, 0)
        unit = None
        if item.alt_unit_id is not None and line.entry_unit == item.alt_code:
            unit = (
                item.alt_unit_id,
                line.entry_quantity if quantity >= 0 else -line.entry_quantity,
            )
        production = tran_type in (2, 24)
        orders = (
            (None, line.order_ref or None)
            if production
            else (line.order_ref or None, None)
        )
        source = None
        if line.reversed_ref is not None:
            source = (tran_type, line.reversed_ref[0], line.reversed_ref[1])
        row = entry_row(
            inter_id,
            line.line,
            item=item,
            quantity=quantity,
            batch=batch,
            stocks=stocks,
            unit=unit,
            orders=orders,
            source=source,
        )
        self._loader.add(schema.IC_STOCK_BILL_ENTRY, row)

    def close(self) -> None:
        """Write the headers of the open document."""
        for (tran_type, red, effective), (inter_id, first) in self._bills.items():
            state = state_of(
                inter_id, effective=effective, upstock_when_save=self._upstock
            )
            row = bill_row(
                inter_id,
                first.document,
                tran_type=tran_type,
                times=(first.posted_at, first.entered_at),
                state=state,
                red=red,
            )
            self._loader.add(schema.IC_STOCK_BILL, row)
        self._bills.clear()
