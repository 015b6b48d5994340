"""The Kingdee K3 WISE tables the simulator builds, in SQL Server terms.

Names are K3 WISE's own (AIS<date> account databases), cut down to the columns
a stock connector reads plus the ones that decide whether a bill moves stock
(FTranType, FROB, FStatus, FCancellation, FUpStockWhenSave, FSCStockID /
FDCStockID). See `simulators.k3wise_db` for what differs from SQL Server.
"""

from __future__ import annotations

from stockbridge.simulators.odbc_targets import Table

__all__ = [
    "IC_INVENTORY",
    "IC_INV_BAL",
    "IC_STOCK_BILL",
    "IC_STOCK_BILL_ENTRY",
    "PO_INVENTORY",
    "TABLES",
    "T_IC_ITEM",
    "T_MEASURE_UNIT",
    "T_STOCK",
    "T_STOCK_PLACE",
    "T_SYSTEM_PROFILE",
    "T_UNIT_GROUP",
]

T_IC_ITEM = Table(
    "t_ICItem",
    (
        ("FItemID", "int"),
        ("FNumber", "nvarchar(80)"),
        ("FName", "nvarchar(255)"),
        ("FModel", "nvarchar(255)"),
        ("FHelpCode", "nvarchar(80)"),
        ("FUnitGroupID", "int"),
        ("FUnitID", "int"),
        ("FStoreUnitID", "int"),
        ("FSecUnitID", "int"),
        ("FSecCoefficient", "decimal(28,10)"),
        ("FQtyDecimal", "smallint"),
        ("FBatchManager", "smallint"),
        ("FISKFPeriod", "smallint"),
        ("FDeleted", "smallint"),
    ),
    ("FItemID",),
)

T_STOCK = Table(
    "t_Stock",
    (
        ("FItemID", "int"),
        ("FNumber", "nvarchar(80)"),
        ("FName", "nvarchar(80)"),
        ("FTypeID", "int"),
        ("FSPGroupID", "int"),
        ("FDeleted", "smallint"),
    ),
    ("FItemID",),
)

T_STOCK_PLACE = Table(
    "t_StockPlace",
    (
        ("FSPID", "int"),
        ("FSPGroupID", "int"),
        ("FNumber", "nvarchar(80)"),
        ("FName", "nvarchar(80)"),
        ("FDeleted", "smallint"),
    ),
    ("FSPID",),
)

T_UNIT_GROUP = Table(
    "t_UnitGroup",
    (
        ("FUnitGroupID", "int"),
        ("FNumber", "nvarchar(30)"),
        ("FName", "nvarchar(80)"),
        ("FDefaultUnitID", "int"),
    ),
    ("FUnitGroupID",),
)

T_MEASURE_UNIT = Table(
    "t_MeasureUnit",
    (
        ("FMeasureUnitID", "int"),
        ("FItemID", "int"),
        ("FUnitGroupID", "int"),
        ("FNumber", "nvarchar(30)"),
        ("FName", "nvarchar(80)"),
        ("FCoefficient", "decimal(28,10)"),
        ("FStandard", "smallint"),
        ("FDeleted", "smallint"),
    ),
    ("FMeasureUnitID",),
)

T_SYSTEM_PROFILE = Table(
    "t_SystemProfile",
    (
        ("FCategory", "nvarchar(30)"),
        ("FKey", "nvarchar(100)"),
        ("FValue", "nvarchar(255)"),
        ("FDescription", "nvarchar(255)"),
    ),
    ("FCategory", "FKey"),
)

_INVENTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("FBrNo", "nvarchar(10)"),
    ("FItemID", "int"),
    ("FBatchNo", "nvarchar(200)"),
    ("FMTONo", "nvarchar(200)"),
    ("FStockID", "int"),
    ("FStockPlaceID", "int"),
    ("FQty", "decimal(28,10)"),
    ("FBal", "decimal(20,2)"),
    ("FKFPeriod", "int"),
    ("FKFDate", "nvarchar(255)"),
    ("FQtyLock", "decimal(28,10)"),
    ("FAuxPropID", "int"),
    ("FSecQty", "decimal(28,10)"),
)
_INVENTORY_KEY = (
    "FItemID", "FStockID", "FStockPlaceID", "FBatchNo", "FMTONo", "FAuxPropID", "FKFDate", "FKFPeriod",
)  # fmt: skip

IC_INVENTORY = Table("ICInventory", _INVENTORY_COLUMNS, _INVENTORY_KEY)
"""即时库存, real warehouses."""

PO_INVENTORY = Table(
    "POInventory", (*_INVENTORY_COLUMNS, ("FStockTypeID", "int")), _INVENTORY_KEY
)
"""虚仓库存: virtual warehouses (e.g. 代管仓), not own stock."""

IC_INV_BAL = Table(
    "ICInvBal",
    (
        ("FBrNo", "nvarchar(10)"),
        ("FYear", "int"),
        ("FPeriod", "int"),
        ("FStockID", "int"),
        ("FItemID", "int"),
        ("FBatchNo", "nvarchar(200)"),
        ("FMTONo", "nvarchar(200)"),
        ("FAuxPropID", "int"),
        ("FBegQty", "decimal(28,10)"),
        ("FBegBal", "decimal(20,2)"),
    ),
    ("FYear", "FPeriod", "FStockID", "FItemID", "FBatchNo", "FMTONo", "FAuxPropID"),
)
"""库房存货余额: here only the opening period's FBegQty (the stock at the truth's start)."""

IC_STOCK_BILL = Table(
    "ICStockBill",
    (
        ("FBrNo", "nvarchar(10)"),
        ("FInterID", "int"),
        ("FBillNo", "nvarchar(255)"),
        ("FTranType", "int"),
        ("FDate", "datetime"),
        ("FStatus", "smallint"),
        ("FCheckerID", "int"),
        ("FCheckDate", "datetime"),
        ("FCancellation", "smallint"),
        ("FROB", "int"),
        ("FUpStockWhenSave", "smallint"),
        ("FBillerID", "int"),
        ("FDeptID", "int"),
        ("FSupplyID", "int"),
        ("FVchInterID", "int"),
        ("FNote", "nvarchar(255)"),
    ),
    ("FInterID",),
)

IC_STOCK_BILL_ENTRY = Table(
    "ICStockBillEntry",
    (
        ("FBrNo", "nvarchar(10)"),
        ("FInterID", "int"),
        ("FEntryID", "int"),
        ("FItemID", "int"),
        ("FQty", "decimal(28,10)"),
        ("FAuxQty", "decimal(28,10)"),
        ("FUnitID", "int"),
        ("FBatchNo", "nvarchar(200)"),
        ("FMTONo", "nvarchar(200)"),
        ("FAuxPropID", "int"),
        ("FDCStockID", "int"),
        ("FSCStockID", "int"),
        ("FDCSPID", "int"),
        ("FSCSPID", "int"),
        ("FPrice", "decimal(28,10)"),
        ("FAmount", "decimal(20,2)"),
        ("FOrderBillNo", "nvarchar(255)"),
        ("FICMOBillNo", "nvarchar(255)"),
        ("FSourceTranType", "int"),
        ("FSourceBillNo", "nvarchar(255)"),
        ("FSourceEntryID", "int"),
        ("FNote", "nvarchar(255)"),
    ),
    ("FInterID", "FEntryID"),
)

TABLES: tuple[Table, ...] = (
    T_IC_ITEM,
    T_STOCK,
    T_STOCK_PLACE,
    T_UNIT_GROUP,
    T_MEASURE_UNIT,
    T_SYSTEM_PROFILE,
    IC_INVENTORY,
    PO_INVENTORY,
    IC_INV_BAL,
    IC_STOCK_BILL,
    IC_STOCK_BILL_ENTRY,
)
