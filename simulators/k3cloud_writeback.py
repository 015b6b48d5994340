"""Submit and Audit: a written-back bill's status steps, and Audit's effect on stock.

Submit moves a bill from A (or D) to B and Audit from B to C; only Audit moves
stock, and it refuses to take a key below zero unless `InterationFlags`
carries `STK_InvCheckResult`, as K3 does. Bills are named by `Numbers` or
`Ids`; each succeeds or fails on its own (`DIndex` says which).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from stockbridge.simulators.k3cloud_forms import FORMS, Form
from stockbridge.simulators.k3cloud_store import ORG_ID, now_text, scaled

__all__ = [
    "BillRef",
    "WriteError",
    "allows_negative",
    "audit",
    "audit_bill",
    "model_value",
    "set_status",
    "submit",
    "writable_form",
]


class WriteError(Exception):
    """One refused bill or field, as a ResponseStatus error entry."""

    def __init__(
        self, msg_code: int, message: str, field: str | None = None, index: int = 0
    ) -> None:
        super().__init__(message)
        self.msg_code = msg_code
        self.message = message
        self.field = field
        self.index = index


@dataclass(frozen=True)
class BillRef:
    """A bill that an operation succeeded on (a SuccessEntitys entry)."""

    fid: int
    number: str
    index: int


def model_value(mapping: object, key: str) -> object:
    """Model keys are matched case-insensitively (FNUMBER, FNumber ...), as K3 does."""
    if not isinstance(mapping, dict):
        return None
    wanted = key.lower()
    return next((v for k, v in mapping.items() if str(k).lower() == wanted), None)


def writable_form(form_id: str) -> Form:
    """The movement form a write names; MsgCode 4 if there is none."""
    form = FORMS.get(form_id.lower())
    if form is None or not form.entity:
        raise WriteError(4, f"标识为“{form_id}”的业务对象不存在，或者被删除。")
    return form


def _targets(
    db: sqlite3.Connection, form: Form, data: object
) -> list[BillRef | WriteError]:
    """The bills named by `Numbers` or `Ids`, or an error for each one that is missing."""
    numbers = model_value(data, "Numbers")
    ids = model_value(data, "Ids")
    named: list[tuple[str, object]] = []
    if isinstance(numbers, list) and numbers:
        named = [("bill_no", n) for n in numbers]
    elif ids not in (None, ""):
        named = [("fid", i.strip()) for i in str(ids).split(",") if i.strip()]
    if not named:
        raise WriteError(5, "单据内码和单据编码不能同时为空", "Numbers")
    out: list[BillRef | WriteError] = []
    for index, (column, value) in enumerate(named):
        found = db.execute(
            f"SELECT fid, bill_no FROM bill_rows WHERE form = ? AND {column} = ? LIMIT 1",  # noqa: S608
            (form.form_id, str(value) if column == "bill_no" else _as_int(value)),
        ).fetchone()
        if found is None:
            out.append(WriteError(10, f"单据“{value}”不存在", None, index))
        else:
            out.append(BillRef(int(found[0]), str(found[1]), index))
    return out


def _as_int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


def set_status(
    db: sqlite3.Connection,
    form: Form,
    ref: BillRef,
    status: str,
    *,
    allowed: tuple[str, ...],
    action: str,
) -> None:
    current, cancel = db.execute(
        "SELECT document_status, cancel_status FROM bill_rows WHERE form = ? AND fid = ? LIMIT 1",
        (form.form_id, ref.fid),
    ).fetchone()
    if current not in allowed or cancel != "A":
        msg = f"单据“{ref.number}”的状态为“{current}”，不能{action}"
        raise WriteError(11, msg, None, ref.index)
    now = now_text()
    db.execute(
        "UPDATE bill_rows SET document_status = ?, modify_date = ?,"
        " approve_date = CASE WHEN ? = 'C' THEN ? ELSE approve_date END"
        " WHERE form = ? AND fid = ?",
        (status, now, status, now, form.form_id, ref.fid),
    )


def allows_negative(data: object) -> bool:
    flags = model_value(data, "InterationFlags")
    return "STK_InvCheckResult" in str(flags or "").split(";")


def audit_bill(
    db: sqlite3.Connection, form: Form, ref: BillRef, *, allow_negative: bool
) -> None:
    """Move the bill to C and its quantities into STK_Inventory."""
    set_status(db, form, ref, "C", allowed=("B",), action="审核")
    deltas: dict[tuple[int, int, int, int], Decimal] = {}
    for material, stock, lot, status, d_stock, d_lot, d_status, base in db.execute(
        "SELECT material_id, stock_id, lot_id, status_id, dest_stock_id, dest_lot_id,"
        " dest_status_id, base_qty FROM bill_rows WHERE form = ? AND fid = ?",
        (form.form_id, ref.fid),
    ).fetchall():
        qty = Decimal(base)
        legs = (
            [
                ((material, stock, lot, status), -qty),
                ((material, d_stock, d_lot, d_status), qty),
            ]
            if form.direction == 0
            else [((material, stock, lot, status), qty * form.direction)]
        )
        for key, delta in legs:
            deltas[key] = deltas.get(key, Decimal(0)) + delta
    now = now_text()
    for (material, stock, lot, status), delta in deltas.items():
        _move(
            db,
            (material, stock, lot, status),
            delta,
            now,
            ref,
            allow_negative=allow_negative,
        )


def _move(
    db: sqlite3.Connection, key: tuple[int, int, int, int], delta: Decimal,
    now: str, ref: BillRef, *, allow_negative: bool,
) -> None:  # fmt: skip
    found = db.execute(
        "SELECT row_id, qty, lock_qty, held_qty FROM inventory"
        " WHERE material_id = ? AND stock_id = ? AND lot_id = ? AND status_id = ?",
        key,
    ).fetchone()
    if found is None:
        base_unit = db.execute(
            "SELECT base_unit_id FROM materials WHERE id = ?", (key[0],)
        ).fetchone()[0]
        db.execute(
            "INSERT INTO inventory VALUES (NULL, ?, ?, ?, ?, ?, ?, ?,"
            " '0', 0, '0', 0, '0', 0, ?, '0', 0, '0', 0, ?)",
            (str(uuid.uuid4()), ORG_ID, *key, base_unit, now, now),
        )
        found = db.execute("SELECT last_insert_rowid(), '0', '0', '0'").fetchone()
    row_id, qty, lock, held = (
        found[0],
        Decimal(found[1]),
        Decimal(found[2]),
        Decimal(found[3]),
    )
    qty, held = qty + delta, held + delta
    if qty < 0 and not allow_negative:
        msg = f"单据“{ref.number}”审核后即时库存将为负数（{qty}），不允许负库存"
        raise WriteError(11, msg, None, ref.index)
    db.execute(
        "UPDATE inventory SET qty = ?, qty_i = ?, avb_qty = ?, avb_qty_i = ?,"
        " held_qty = ?, held_qty_i = ?, held_avb_qty = ?, held_avb_qty_i = ?,"
        " update_time = ?, held_update_time = ? WHERE row_id = ?",
        (
            str(qty), scaled(qty), str(qty - lock), scaled(qty - lock),
            str(held), scaled(held), str(held - lock), scaled(held - lock),
            now, now, row_id,
        ),
    )  # fmt: skip


_Action = Callable[[sqlite3.Connection, Form, BillRef], None]


def _each(
    db: sqlite3.Connection, form_id: str, data: object, act: _Action
) -> tuple[list[BillRef], list[WriteError]]:
    form = writable_form(form_id)
    done: list[BillRef] = []
    failed: list[WriteError] = []
    for target in _targets(db, form, data):
        if isinstance(target, WriteError):
            failed.append(target)
            continue
        db.execute("SAVEPOINT bill")
        try:
            act(db, form, target)
        except WriteError as exc:
            db.execute("ROLLBACK TO bill")
            failed.append(exc)
        else:
            done.append(target)
        db.execute("RELEASE bill")
    return done, failed


def submit(
    db: sqlite3.Connection, form_id: str, data: object
) -> tuple[list[BillRef], list[WriteError]]:
    """Move each named bill from A (or D) to B."""
    return _each(
        db,
        form_id,
        data,
        lambda d, f, r: set_status(d, f, r, "B", allowed=("A", "D"), action="提交"),
    )


def audit(
    db: sqlite3.Connection, form_id: str, data: object
) -> tuple[list[BillRef], list[WriteError]]:
    """Move each named bill from B to C, and its quantities into the inventory."""
    negative = allows_negative(data)
    return _each(
        db, form_id, data,
        lambda d, f, r: audit_bill(d, f, r, allow_negative=negative),
    )  # fmt: skip
