"""The Yonyou U8 tables the simulator builds, in SQL Server terms, and U8's codes.

Table and column names are U8's own (UFDATA_<account>_<year>), cut down to the
columns a stock connector reads plus the ones that decide whether a voucher
counts (bRdFlag, cHandler, dVeriDate, bredvouch, bOMFirst/bpufirst/biafirst,
bIsSTQc, cBusType). See `simulators.u8_db` for what differs from SQL Server.
"""

from __future__ import annotations

from functools import cache

from stockbridge.simulators.odbc_targets import Table

__all__ = [
    "COMPUTATION_GROUP",
    "COMPUTATION_UNIT",
    "CURRENT_STOCK",
    "INVENTORY",
    "RD_STYLE",
    "RD_STYLES",
    "TABLES",
    "TRANS_VOUCH",
    "TRANS_VOUCHS",
    "VOUCHER_TYPES",
    "WAREHOUSE",
    "rd_record",
    "rd_records",
]

VOUCHER_TYPES = ("01", "08", "09", "10", "11", "32", "34")
"""采购入库, 其他入库, 其他出库, 产成品入库, 材料出库, 销售出库, 期初: the
voucher types U8's month-end stock close sums (and so the ones simulated)."""

_FREE = tuple((f"cFree{n}", "nvarchar(20)") for n in range(1, 11))

INVENTORY = Table(
    "Inventory",
    (
        ("cInvCode", "nvarchar(60)"),
        ("cInvName", "nvarchar(255)"),
        ("cInvStd", "nvarchar(255)"),
        ("cComUnitCode", "nvarchar(35)"),
        ("cSTComUnitCode", "nvarchar(35)"),
        ("cAssComUnitCode", "nvarchar(35)"),
        ("cGroupCode", "nvarchar(35)"),
        ("iGroupType", "smallint"),
        ("bInvBatch", "smallint"),
        ("bInvQuality", "smallint"),
        ("pubufts", "bigint"),
    ),
    ("cInvCode",),
)

WAREHOUSE = Table(
    "Warehouse",
    (
        ("cWhCode", "nvarchar(10)"),
        ("cWhName", "nvarchar(20)"),
        ("cDepCode", "nvarchar(12)"),
        ("bWhPos", "smallint"),
        ("bProxyWh", "smallint"),
        ("dWhEndDate", "datetime"),
        ("pubufts", "bigint"),
    ),
    ("cWhCode",),
)

COMPUTATION_GROUP = Table(
    "ComputationGroup",
    (
        ("cGroupCode", "nvarchar(35)"),
        ("cGroupName", "nvarchar(20)"),
        ("iGroupType", "smallint"),
    ),
    ("cGroupCode",),
)

COMPUTATION_UNIT = Table(
    "ComputationUnit",
    (
        ("cComunitCode", "nvarchar(35)"),
        ("cComUnitName", "nvarchar(20)"),
        ("cGroupCode", "nvarchar(35)"),
        ("bMainUnit", "smallint"),
        ("iChangRate", "decimal(28,10)"),
        ("iNumber", "smallint"),
    ),
    ("cComunitCode",),
)

RD_STYLE = Table(
    "Rd_Style",
    (("cRdCode", "nvarchar(5)"), ("cRdName", "nvarchar(12)"), ("bRdFlag", "smallint")),
    ("cRdCode",),
)

RD_STYLES: tuple[tuple[str, str, int], ...] = (
    ("101", "采购入库", 1),
    ("102", "产成品入库", 1),
    ("103", "盘盈入库", 1),
    ("104", "调拨入库", 1),
    ("201", "材料领用出库", 0),
    ("202", "销售出库", 0),
    ("203", "其他出库", 0),
    ("204", "报废出库", 0),
    ("205", "盘亏出库", 0),
    ("206", "调拨出库", 0),
)
"""收发类别 (receive/dispatch categories): account-defined codes in real U8."""

CURRENT_STOCK = Table(
    "CurrentStock",
    (
        ("AutoID", "int"),
        ("cWhCode", "nvarchar(10)"),
        ("cInvCode", "nvarchar(60)"),
        ("ItemId", "int"),
        ("cBatch", "nvarchar(60)"),
        ("cVMIVenCode", "nvarchar(20)"),
        ("iSoType", "int"),
        ("iSodid", "nvarchar(40)"),
        ("iQuantity", "decimal(28,10)"),
        ("iNum", "decimal(28,10)"),
        ("fOutQuantity", "decimal(28,10)"),
        ("fInQuantity", "decimal(28,10)"),
        ("fTransInQuantity", "decimal(28,10)"),
        ("fTransOutQuantity", "decimal(28,10)"),
        ("fDisableQuantity", "decimal(28,10)"),
        ("fAvaQuantity", "decimal(28,10)"),
        ("fStopQuantity", "decimal(28,10)"),
        ("bStopFlag", "smallint"),
        *_FREE,
        ("dVDate", "datetime"),
        ("dMdate", "datetime"),
        ("cCheckState", "nvarchar(4)"),
        ("ufts", "bigint"),
    ),
    ("AutoID",),
)


