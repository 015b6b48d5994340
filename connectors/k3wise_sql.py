"""The SQL a K3 WISE account database is read with, and what its bill types mean.

Every read is a `SELECT` that SQL Server, PostgreSQL and SQLite all run:
unquoted K3 names (PostgreSQL folds them to lower case, so results are bound
by position), `?` parameters, and LEFT JOINs to the masters so that a row
whose item or warehouse is missing still arrives and is reported instead of
vanishing in an inner join. Each read is ordered by a unique key so that
`OdbcClient.pages` can walk it by keyset, one short query per page.

Which bills moved stock is decided in SQL by the rule K3's own reports use,
`FStatus > 0 OR (FUpStockWhenSave > 0 AND FCancellation < 1)`: with the
account option UPSTOCKWHENSAVE on, ICInventory changes when a bill is saved,
so an unaudited bill may have moved stock and a voided one has not. A bill
whose FUpStockWhenSave is NULL takes the account's option (t_SystemProfile).
Money-only bills (100 金额调整, 101 外购入库暂估补差, 102 委外加工费补差) carry
quantities but never move stock and are not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from stockbridge.mapping.model import MovementKind

__all__ = [
    "BILLS",
    "BILL_TYPES",
    "INVENTORY",
    "ITEMS",
    "MONEY_ONLY_TYPES",
    "TRANSFER",
    "UNITS",
    "UPSTOCK_QUERY",
    "VIRTUAL_INVENTORY",
    "WAREHOUSES",
    "BillType",
    "Read",
    "Side",
    "bill_conditions",
    "warehouse_conditions",
]

MONEY_ONLY_TYPES = (100, 101, 102)
TRANSFER = 41
VIRTUAL_STOCK_TYPES = (501, 502, 503, 504)
"""t_Stock.FTypeID of virtual warehouses (community report SQL, not a verified constant)."""


class Side(Enum):
    """Which warehouse column of ICStockBillEntry a bill type moves."""

    DESTINATION = "FDCStockID"
    SOURCE = "FSCStockID"


@dataclass(frozen=True, slots=True)
class BillType:
    """An FTranType: its name, canonical kind, direction and warehouse column."""

    name: str
    kind: MovementKind
    inbound: bool
    side: Side = Side.DESTINATION


BILL_TYPES: dict[int, BillType] = {
    1: BillType("外购入库", MovementKind.RECEIPT, inbound=True),
    2: BillType("产成品入库", MovementKind.PRODUCTION_RECEIPT, inbound=True),
    3: BillType("自制入库", MovementKind.PRODUCTION_RECEIPT, inbound=True),
    5: BillType("委外加工入库", MovementKind.RECEIPT, inbound=True),
    10: BillType("其他入库", MovementKind.RECEIPT, inbound=True),
    40: BillType("盘盈入库", MovementKind.ADJUSTMENT, inbound=True),
    21: BillType("销售出库", MovementKind.SALES_ISSUE, inbound=False),
    24: BillType(
        "生产领料", MovementKind.PRODUCTION_ISSUE, inbound=False, side=Side.SOURCE
    ),
    28: BillType("委外加工发出", MovementKind.ISSUE, inbound=False),
    29: BillType("其他出库", MovementKind.ISSUE, inbound=False),
    43: BillType("盘亏毁损", MovementKind.ADJUSTMENT, inbound=False),
}
"""Receipt and issue types. 41 (仓库调拨) is two legs and handled apart; 43 is
a count loss or a write-off, so `adjustment` (K3 does not say which)."""

UPSTOCK_QUERY = (
    "SELECT FValue FROM t_SystemProfile"
    " WHERE FCategory = 'IC' AND FKey = 'UPSTOCKWHENSAVE'"
)


@dataclass(frozen=True, slots=True)
class Read:
    """A keyset-paged read: columns as (SQL, label), FROM/JOIN text, unique key."""

    columns: tuple[tuple[str, str], ...]
    source: str
    key: tuple[str, ...]
    """SQL expressions of the unique key, each also a column, in ORDER BY order."""

    @property
    def labels(self) -> tuple[str, ...]:
        """The label of each result position."""
        return tuple(label for _, label in self.columns)

    def key_positions(self) -> tuple[int, ...]:
        """Where the key's values are in a result row."""
        expressions = [expression for expression, _ in self.columns]
        return tuple(expressions.index(part) for part in self.key)

    def statement(
        self,
        conditions: Sequence[str] = (),
        params: Sequence[object] = (),
        *,
        after: Sequence[object] | None = None,
    ) -> tuple[str, tuple[object, ...]]:
        """The SELECT with `conditions` (ANDed) and the rows after key `after`."""
        where, values = list(conditions), list(params)
        if after is not None:
            clause, key_values = _after(self.key, after)
            where.append(clause)
            values += key_values
        sql = f"SELECT {', '.join(e for e, _ in self.columns)} {self.source}"
        if where:
            sql += f" WHERE {' AND '.join(where)}"
        return f"{sql} ORDER BY {', '.join(self.key)}", tuple(values)


