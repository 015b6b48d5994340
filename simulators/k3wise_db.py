"""Kingdee K3 WISE as a database: site 4000's share of the truth in K3 WISE's own tables.

`build_k3wise(truth, target)` writes an AIS-account-shaped database
(t_ICItem, t_Stock, t_StockPlace, t_UnitGroup, t_MeasureUnit, t_SystemProfile,
ICInventory, POInventory, ICInvBal, ICStockBill/ICStockBillEntry) into an
SQLite file or a PostgreSQL schema and returns the pyodbc connection string.
`k3wise_bills` says how truth lines become bills and which bills move stock.
What a connector must get right, all present here:

- Codes are integer ids: join `FItemID` to t_ICItem and `FStockID` /
  `FDCStockID` / `FSCStockID` to t_Stock for the `FNumber` codes (the canonical
  material and warehouse codes). Names are Chinese.
- ICInventory.FQty (base unit) per (FItemID, FStockID, FBatchNo) = the opening
  (ICInvBal.FBegQty of the start period) + the stock effect of every bill that
  moved stock, as `k3wise_bills` defines it. Money-only bills (100 金额调整,
  101 外购入库暂估补差; one of each is planted, with quantities) must be left
  out, as must POInventory (virtual warehouse 代管仓, FTypeID 503).
- `t_SystemProfile` (FCategory 'IC', FKey 'UPSTOCKWHENSAVE') says whether stock
  moves on save; with it on, FStatus alone misleads.
- Blank batch is `''`. `FStockPlaceID`/`FDCSPID`/`FSCSPID` are 0: no bins are
  used (t_StockPlace holds a few, unused).
- Times are naive Asia/Shanghai local time. There is no rowversion: FInterID
  only grows, and late postings released later get higher FInterIDs.

What differs from SQL Server (besides `odbc_targets`' type notes): only the
columns a stock connector needs exist; ids come from counters (t_Stock from
201, t_MeasureUnit from 101, t_ICItem from 1001, FInterID from 1001);
ICInvBal carries only the opening period's FBegQty/FBegBal (no period
closes are simulated); FTypeID 503 for the virtual warehouse follows community
report SQL that treats 501-504 as virtual, not a verified K3 constant.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from stockbridge.simulators import k3wise_schema as schema
from stockbridge.simulators.k3wise_bills import (
    BillState,
    BillWriter,
    Item,
    bill_row,
    entry_row,
)
from stockbridge.simulators.odbc_targets import (
    Loader,
    Target,
    as_target,
    money,
    open_loader,
    qty,
)
from stockbridge.simulators.truth_share import (
    UNIT_NAMES,
    Balance,
    MaterialInfo,
    TruthShare,
)

__all__ = ["SITE", "SYSTEM", "build_k3wise", "release_late"]

SITE = "4000"
SYSTEM = "k3wise"
_FIRST_STOCK_ID = 201
_FIRST_UNIT_ID = 101
_FIRST_ITEM_ID = 1001
_FIRST_INTER_ID = 1001
_REAL_STOCK = 500
_VIRTUAL_STOCK = 503
_VIRTUAL_WAREHOUSE = ("VM01", "代管仓")
_PLANTED = Decimal(50)


def build_k3wise(
    truth_path: Path | str,
    target: Target | Path | str,
    *,
    hold_late: bool = False,
    upstock_when_save: bool = True,
) -> str:
    """Build the K3 WISE database from the truth; returns the pyodbc connection string.

    `upstock_when_save` is the account option UPSTOCKWHENSAVE. With `hold_late`
    the truth's late lines are left out until `release_late` posts them.
    """
    resolved = as_target(target)
    with (
        TruthShare(truth_path, SYSTEM, SITE) as share,
        open_loader(resolved, schema.TABLES) as loader,
    ):
        items, stocks = _write_master(
            loader, share, upstock_when_save=upstock_when_save
        )
        _write_opening(loader, share, items, stocks)
        writer = BillWriter(
            loader, items, stocks, _FIRST_INTER_ID, upstock_when_save=upstock_when_save
        )
        for line in share.lines(late=False if hold_late else None):
            writer.add(line)
        writer.close()
        stock = share.stock()
        _write_planted(
            loader,
            share,
            stock,
            items=items,
            stocks=stocks,
            inter_id=writer.next_inter_id,
        )
        held = share.late_effect() if hold_late else {}
        for balance in stock:
            quantity = balance.quantity - held.get(balance.key, Decimal(0))
            loader.add(
                schema.IC_INVENTORY, _inventory_row(balance, quantity, items, stocks)
            )
    return resolved.odbc_connection_string()


def release_late(truth_path: Path | str, target: Target | Path | str) -> int:
    """Post the late lines held back by `build_k3wise(..., hold_late=True)`; once.

    They get FInterIDs above every bill already there, and the ICInventory
    rows they touch are updated. Returns the number of truth lines released.
    """
    resolved = as_target(target)
    with TruthShare(truth_path, SYSTEM, SITE) as share, open_loader(resolved) as loader:
        items, stocks, _, _ = _plan(share)
        upstock = loader.query(
            "SELECT FValue FROM t_SystemProfile WHERE FCategory = 'IC' AND FKey = 'UPSTOCKWHENSAVE'"
        )
        highest = loader.query("SELECT MAX(FInterID) FROM ICStockBill")[0][0]
        writer = BillWriter(
            loader,
            items,
            stocks,
            int(str(highest)) + 1,
            upstock_when_save=upstock[0][0] == "1",
        )
        released = 0
        for line in share.lines(late=True):
            writer.add(line)
            released += 1
        writer.close()
        touched = share.late_effect()
        for balance in share.stock():
            if balance.key in touched:
                material, warehouse, batch = balance.key
                item = items[material]
                loader.execute(
                    "UPDATE ICInventory SET FQty = ?, FBal = ?"
                    " WHERE FItemID = ? AND FStockID = ? AND FBatchNo = ?",
                    (
                        qty(balance.quantity),
                        money(balance.quantity * item.price),
                        item.item_id,
                        stocks[warehouse],
                        batch,
                    ),
                )
    return released


def _unit_name(code: str) -> str:
    try:
        return UNIT_NAMES[code]
    except KeyError:
        msg = f"no Chinese name for unit {code!r}; known: {sorted(UNIT_NAMES)}"
        raise ValueError(msg) from None


_Rows = list[tuple[object, ...]]


def _plan(share: TruthShare) -> tuple[dict[str, Item], dict[str, int], _Rows, _Rows]:
    """Items and warehouse ids, plus t_UnitGroup and t_MeasureUnit rows.

    A unit group per base unit for single-unit materials, and one per (base
    unit, alternative unit, factor) whose alternative unit has FCoefficient =
    factor (base units per alternative unit), the base unit 1.
    """
    groups: _Rows = []
    units: _Rows = []
    group_of: dict[tuple[str, str, Decimal | None], tuple[int, int, int | None]] = {}
    items: dict[str, Item] = {}
    for index, material in enumerate(share.materials()):
        shape = (material.base_unit, material.alt_unit, material.alt_factor)
        if shape not in group_of:
            group_id = len(groups) + 1
            base_id = _FIRST_UNIT_ID + len(units)
            base_name = _unit_name(material.base_unit)
            units.append(
                (
                    base_id,
                    base_id,
                    group_id,
                    f"{group_id:02d}.01",
                    base_name,
                    qty(Decimal(1)),
                    1,
                    0,
                )
            )
            alt_id = None
            name = f"{base_name}组"
            if material.alt_factor is not None:
                alt_id = base_id + 1
                alt_name = _unit_name(material.alt_unit)
                units.append(
                    (
                        alt_id,
                        alt_id,
                        group_id,
                        f"{group_id:02d}.02",
                        alt_name,
                        qty(material.alt_factor),
                        0,
                        0,
                    )
                )
                name = f"{alt_name}{material.alt_factor}{base_name}"
            groups.append((group_id, f"{group_id:02d}", name, base_id))
            group_of[shape] = (group_id, base_id, alt_id)
        _, base_id, alt_id = group_of[shape]
        items[material.material] = Item(
            _FIRST_ITEM_ID + index, base_id, alt_id, material.alt_unit, _price(index)
        )
    stocks = {
        w.warehouse: _FIRST_STOCK_ID + n for n, w in enumerate(share.warehouses())
    }
    return items, stocks, groups, units


def _price(index: int) -> Decimal:
    """A unit price per material, for the amount columns (FBal, FAmount)."""
    return Decimal(5 + (index * 7) % 40) + Decimal("0.5")


def _write_master(
    loader: Loader, share: TruthShare, *, upstock_when_save: bool
) -> tuple[dict[str, Item], dict[str, int]]:
    items, stocks, groups, units = _plan(share)
    for group in groups:
        loader.add(schema.T_UNIT_GROUP, group)
    for unit in units:
        loader.add(schema.T_MEASURE_UNIT, unit)
    materials: list[MaterialInfo] = share.materials()
    group_ids = {row[3]: row[0] for row in groups}
    for material in materials:
        item = items[material.material]
        _, _, model = material.name.partition(" ")
        loader.add(
            schema.T_IC_ITEM,
            (
                item.item_id, material.material, material.name, model, material.material,
                group_ids[item.base_unit_id], item.base_unit_id,
                item.alt_unit_id or item.base_unit_id, 0, qty(Decimal(0)), 4,
                int(material.batch_managed), 0, 0,
            ),
        )  # fmt: skip
    for warehouse in share.warehouses():
        loader.add(
            schema.T_STOCK,
            (
                stocks[warehouse.warehouse],
                warehouse.warehouse,
                warehouse.name,
                _REAL_STOCK,
                0,
                0,
            ),
        )
    virtual_id = _FIRST_STOCK_ID + len(stocks)
    loader.add(schema.T_STOCK, (virtual_id, *_VIRTUAL_WAREHOUSE, _VIRTUAL_STOCK, 0, 0))
    for place in ((1, 1, "A-01", "A区01架", 0), (2, 1, "A-02", "A区02架", 0)):
        loader.add(schema.T_STOCK_PLACE, place)
    start, now = share.start_at, share.now_at
    for key, value, description in (
        ("UPSTOCKWHENSAVE", "1" if upstock_when_save else "0", "保存单据时更新库存"),
        ("StartYear", str(start.year), "启用年度"),
        ("StartPeriod", str(start.month), "启用期间"),
        ("CurrentYear", str(now.year), "当前年度"),
        ("CurrentPeriod", str(now.month), "当前期间"),
    ):
        loader.add(schema.T_SYSTEM_PROFILE, ("IC", key, value, description))
    return items, stocks


def _write_opening(
    loader: Loader, share: TruthShare, items: dict[str, Item], stocks: dict[str, int]
) -> None:
    start = share.start_at
    for balance in share.opening():
        if balance.quantity:
            material, warehouse, batch = balance.key
            item = items[material]
            row = (
                "0", start.year, start.month, stocks[warehouse], item.item_id, batch, "", 0,
                qty(balance.quantity), money(balance.quantity * item.price),
            )  # fmt: skip
            loader.add(schema.IC_INV_BAL, row)


def _write_planted(
    loader: Loader,
    share: TruthShare,
    stock: list[Balance],
    *,
    items: dict[str, Item],
    stocks: dict[str, int],
    inter_id: int,
) -> None:
    """Rows a reader must leave out: money-only bills and virtual-warehouse stock."""
    if not stock:
        return
    material, warehouse, batch = stock[0].key
    item = items[material]
    audited = BillState(1, checked=True, cancellation=0, upstock_when_save=0)
    at = share.now_at - timedelta(hours=2)
    for offset, (tran_type, bill_no, note) in enumerate(
        ((100, "JTZ000001", "成本调整"), (101, "ZGBC000001", "暂估补差"))
    ):
        loader.add(
            schema.IC_STOCK_BILL,
            bill_row(
                inter_id + offset,
                bill_no,
                tran_type=tran_type,
                times=(at, at),
                state=audited,
                red=False,
                note=note,
            ),
        )
        loader.add(
            schema.IC_STOCK_BILL_ENTRY,
            entry_row(
                inter_id + offset,
                1,
                item=item,
                quantity=_PLANTED,
                batch=batch,
                stocks=(stocks[warehouse], 0),
            ),
        )
    virtual_id = _FIRST_STOCK_ID + len(stocks)
    lots = list(
        dict.fromkeys(
            (material, batch) for material, _, batch in (b.key for b in stock)
        )
    )
    for quantity, (material, batch) in zip(
        (_PLANTED, _PLANTED * 2), lots[:2], strict=False
    ):
        planted = Balance(
            (material, _VIRTUAL_WAREHOUSE[0], batch), quantity, Decimal(0)
        )
        row = _inventory_row(
            planted, quantity, items, {_VIRTUAL_WAREHOUSE[0]: virtual_id}
        )
        loader.add(schema.PO_INVENTORY, (*row, _VIRTUAL_STOCK))


def _inventory_row(
    balance: Balance, quantity: Decimal, items: dict[str, Item], stocks: dict[str, int]
) -> tuple[object, ...]:
    material, warehouse, batch = balance.key
    item = items[material]
    zero = qty(Decimal(0))
    return (
        "0", item.item_id, batch, "", stocks[warehouse], 0, qty(quantity),
        money(quantity * item.price), 0, "", qty(balance.reserved), 0, zero,
    )  # fmt: skip
