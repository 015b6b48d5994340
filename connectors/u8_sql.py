"""The SQL the U8 connector runs, written once for SQL Server and the ODBC test databases.

Every statement is a `SELECT` over UFDATA tables with values bound as `?`,
ordered by a unique key so `OdbcClient.pages` can walk it by keyset. Result
columns are read by position: each statement comes with the U8 names of its
columns (PostgreSQL would return them folded to lower case).

Which voucher lines count is U8's own month-end arithmetic (U8-CO
`PeriodStockSql`): audited (`cHandler` set and `dVeriDate` set), not another
module's opening voucher (`bOMFirst`, `bpufirst`, `biafirst`), not a 假退料
(fake return) 材料出库, and not the stock opening itself (`bIsSTQc`; its
quantity is in CurrentStock, it is not a movement). Rows of the ComputationUnit
join on `cComunitCode`, its key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from stockbridge.connectors.odbc_dialect import Dialect

__all__ = [
    "COMPUTATION_UNITS",
    "FAKE_RETURN",
    "MOVEMENT_TYPES",
    "ORDER_COLUMNS",
    "Changes",
    "Select",
    "locations_select",
    "materials_select",
    "movements_select",
    "original_lines_select",
    "settled_ufts",
    "stock_select",
]

MOVEMENT_TYPES = ("01", "08", "09", "10", "11", "32")
"""采购入库, 其他入库, 其他出库, 产成品入库, 材料出库, 销售出库: the stock vouchers
U8 sums besides the 34 opening. TransVouch is not read: an audited transfer
moves stock through the 08/09 vouchers U8 generates from it."""

FAKE_RETURN = "假退料"

ORDER_COLUMNS = {"10": "cMPoCode", "11": "cMPoCode"}
"""The header column naming the order: the work order on 产成品入库/材料出库
(`cMPoCode`, which 销售出库 does not have), else `cOrderCode`."""

_FREE = tuple(f"cFree{n}" for n in range(1, 11))


@dataclass(frozen=True, slots=True)
class Select:
    """A statement, its bound values, and the U8 names of its result columns."""

    sql: str
    params: tuple[object, ...]
    names: tuple[str, ...]


def _columns(*groups: tuple[str, Sequence[str]]) -> tuple[str, tuple[str, ...]]:
    """SELECT-list text and column names from (table alias, U8 column names) groups."""
    names = tuple(name for _, group in groups for name in group)
    sql = ", ".join(f"{alias}.{name}" for alias, group in groups for name in group)
    return sql, names


_STOCK = (
    "AutoID", "cWhCode", "cInvCode", "cBatch", "cVMIVenCode", "iSoType", "iSodid",
    "iQuantity", "iNum", "fAvaQuantity", "fStopQuantity", "fDisableQuantity",
    "bStopFlag", *_FREE, "dVDate", "dMdate",
)  # fmt: skip
_HEADER = (
    "ID", "cCode", "bRdFlag", "cBusType", "cSource", "cBusCode", "cWhCode", "dDate",
    "cRdCode", "cHandler", "dVeriDate", "dnmaketime",
    "dnmodifytime", "dnverifytime", "bredvouch",
)  # fmt: skip
_LINE = (
    "cInvCode", "iQuantity", "iNum", "cAssUnit", "cBatch", *_FREE, "cPosition",
    "irowno", "cbMemo",
)  # fmt: skip
_INVENTORY = (
    "cInvCode", "cInvName", "cInvStd", "cComUnitCode", "cGroupCode", "iGroupType",
    "bInvBatch",
)  # fmt: skip
_OPENING_FLAGS = ("bOMFirst", "bpufirst", "biafirst", "bIsSTQc")
_UNIT_NAME = ("u", ("cComUnitName",))
_UNIT_JOIN = "LEFT JOIN ComputationUnit u ON u.cComunitCode = i.cComUnitCode"


def stock_select(after: int | None) -> Select:
    """CurrentStock rows with the main unit's name, by AutoID."""
    columns, names = _columns(("s", _STOCK), _UNIT_NAME)
    where, params = ("WHERE s.AutoID > ? ", (after,)) if after is not None else ("", ())
    sql = (
        f"SELECT {columns} FROM CurrentStock s"  # noqa: S608 - constant text
        f" LEFT JOIN Inventory i ON i.cInvCode = s.cInvCode {_UNIT_JOIN}"
        f" {where}ORDER BY s.AutoID"
    )
    return Select(sql, params, names)