def _after(key: tuple[str, ...], values: Sequence[object]) -> tuple[str, list[object]]:
    """`key > values` row-wise, spelled out (SQL Server has no row comparison).

    The leading `first >= ?` lets the server seek on the first key column.
    """
    branches, params = [], [values[0]]
    for index, column in enumerate(key):
        equal = [f"{part} = ?" for part in key[:index]]
        branches.append("(" + " AND ".join([*equal, f"{column} > ?"]) + ")")
        params += [*values[:index], values[index]]
    return f"({key[0]} >= ? AND ({' OR '.join(branches)}))", params


# --- stock ------------------------------------------------------------------------

_INVENTORY_KEY = (
    "v.FItemID", "v.FStockID", "v.FStockPlaceID", "v.FBatchNo", "v.FMTONo",
    "v.FAuxPropID", "v.FKFDate", "v.FKFPeriod",
)  # fmt: skip


def _inventory(table: str, stock_type: str) -> Read:
    columns = (
        ("item.FNumber", "item.FNumber"),
        ("stock.FNumber", "stock.FNumber"),
        ("place.FNumber", "place.FNumber"),
        ("v.FQty", "FQty"),
        ("v.FQtyLock", "FQtyLock"),
        ("unit.FName", "unit.FName"),
        (stock_type, "FStockTypeID"),
        *((column, column.removeprefix("v.")) for column in _INVENTORY_KEY),
    )
    source = (
        f"FROM {table} v"
        " LEFT JOIN t_ICItem item ON item.FItemID = v.FItemID"
        " LEFT JOIN t_Stock stock ON stock.FItemID = v.FStockID"
        " LEFT JOIN t_StockPlace place ON place.FSPID = v.FStockPlaceID"
        " LEFT JOIN t_MeasureUnit unit ON unit.FMeasureUnitID = item.FUnitID"
    )
    return Read(columns, source, _INVENTORY_KEY)


INVENTORY = _inventory("ICInventory", "NULL")
"""即时库存 of the real warehouses (FQty in the base unit)."""
VIRTUAL_INVENTORY = _inventory("POInventory", "v.FStockTypeID")
"""虚仓库存: virtual warehouses (代管仓 ...), read only with `include_virtual`."""


# --- movements ------------------------------------------------------------------------

BILLS = Read(
    (
        ("b.FInterID", "FInterID"),
        ("e.FEntryID", "FEntryID"),
        ("b.FBillNo", "FBillNo"),
        ("b.FTranType", "FTranType"),
        ("b.FDate", "FDate"),
        ("b.FCheckDate", "FCheckDate"),
        ("b.FROB", "FROB"),
        ("b.FStatus", "FStatus"),
        ("b.FCancellation", "FCancellation"),
        ("b.FUpStockWhenSave", "FUpStockWhenSave"),
        ("e.FQty", "FQty"),
        ("e.FBatchNo", "FBatchNo"),
        ("e.FItemID", "FItemID"),
        ("e.FDCStockID", "FDCStockID"),
        ("e.FSCStockID", "FSCStockID"),
        ("item.FNumber", "item.FNumber"),
        ("unit.FName", "unit.FName"),
        ("dc.FNumber", "dc.FNumber"),
        ("sc.FNumber", "sc.FNumber"),
        ("dcp.FNumber", "dcp.FNumber"),
        ("scp.FNumber", "scp.FNumber"),
        ("e.FOrderBillNo", "FOrderBillNo"),
        ("e.FICMOBillNo", "FICMOBillNo"),
        ("e.FSourceTranType", "FSourceTranType"),
        ("e.FSourceBillNo", "FSourceBillNo"),
        ("e.FSourceEntryID", "FSourceEntryID"),
    ),
    "FROM ICStockBill b"
    " JOIN ICStockBillEntry e ON e.FInterID = b.FInterID"
    " LEFT JOIN t_ICItem item ON item.FItemID = e.FItemID"
    " LEFT JOIN t_MeasureUnit unit ON unit.FMeasureUnitID = item.FUnitID"
    " LEFT JOIN t_Stock dc ON dc.FItemID = e.FDCStockID"
    " LEFT JOIN t_Stock sc ON sc.FItemID = e.FSCStockID"
    " LEFT JOIN t_StockPlace dcp ON dcp.FSPID = e.FDCSPID"
    " LEFT JOIN t_StockPlace scp ON scp.FSPID = e.FSCSPID",
    ("b.FInterID", "e.FEntryID"),
)
"""Entries of stock bills with their header, item, base unit and warehouses."""