@cache
def rd_record(voucher_type: str) -> Table:
    """收发记录主表 RdRecordNN: one row per voucher."""
    return Table(
        f"RdRecord{voucher_type}",
        (
            ("ID", "bigint"),
            ("bRdFlag", "smallint"),
            ("cVouchType", "nvarchar(2)"),
            ("cBusType", "nvarchar(12)"),
            ("cSource", "nvarchar(50)"),
            ("cBusCode", "nvarchar(30)"),
            ("cWhCode", "nvarchar(10)"),
            ("dDate", "datetime"),
            ("cCode", "nvarchar(30)"),
            ("cRdCode", "nvarchar(5)"),
            ("cOrderCode", "nvarchar(30)"),
            ("cMPoCode", "nvarchar(30)"),
            ("cHandler", "nvarchar(20)"),
            ("cMemo", "nvarchar(255)"),
            ("cMaker", "nvarchar(20)"),
            ("dVeriDate", "datetime"),
            ("bpufirst", "smallint"),
            ("biafirst", "smallint"),
            ("bOMFirst", "smallint"),
            ("bIsSTQc", "smallint"),
            ("dnmaketime", "datetime"),
            ("dnmodifytime", "datetime"),
            ("dnverifytime", "datetime"),
            ("bredvouch", "int"),
            ("ufts", "bigint"),
        ),
        ("ID",),
    )


@cache
def rd_records(voucher_type: str) -> Table:
    """收发记录子表 RdRecordsNN: one row per voucher line, joined on ID."""
    return Table(
        f"RdRecords{voucher_type}",
        (
            ("AutoID", "bigint"),
            ("ID", "bigint"),
            ("cInvCode", "nvarchar(60)"),
            ("iNum", "decimal(28,10)"),
            ("iQuantity", "decimal(28,10)"),
            ("iinvexchrate", "decimal(28,10)"),
            ("cAssUnit", "nvarchar(35)"),
            ("cBatch", "nvarchar(60)"),
            *_FREE,
            ("cPosition", "nvarchar(20)"),
            ("dVDate", "datetime"),
            ("dMadeDate", "datetime"),
            ("irowno", "int"),
            ("cbMemo", "nvarchar(255)"),
            ("rowufts", "bigint"),
        ),
        ("AutoID",),
    )


TRANS_VOUCH = Table(
    "TransVouch",
    (
        ("ID", "bigint"),
        ("cTVCode", "nvarchar(30)"),
        ("dTVDate", "datetime"),
        ("cOWhCode", "nvarchar(10)"),
        ("cIWhCode", "nvarchar(10)"),
        ("cORdCode", "nvarchar(5)"),
        ("cIRdCode", "nvarchar(5)"),
        ("cMaker", "nvarchar(20)"),
        ("cVerifyPerson", "nvarchar(20)"),
        ("dVerifyDate", "datetime"),
        ("dnmaketime", "datetime"),
        ("dnverifytime", "datetime"),
        ("ufts", "bigint"),
    ),
    ("ID",),
)

TRANS_VOUCHS = Table(
    "TransVouchs",
    (
        ("autoID", "bigint"),
        ("ID", "bigint"),
        ("cTVCode", "nvarchar(30)"),
        ("cInvCode", "nvarchar(60)"),
        ("iTVQuantity", "decimal(28,10)"),
        ("iTVNum", "decimal(28,10)"),
        ("cTVBatch", "nvarchar(60)"),
        *_FREE,
        ("cOutPosCode", "nvarchar(20)"),
        ("cInPosCode", "nvarchar(20)"),
        ("irowno", "int"),
    ),
    ("autoID",),
)

TABLES: tuple[Table, ...] = (
    INVENTORY,
    WAREHOUSE,
    COMPUTATION_GROUP,
    COMPUTATION_UNIT,
    RD_STYLE,
    CURRENT_STOCK,
    *(rd_record(t) for t in VOUCHER_TYPES),
    *(rd_records(t) for t in VOUCHER_TYPES),
    TRANS_VOUCH,
    TRANS_VOUCHS,
)
