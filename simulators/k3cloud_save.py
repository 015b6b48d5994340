"""Save: a bill written back through the WebAPI, stored beside the truth's bills.

A saved bill lands in the same `bill_rows` the truth's bills live in, so it
shows in ExecuteBillQuery at once (FDocumentStatus A). Base data is named by
`{"FNumber": ...}`; a quantity in the material's packaging unit is converted
to the base unit with the material's factor. Bill numbers are unique per form:
saving a number that exists is refused, which is what makes a retried
write-back safe to detect. `IsAutoSubmitAndAudit` runs Submit and Audit too.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal, InvalidOperation

from stockbridge.simulators.k3cloud_forms import Form
from stockbridge.simulators.k3cloud_query import date_literal
from stockbridge.simulators.k3cloud_store import ORG_ID, now_text, scaled
from stockbridge.simulators.k3cloud_writeback import (
    BillRef,
    WriteError,
    allows_negative,
    audit_bill,
    model_value,
    set_status,
    writable_form,
)

__all__ = ["save"]


class _Lines:
    """Resolves one entry's base data and quantities against the store."""

    def __init__(self, db: sqlite3.Connection, form: Form) -> None:
        self.db = db
        self.form = form

    def _ref(self, entry: object, key: str, table: str, row: int) -> int | None:
        number = model_value(model_value(entry, key), "FNumber")
        if number in (None, ""):
            return None
        found = self.db.execute(
            f"SELECT id FROM {table} WHERE number = ?",  # noqa: S608 - table names are ours
            (str(number),),
        ).fetchone()
        if found is None:
            msg = f"第{row + 1}行分录：字段“{key}”的值“{number}”在基础资料中不存在"
            raise WriteError(9, msg, key)
        return int(found[0])

    def _lot(self, entry: object, key: str, material: tuple[int, ...], row: int) -> int:
        number = model_value(model_value(entry, key), "FNumber")
        if number in (None, ""):
            if material[4]:
                msg = f"第{row + 1}行分录：物料启用了批号管理，字段“{key}”必须录入"
                raise WriteError(11, msg, key)
            return 0
        found = self.db.execute(
            "SELECT id FROM lots WHERE material_id = ? AND number = ?",
            (material[0], str(number)),
        ).fetchone()
        if found is not None:
            return int(found[0])
        lot_id = int(self.db.execute("SELECT max(id) + 1 FROM lots").fetchone()[0])
        self.db.execute(
            "INSERT INTO lots VALUES (?, ?, ?, ?)",
            (lot_id, str(number), str(number), material[0]),
        )
        return lot_id

    def line(self, entry: object, row: int) -> tuple[object, ...]:
        """Material .. quantities of one entry, in bill_rows column order."""
        material_id = self._ref(entry, "FMaterialId", "materials", row)
        if material_id is None:
            raise WriteError(
                11, f"第{row + 1}行分录：字段“FMaterialId”必须录入", "FMaterialId"
            )
        material = self.db.execute(
            "SELECT id, base_unit_id, alt_unit_id, alt_factor, batch_managed"
            " FROM materials WHERE id = ?",
            (material_id,),
        ).fetchone()
        transfer = self.form.direction == 0
        src_key, status_key = (
            ("FSrcStockId", "FSrcStockStatusId")
            if transfer
            else ("FStockId", "FStockStatusId")
        )
        stock_id = self._ref(entry, src_key, "stocks", row)
        if stock_id is None:
            raise WriteError(11, f"第{row + 1}行分录：字段“{src_key}”必须录入", src_key)
        default_status = 10000
        status_id = (
            self._ref(entry, status_key, "stock_statuses", row) or default_status
        )
        lot_id = self._lot(entry, "FLot", material, row)
        dest: tuple[int, int, int] = (0, 0, 0)
        if transfer:
            dest_stock = self._ref(entry, "FDestStockId", "stocks", row)
            if dest_stock is None:
                raise WriteError(
                    11, f"第{row + 1}行分录：字段“FDestStockId”必须录入", "FDestStockId"
                )
            dest_lot = lot_id
            if model_value(model_value(entry, "FDestLot"), "FNumber") not in (None, ""):
                dest_lot = self._lot(entry, "FDestLot", material, row)
            dest_status = self._ref(entry, "FDestStockStatusId", "stock_statuses", row)
            dest = (dest_stock, dest_lot, dest_status or status_id)
        unit_id = self._ref(entry, "FUnitID", "units", row) or int(material[1])
        qty = self._quantity(entry, row)
        if unit_id == material[1]:
            base = qty
        elif unit_id == material[2] and material[3]:
            base = qty * Decimal(material[3])
        else:
            raise WriteError(
                11,
                f"第{row + 1}行分录：单位与物料的基本单位、包装单位都不符",
                "FUnitID",
            )
        order_ref = ""
        for key, field in self.form.fields.items():
            value = model_value(entry, key)
            if field.expr == "r.order_ref" and value is not None:
                order_ref = str(value)
        return (
            material_id, unit_id, material[1], stock_id, lot_id, status_id, *dest,
            str(qty), scaled(qty), str(base), scaled(base), order_ref,
        )  # fmt: skip

    def _quantity(self, entry: object, row: int) -> Decimal:
        for key in self.form.qty_keys:
            value = model_value(entry, key)
            if value is not None:
                try:
                    return Decimal(str(value))
                except InvalidOperation as exc:
                    msg = f"第{row + 1}行分录：字段“{key}”的值“{value}”不是数字"
                    raise WriteError(8, msg, key) from exc
        key = self.form.qty_keys[0]
        raise WriteError(11, f"第{row + 1}行分录：字段“{key}”必须录入", key)