def bill_conditions(
    upstock_when_save: bool,
    *,
    watermark: int | None = None,
    rescan: tuple[object, object] | None = None,
) -> tuple[list[str], list[object]]:
    """WHERE parts of BILLS: moved stock, not money-only, new or re-scanned.

    With `watermark`, only bills above that FInterID, or with `rescan` =
    (first FDate, first FCheckDate), as the dialect binds times, also the
    bills dated or audited since then.
    """
    money_only = ", ".join(str(code) for code in MONEY_ONLY_TYPES)
    conditions = [
        f"b.FTranType NOT IN ({money_only})",
        "(b.FStatus > 0 OR (COALESCE(b.FUpStockWhenSave, ?) > 0"
        " AND COALESCE(b.FCancellation, 0) < 1))",
    ]
    params: list[object] = [int(upstock_when_save)]
    if watermark is not None and rescan is None:
        conditions.append("b.FInterID > ?")
        params.append(watermark)
    elif watermark is not None and rescan is not None:
        conditions.append("(b.FInterID > ? OR b.FDate >= ? OR b.FCheckDate >= ?)")
        params += [watermark, *rescan]
    return conditions, params


# --- master data -------------------------------------------------------------------------

ITEMS = Read(
    (
        ("item.FItemID", "FItemID"),
        ("item.FNumber", "FNumber"),
        ("item.FName", "FName"),
        ("item.FModel", "FModel"),
        ("unit.FName", "unit.FName"),
        ("item.FBatchManager", "FBatchManager"),
        ("item.FDeleted", "FDeleted"),
    ),
    "FROM t_ICItem item"
    " LEFT JOIN t_MeasureUnit unit ON unit.FMeasureUnitID = item.FUnitID",
    ("item.FItemID",),
)
"""Every item (deleted ones too: their stock and history still need a base unit)."""

WAREHOUSES = Read(
    (
        ("s.FItemID", "FItemID"),
        ("s.FNumber", "FNumber"),
        ("s.FName", "FName"),
        ("s.FTypeID", "FTypeID"),
    ),
    "FROM t_Stock s",
    ("s.FItemID",),
)


def warehouse_conditions(*, include_virtual: bool) -> list[str]:
    """Leave out the virtual warehouses unless asked for."""
    if include_virtual:
        return []
    virtual = ", ".join(str(code) for code in VIRTUAL_STOCK_TYPES)
    return [f"COALESCE(s.FTypeID, 0) NOT IN ({virtual})"]


UNITS = Read(
    (
        ("item.FItemID", "FItemID"),
        ("alt.FMeasureUnitID", "unit.FMeasureUnitID"),
        ("item.FNumber", "item.FNumber"),
        ("alt.FName", "unit.FName"),
        ("alt.FCoefficient", "unit.FCoefficient"),
        ("base.FName", "base.FName"),
        ("base.FCoefficient", "base.FCoefficient"),
    ),
    "FROM t_ICItem item"
    " JOIN t_MeasureUnit base ON base.FMeasureUnitID = item.FUnitID"
    " JOIN t_MeasureUnit alt ON alt.FUnitGroupID = item.FUnitGroupID"
    " AND alt.FMeasureUnitID <> item.FUnitID",
    ("item.FItemID", "alt.FMeasureUnitID"),
)
"""Each item's other units of its unit group. FCoefficient is a unit's size in
the group's standard unit: 1 alt unit = alt.FCoefficient / base.FCoefficient."""
