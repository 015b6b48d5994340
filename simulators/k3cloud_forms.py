"""The K3 Cloud forms the simulator serves, and the field keys each one knows.

A form's catalogue maps each field key, matched case-insensitively as the real
metadata lookup does, to an SQL expression over the simulator's own tables.
Reference fields (material, warehouse, lot, status, unit, organisation, bill
type) return their internal ID when asked bare and resolve `.FNumber` /
`.FName` dot paths through a lookup table, as ExecuteBillQuery does. A key the
catalogue lacks is the real "元数据中标识为…的字段不存在" error (MsgCode 9).

Field keys follow the reference (`kingdee-yonyou-mes.md` §1.4, §1.5). Keys it
does not name are this simulator's unverified choice: the base-unit quantities
`FBaseActualQty` (PRD_PickMtrl) and `FBaseRealQty` (PRD_INSTOCK), the count
bills' `FGainQty`/`FLossQty` (entity `FBillEntry`), `FDestLot` on transfers,
`FSoorDerno` on SAL_OUTSTOCK, `<entity>_FSeq`, and the status mapping of
`restricted` to KCZT08_SYS (不良). The unit FNumbers are a typical tenant's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FORMS",
    "INVENTORY_FORM",
    "STOCK_STATUSES",
    "UNITS",
    "Field",
    "Form",
    "resolve_field",
]

Kind = Literal["int", "text", "qty", "date"]


@dataclass(frozen=True)
class Field:
    """One queryable column: `expr` is what is returned, `cmp` what filters and sorts use."""

    key: str
    kind: Kind
    expr: str
    cmp: str
    lookup: tuple[str, str, str] | None = None
    """For a dot path: (id expression, lookup table, column), so a filter can
    become `id IN (SELECT id FROM table WHERE column ...)`, an index probe."""


@dataclass(frozen=True)
class Ref:
    """A reference (base data) field: `id_expr` on the row, names in `table`."""

    key: str
    id_expr: str
    table: str
    id_kind: Kind = "int"


@dataclass(frozen=True)
class Form:
    form_id: str
    name: str
    table: str
    """`bill_rows` for movement bills, `inventory` for STK_Inventory."""
    entity: str
    """The entry entity key (`<entity>_FEntryId`); '' for STK_Inventory."""
    direction: int
    """+1 bills put stock in, -1 take it out, 0 for transfers and the inventory."""
    bill_type: str
    number_prefix: str
    qty_keys: tuple[str, ...]
    """Keys holding the line quantity in the entry unit (signed: negative is red-ink)."""
    base_qty_keys: tuple[str, ...]
    """Keys holding the line quantity in the base unit."""
    fields: dict[str, Field]
    refs: dict[str, Ref]


def _field(key: str, kind: Kind, expr: str, cmp: str | None = None) -> Field:
    return Field(key, kind, expr, cmp or expr)


def _qty(key: str, column: str) -> Field:
    return Field(key, "qty", f"r.{column}", f"r.{column}_i")


# Lookup tables each have (id, number, name); id 0 is the empty reference.
_HEADER_REFS = (
    Ref("FStockOrgId", "r.stock_org_id", "orgs"),
    Ref("FBillTypeID", "r.bill_type_id", "bill_types", "text"),
)
_HEADER_FIELDS = (
    _field("FID", "int", "r.fid"),
    _field("FBillNo", "text", "r.bill_no"),
    _field("FDate", "date", "r.date"),
    _field("FDocumentStatus", "text", "r.document_status"),
    _field("FCancelStatus", "text", "r.cancel_status"),
    _field("FCreateDate", "date", "r.create_date"),
    _field("FModifyDate", "date", "r.modify_date"),
    _field("FApproveDate", "date", "r.approve_date"),
    _field("FNote", "text", "r.note"),
)
_LINE_REFS = (
    Ref("FMaterialId", "r.material_id", "materials"),
    Ref("FUnitID", "r.unit_id", "units"),
    Ref("FBaseUnitId", "r.base_unit_id", "units"),
    Ref("FOwnerId", "r.stock_org_id", "orgs"),
    Ref("FKeeperId", "r.stock_org_id", "orgs"),
)
_STOCK_REFS = (
    Ref("FStockId", "r.stock_id", "stocks"),
    Ref("FLot", "r.lot_id", "lots"),
    Ref("FStockStatusId", "r.status_id", "stock_statuses"),
)
_LINE_FIELDS = (
    _field("FStockLocId", "int", "0"),
    _field("FOwnerTypeId", "text", "'BD_OwnerOrg'"),
    _field("FKeeperTypeId", "text", "'BD_KeeperOrg'"),
    _field("FMtoNo", "text", "''"),
)


def _bill(
    form_id: str,
    name: str,
    *,
    entity: str,
    direction: int,
    bill_type: str,
    prefix: str,
    qty: tuple[str, ...],
    base_qty: tuple[str, ...],
    order_key: str = "",
    stock_refs: tuple[Ref, ...] = _STOCK_REFS,
    extra_refs: tuple[Ref, ...] = (),
) -> Form:
    order = (_field(order_key, "text", "r.order_ref"),) if order_key else ()
    fields = [
        *_HEADER_FIELDS,
        *_LINE_FIELDS,
        *order,
        _field(f"{entity}_FEntryId", "int", "r.entry_id"),
        _field(f"{entity}_FSeq", "int", "r.seq"),
        *(_qty(key, "qty") for key in qty),
        *(_qty(key, "base_qty") for key in base_qty),
    ]
    refs = [*_HEADER_REFS, *_LINE_REFS, *stock_refs, *extra_refs]
    return Form(
        form_id,
        name,
        "bill_rows",
        entity,
        direction,
        bill_type,
        prefix,
        qty,
        base_qty,
        {f.key.lower(): f for f in fields},
        {r.key.lower(): r for r in refs},
    )


_TRANSFER_REFS = (
    Ref("FSrcStockId", "r.stock_id", "stocks"),
    Ref("FDestStockId", "r.dest_stock_id", "stocks"),
    Ref("FLot", "r.lot_id", "lots"),
    Ref("FDestLot", "r.dest_lot_id", "lots"),
    Ref("FSrcStockStatusId", "r.status_id", "stock_statuses"),
    Ref("FDestStockStatusId", "r.dest_status_id", "stock_statuses"),
)
_PRD_REFS = (
    Ref("FPrdOrgId", "r.stock_org_id", "orgs"),
    Ref("FBillType", "r.bill_type_id", "bill_types", "text"),
)

FORMS: dict[str, Form] = {
    form.form_id.lower(): form
    for form in (
        _bill(
            "STK_InStock", "采购入库单", entity="FInStockEntry", direction=1,
            bill_type="RKD01_SYS", prefix="CGRK", qty=("FRealQty", "FMustQty"),
            base_qty=("FBaseUnitQty",), order_key="FPOOrderNo",
        ),
        _bill(
            "PRD_PickMtrl", "生产领料单", entity="FEntity", direction=-1,
            bill_type="SCLLD01_SYS", prefix="SCLL", qty=("FActualQty", "FAppQty"),
            base_qty=("FBaseActualQty",), order_key="FMoBillNo", extra_refs=_PRD_REFS,
        ),
        _bill(
            "PRD_INSTOCK", "生产入库单", entity="FEntity", direction=1,
            bill_type="SCRKD02_SYS", prefix="SCRK", qty=("FRealQty", "FMustQty"),
            base_qty=("FBaseRealQty",), order_key="FMoBillNo", extra_refs=_PRD_REFS,
        ),
        _bill(
            "SAL_OUTSTOCK", "销售出库单", entity="FEntity", direction=-1,
            bill_type="XSCKD01_SYS", prefix="XSCKD", qty=("FRealQty", "FMustQty"),
            base_qty=("FBaseUnitQty",), order_key="FSoorDerno",
        ),
        _bill(
            "STK_MisDelivery", "其他出库单", entity="FEntity", direction=-1,
            bill_type="QTCKD01_SYS", prefix="QTCKD", qty=("FQty",),
            base_qty=("FBaseQty",),
        ),
        _bill(
            "STK_MISCELLANEOUS", "其他入库单", entity="FEntity", direction=1,
            bill_type="QTRKD01_SYS", prefix="QTRK", qty=("FQty",),
            base_qty=("FBaseQty",),
        ),
        _bill(
            "STK_TransferDirect", "直接调拨单", entity="FBillEntry", direction=0,
            bill_type="ZJDB01_SYS", prefix="ZJDB", qty=("FQty",),
            base_qty=("FBaseQty",), stock_refs=_TRANSFER_REFS,
            extra_refs=(Ref("FStockOutOrgId", "r.stock_org_id", "orgs"),),
        ),
        _bill(
            "STK_StockCountGain", "盘盈单", entity="FBillEntry", direction=1,
            bill_type="PY01_SYS", prefix="PY", qty=("FGainQty",),
            base_qty=("FBaseGainQty",),
        ),
        _bill(
            "STK_StockCountLoss", "盘亏单", entity="FBillEntry", direction=-1,
            bill_type="PK01_SYS", prefix="PK", qty=("FLossQty",),
            base_qty=("FBaseLossQty",),
        ),
    )
}  # fmt: skip


def _inventory() -> Form:
    fields = (
        _field("FID", "text", "r.fid"),
        _field("FStockLocId", "int", "0"),
        _field("FAuxPropId", "int", "0"),
        _field("FBomId", "int", "0"),
        _field("FSecUnitId", "int", "0"),
        _field("FOwnerTypeId", "text", "'BD_OwnerOrg'"),
        _field("FKeeperTypeId", "text", "'BD_KeeperOrg'"),
        _field("FObjectTypeId", "text", "'STK_Inventory'"),
        _field("FMtoNo", "text", "''"),
        _field("FProjectNo", "text", "''"),
        _field("FProduceDate", "date", "NULL"),
        _field("FExpiryDate", "date", "NULL"),
        _field("FUpdateTime", "date", "r.update_time"),
        _qty("FBaseQty", "qty"),
        _qty("FQty", "qty"),
        _qty("FBaseLockQty", "lock_qty"),
        _qty("FLockQty", "lock_qty"),
        _qty("FBaseAVBQty", "avb_qty"),
        _qty("FAVBQty", "avb_qty"),
        Field("FSecQty", "qty", "'0'", "0"),
        Field("FSecAVBQty", "qty", "'0'", "0"),
    )
    refs = (
        Ref("FStockOrgId", "r.stock_org_id", "orgs"),
        Ref("FOwnerId", "r.stock_org_id", "orgs"),
        Ref("FKeeperId", "r.stock_org_id", "orgs"),
        Ref("FMaterialId", "r.material_id", "materials"),
        Ref("FBaseUnitId", "r.base_unit_id", "units"),
        Ref("FStockUnitId", "r.base_unit_id", "units"),
        *_STOCK_REFS,
    )
    return Form(
        "STK_Inventory",
        "即时库存",
        "inventory",
        "",
        0,
        "",
        "",
        ("FQty",),
        ("FBaseQty",),
        {f.key.lower(): f for f in fields},
        {r.key.lower(): r for r in refs},
    )


INVENTORY_FORM = _inventory()
FORMS[INVENTORY_FORM.form_id.lower()] = INVENTORY_FORM

_SUB_COLUMNS = {"fnumber": "number", "fname": "name"}


def resolve_field(form: Form, key: str) -> Field | None:
    """The column behind a field key or dot path, None if the form has no such key."""
    head, _, sub = key.strip().partition(".")
    head = head.lower()
    if not sub:
        field = form.fields.get(head)
        if field is not None:
            return field
        ref = form.refs.get(head)
        return None if ref is None else _field(key, ref.id_kind, ref.id_expr)
    ref = form.refs.get(head)
    column = _SUB_COLUMNS.get(sub.lower())
    if ref is None or column is None:
        return None
    lookup = f"(SELECT {column} FROM {ref.table} WHERE id = {ref.id_expr})"  # noqa: S608 - our identifiers
    return Field(key, "text", lookup, lookup, (ref.id_expr, ref.table, column))


STOCK_STATUSES: dict[str, tuple[int, str, str]] = {
    "unrestricted": (10000, "KCZT01_SYS", "可用"),
    "quality_inspection": (10001, "KCZT02_SYS", "待检"),
    "blocked": (10002, "KCZT03_SYS", "冻结"),
    "in_transit": (10004, "KCZT05_SYS", "在途"),
    "restricted": (10257, "KCZT08_SYS", "不良"),
}
"""Canonical status -> (FStockStatusId, FNumber, FName) of K3's system statuses."""

UNITS: dict[str, tuple[int, str, str]] = {
    "H87": (10101, "Pcs", "Pcs"),
    "KGM": (10095, "kg", "千克"),
    "GRM": (10094, "g", "克"),
    "TNE": (10096, "t", "吨"),
    "MTR": (10087, "m", "米"),
    "LTR": (10089, "L", "升"),
    "CT": (100201, "箱", "箱"),
    "BX": (100202, "盒", "盒"),
}
"""UN/ECE code -> (FUnitID, FNumber, FName) as a Chinese tenant numbers its units."""