def save(db: sqlite3.Connection, form_id: str, data: object) -> BillRef:
    """Store the bill in `data["Model"]` (new when FID is 0) with status A, or C if auto-audited."""
    form = writable_form(form_id)
    model = model_value(data, "Model")
    if not isinstance(model, dict):
        raise WriteError(8, "data数据包中的参数Model的值不能为空。")
    entries = model_value(model, form.entity)
    if not isinstance(entries, list) or not entries:
        raise WriteError(11, f"单据体“{form.entity}”至少需要一行分录", form.entity)
    org = model_value(model_value(model, "FStockOrgId"), "FNumber")
    if (
        org is not None
        and db.execute(
            "SELECT 1 FROM orgs WHERE id = ? AND number = ?", (ORG_ID, str(org))
        ).fetchone()
        is None
    ):
        raise WriteError(
            9, f"字段“FStockOrgId”的值“{org}”在基础资料中不存在", "FStockOrgId"
        )
    lines = _Lines(db, form)
    rows = [lines.line(entry, i) for i, entry in enumerate(entries)]
    now = now_text()
    fid = int(str(model_value(model, "FID") or 0))
    number = str(model_value(model, "FBillNo") or "")
    if fid:
        number = _replace(db, form, fid, number)
    else:
        fid = int(
            db.execute(
                "SELECT coalesce(max(fid), 100000) + 1 FROM bill_rows"
            ).fetchone()[0]
        )
        number = number or _next_number(db, form)
        if _bill_exists(db, form, number):
            raise WriteError(11, f"单据编号“{number}”已经存在，不能重复", "FBillNo")
    date_value = model_value(model, "FDate")
    try:
        bill_date = (
            date_literal(str(date_value)) if date_value else now[:10] + " 00:00:00.000"
        )
    except ValueError as exc:
        raise WriteError(8, f"字段“FDate”的值“{date_value}”不是日期", "FDate") from exc
    bill_type = db.execute(
        "SELECT id FROM bill_types WHERE number = ?", (form.bill_type,)
    ).fetchone()[0]
    header = (
        form.form_id, fid, 0, number, bill_type, bill_date, "A", "A", now, now, None,
        ORG_ID, str(model_value(model, "FNote") or ""),
    )  # fmt: skip
    db.executemany(
        f"INSERT INTO bill_rows VALUES (NULL{', ?' * 28})",  # noqa: S608 - fixed text
        [(*header[:2], seq + 1, *header[3:], *row, 0) for seq, row in enumerate(rows)],
    )
    ref = BillRef(fid, number, 0)
    if model_value(data, "IsAutoSubmitAndAudit") is True:
        set_status(db, form, ref, "B", allowed=("A", "D"), action="提交")
        audit_bill(db, form, ref, allow_negative=allows_negative(data))
    return ref


def _replace(db: sqlite3.Connection, form: Form, fid: int, number: str) -> str:
    found = db.execute(
        "SELECT bill_no, document_status FROM bill_rows WHERE form = ? AND fid = ? LIMIT 1",
        (form.form_id, fid),
    ).fetchone()
    if found is None:
        raise WriteError(10, f"内码为“{fid}”的单据不存在", "FID")
    if found[1] not in ("A", "D", "Z"):
        raise WriteError(11, f"单据“{found[0]}”已提交或已审核，不能修改", "FID")
    db.execute("DELETE FROM bill_rows WHERE form = ? AND fid = ?", (form.form_id, fid))
    return number or str(found[0])


def _bill_exists(db: sqlite3.Connection, form: Form, number: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM bill_rows WHERE form = ? AND bill_no = ? LIMIT 1",
            (form.form_id, number),
        ).fetchone()
        is not None
    )


def _next_number(db: sqlite3.Connection, form: Form) -> str:
    count = int(
        db.execute(
            "SELECT count(DISTINCT fid) FROM bill_rows WHERE form = ?", (form.form_id,)
        ).fetchone()[0]
    )
    while True:
        count += 1
        number = f"{form.number_prefix}{count:06d}"
        if not _bill_exists(db, form, number):
            return number