@dataclass(frozen=True, slots=True)
class Changes:
    """An incremental read: headers changed after `ufts`, or audited/edited since `since`."""

    ufts: int
    since: datetime | None


def movements_select(
    dialect: Dialect, voucher_type: str, changes: Changes | None, after: int | None
) -> Select:
    """Counted lines of one voucher type joined to their headers, by line AutoID."""
    order = ORDER_COLUMNS.get(voucher_type, "cOrderCode")
    columns, names = _columns(("l", ("AutoID",)), ("h", (*_HEADER, order)))
    line_columns, line_names = _columns(("l", _LINE), _UNIT_NAME)
    columns += f", {dialect.rowversion('h.ufts')}, {line_columns}"
    names += ("ufts", *line_names)
    # Plain column tests, not COALESCE: a planner cannot estimate COALESCE and
    # then sorts the whole join for every page (PostgreSQL: 40x slower).
    conditions = [
        "h.cHandler <> ''",
        "h.dVeriDate IS NOT NULL",
        *(f"(h.{flag} = 0 OR h.{flag} IS NULL)" for flag in _OPENING_FLAGS),
    ]
    params: list[object] = []
    if voucher_type == "11":
        conditions.append("(h.cBusType <> ? OR h.cBusType IS NULL)")
        params.append(FAKE_RETURN)
    if changes is not None:
        changed = f"{dialect.rowversion('h.ufts')} > ?"
        params.append(changes.ufts)
        if changes.since is not None:
            changed += " OR h.dnverifytime >= ? OR h.dnmodifytime >= ?"
            since = dialect.time_param(changes.since)
            params += [since, since]
        conditions.append(f"({changed})")
    if after is not None:
        conditions.append("l.AutoID > ?")
        params.append(after)
    sql = (
        f"SELECT {columns} FROM RdRecords{voucher_type} l"  # noqa: S608 - constant text
        f" JOIN RdRecord{voucher_type} h ON h.ID = l.ID"
        f" LEFT JOIN Inventory i ON i.cInvCode = l.cInvCode {_UNIT_JOIN}"
        f" WHERE {' AND '.join(conditions)} ORDER BY l.AutoID"
    )
    return Select(sql, tuple(params), names)


def original_lines_select(voucher_type: str, codes: Sequence[str]) -> Select:
    """The blue lines of vouchers `codes` of one type: what red-ink lines may cancel.

    Callers keep `codes` under SQL Server's 2100 parameters per statement.
    """
    marks = ", ".join("?" * len(codes))
    sql = (
        f"SELECT h.cCode, l.irowno, h.cWhCode, l.AutoID FROM RdRecords{voucher_type} l"  # noqa: S608
        f" JOIN RdRecord{voucher_type} h ON h.ID = l.ID"
        f" WHERE h.cCode IN ({marks}) AND (h.bredvouch = 0 OR h.bredvouch IS NULL)"
    )
    return Select(sql, tuple(codes), ("cCode", "irowno", "cWhCode", "AutoID"))


def settled_ufts(dialect: Dialect) -> str:
    """The rowversion below which every voucher header is committed."""
    return dialect.settled_rowversion([f"RdRecord{t}" for t in MOVEMENT_TYPES])


def materials_select(after: str | None) -> Select:
    """Inventory with its main unit's name, by cInvCode."""
    columns, names = _columns(("i", _INVENTORY), _UNIT_NAME)
    where, params = (
        ("WHERE i.cInvCode > ? ", (after,)) if after is not None else ("", ())
    )
    sql = (
        f"SELECT {columns} FROM Inventory i {_UNIT_JOIN}"  # noqa: S608 - constant text
        f" {where}ORDER BY i.cInvCode"
    )
    return Select(sql, params, names)


COMPUTATION_UNITS = Select(
    "SELECT cComunitCode, cComUnitName, cGroupCode, bMainUnit, iChangRate FROM ComputationUnit",
    (),
    ("cComunitCode", "cComUnitName", "cGroupCode", "bMainUnit", "iChangRate"),
)
"""Every unit (a small table: read whole for the units stream)."""


def locations_select(after: str | None) -> Select:
    """Warehouses by cWhCode."""
    names = ("cWhCode", "cWhName", "cDepCode", "bWhPos", "bProxyWh", "dWhEndDate")
    where, params = ("WHERE cWhCode > ? ", (after,)) if after is not None else ("", ())
    sql = f"SELECT {', '.join(names)} FROM Warehouse {where}ORDER BY cWhCode"  # noqa: S608
    return Select(sql, params, names)
