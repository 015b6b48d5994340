"""K3 Cloud rows to source records: values read exactly, one bill entry to one or two movements.

Values arrive as the JSON parser left them: quantities as exact Decimals (or
ints), reference numbers as text, dates as naive China-local text
('2026-03-23T10:44:38.64'), read in the source's zone. A row whose values
cannot be read becomes an `UnreadableRecord` with the reason, never a guess.

Keys of a movement: the document is `<FormId>:<FBillNo>`, because bill
numbers are unique per form only (each form has its own coding rule, and a
tenant may configure two forms to number alike); the line is the entry id
(`<entity>_FEntryId`), and a transfer entry's two legs are `<entry>-out`
and `<entry>-in`.

Stock: owner and keeper split K3's stock key. Own stock (owner and keeper
are the stock organisation) has `special_stock` ''; stock owned or kept by
anyone else (consignment, VMI, goods kept for a customer) keeps them as
`special_stock`, e.g. 'owner:BD_Supplier:V001', so it never merges into own
stock. Other dimensions of T_STK_INVENTORY (aux property, MTO number, BOM)
are not part of the canonical key: their rows add up under one key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from stockbridge.connectors.k3cloud_forms import HEADER_KEYS, BillForm, status_of
from stockbridge.connectors.k3cloud_query import raw_row
from stockbridge.mapping.model import (
    MovementRecord,
    SourceRecord,
    StockRecord,
    UnreadableRecord,
)
from stockbridge.mapping.timezones import to_utc

__all__ = ["BillPlan", "bill_records", "k3_date", "stock_record"]

Row = Mapping[str, Any]
_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?")
_OWN_TYPES = {"FOwnerTypeId": "BD_OwnerOrg", "FKeeperTypeId": "BD_KeeperOrg"}
_NO_BIN = frozenset({"", "0"})


class _UnreadableError(Exception):
    """A value this connector cannot read, and why."""


def _text(row: Row, key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    msg = f"{key} is {value!r}, not a text value"
    raise _UnreadableError(msg)


def _decimal(row: Row, key: str) -> Decimal:
    value = row.get(key)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            result = Decimal("NaN")
    else:
        msg = f"{key} is {value!r}, not a quantity"
        raise _UnreadableError(msg)
    if not result.is_finite():
        msg = f"{key} is {value!r}, not a quantity"
        raise _UnreadableError(msg)
    return result


def k3_date(value: object, zone: ZoneInfo) -> datetime | None:
    """A K3 date (naive local text) as UTC; None when empty; ValueError if malformed."""
    if value is None or value == "":
        return None
    return _utc(str(value), zone)


@functools.lru_cache(maxsize=4096)
def _utc(text: str, zone: ZoneInfo) -> datetime:
    """Cached: the bill date and audit time repeat on every entry of a bill."""
    if not _DATE.fullmatch(text):
        msg = f"{text!r} is not a K3 date"
        raise ValueError(msg)
    return to_utc(datetime.fromisoformat(text), zone)


def _date(row: Row, key: str, zone: ZoneInfo) -> datetime | None:
    try:
        return k3_date(row.get(key), zone)
    except ValueError as exc:
        raise _UnreadableError(f"{key}: {exc}") from None


def _required(row: Row, key: str) -> str:
    value = _text(row, key)
    if not value:
        msg = f"{key} is empty"
        raise _UnreadableError(msg)
    return value


def _bin(row: Row, key: str) -> str:
    """A bin (FStockLocId, a flex field): its id, '' when there is none (0)."""
    value = _text(row, key) if key in row else ""
    return "" if value.strip() in _NO_BIN else value


def _special_stock(row: Row) -> str:
    org = _text(row, "FStockOrgId.FNumber")
    parts = []
    for role, type_key in (("owner", "FOwnerTypeId"), ("keeper", "FKeeperTypeId")):
        kind = _text(row, type_key)
        number = _text(row, f"{type_key.removesuffix('TypeId')}Id.FNumber")
        if (kind, number) not in {(_OWN_TYPES[type_key], org), ("", "")}:
            parts.append(f"{role}:{kind}:{number}")
    return ";".join(parts)


def stock_record(row: Row, as_of: datetime) -> StockRecord | UnreadableRecord:
    """One STK_Inventory row: FBaseQty on hand, FBaseLockQty reserved, base unit."""
    try:
        return StockRecord(
            material=_required(row, "FMaterialId.FNumber"),
            site=_required(row, "FStockOrgId.FNumber"),
            warehouse=_required(row, "FStockId.FNumber"),
            location=_bin(row, "FStockLocId"),
            batch=_text(row, "FLot.FNumber"),
            status=status_of(_text(row, "FStockStatusId.FNumber")),
            quantity=_decimal(row, "FBaseQty"),
            reserved=_decimal(row, "FBaseLockQty"),
            unit=_required(row, "FBaseUnitId.FNumber"),
            as_of=as_of,
            raw=raw_row(row),
            special_stock=_special_stock(row),
        )
    except _UnreadableError as exc:
        return UnreadableRecord(raw=raw_row(row), reason=f"STK_Inventory: {exc}")


# --- bills ----------------------------------------------------------------------


_LINE_KEYS = (
    "FMaterialId.FNumber",
    "FStockId.FNumber",
    "FLot.FNumber",
    "FStockStatusId.FNumber",
)
_TRANSFER_KEYS = (
    "FMaterialId.FNumber",
    "FSrcStockId.FNumber",
    "FDestStockId.FNumber",
    "FLot.FNumber",
    "FSrcStockStatusId.FNumber",
    "FDestStockStatusId.FNumber",
)
_TRANSFER_OPTIONAL = (
    "FStockOutOrgId.FNumber",
    "FDestLot.FNumber",
    "FSrcStockLocId",
    "FDestStockLocId",
)


@dataclass(frozen=True)
class BillPlan:
    """The FieldKeys read from one form: the form's keys less those the tenant lacks."""

    form: BillForm
    dropped: frozenset[str] = field(default_factory=frozenset)

    @property
    def optional(self) -> tuple[str, ...]:
        """Keys the reference does not verify; without them the form is still read."""
        form = self.form
        extra = (
            _TRANSFER_OPTIONAL
            if form.direction == 0
            else ("FStockLocId", *((form.order_ref,) if form.order_ref else ()))
        )
        return (form.base_qty, "FBaseUnitId.FNumber", *extra)

    @property
    def keys(self) -> tuple[str, ...]:
        form = self.form
        line = _TRANSFER_KEYS if form.direction == 0 else _LINE_KEYS
        wanted = (
            *HEADER_KEYS,
            form.entry_id,
            *line,
            form.entry_qty,
            "FUnitID.FNumber",
            *self.optional,
        )
        return tuple(k for k in wanted if k not in self.dropped)

    def without(self, key: str) -> BillPlan:
        return BillPlan(self.form, self.dropped | {key})

    @property
    def quantity_keys(self) -> tuple[str, str]:
        """(quantity, unit): base unit when the tenant has both keys, else entry unit."""
        if {self.form.base_qty, "FBaseUnitId.FNumber"} & self.dropped:
            return self.form.entry_qty, "FUnitID.FNumber"
        return self.form.base_qty, "FBaseUnitId.FNumber"


@dataclass(frozen=True)
class _Header:
    document: str
    entry: str
    site: str
    posted_at: datetime
    entered_at: datetime | None
    quantity: Decimal
    unit: str
    material: str


def _header(plan: BillPlan, row: Row, zone: ZoneInfo) -> _Header:
    posted_at = _date(row, "FDate", zone)
    if posted_at is None:
        raise _UnreadableError("FDate is empty")
    qty_key, unit_key = plan.quantity_keys
    return _Header(
        document=f"{plan.form.form_id}:{_required(row, 'FBillNo')}",
        entry=_required(row, plan.form.entry_id),
        site=_required(row, "FStockOrgId.FNumber"),
        posted_at=posted_at,
        entered_at=_date(row, "FApproveDate", zone),
        quantity=_decimal(row, qty_key),
        unit=_required(row, unit_key),
        material=_required(row, "FMaterialId.FNumber"),
    )


def bill_records(plan: BillPlan, row: Row, zone: ZoneInfo) -> list[SourceRecord]:
    """The movements of one audited bill entry: one, or two for a transfer.

    `entered_at` is the audit time (FApproveDate): K3 moves stock on audit.
    """
    raw = raw_row(row)
    try:
        head = _header(plan, row, zone)
        if plan.form.direction == 0:
            return list(_transfer_legs(plan, row, head, raw))
        return [
            MovementRecord(
                document=head.document,
                line=head.entry,
                kind=plan.form.kind,
                material=head.material,
                site=head.site,
                warehouse=_required(row, "FStockId.FNumber"),
                location=_bin(row, "FStockLocId"),
                batch=_text(row, "FLot.FNumber"),
                status=status_of(_text(row, "FStockStatusId.FNumber")),
                quantity=head.quantity * plan.form.direction,
                unit=head.unit,
                posted_at=head.posted_at,
                raw=raw,
                # No order key (''), or one the tenant lacks, reads as absent: ''.
                order_ref=_text(row, plan.form.order_ref),
                entered_at=head.entered_at,
            )
        ]
    except _UnreadableError as exc:
        return [UnreadableRecord(raw=raw, reason=f"{plan.form.form_id}: {exc}")]


def _transfer_legs(
    plan: BillPlan, row: Row, head: _Header, raw: dict[str, object]
) -> tuple[MovementRecord, MovementRecord]:
    """Out of FSrcStockId (−), into FDestStockId (+); a red-ink entry's negative
    quantity turns both signs round by itself."""
    out_site = _text(row, "FStockOutOrgId.FNumber") or head.site
    lot = _text(row, "FLot.FNumber")
    dest_lot = _text(row, "FDestLot.FNumber") if "FDestLot.FNumber" in row else lot
    legs = [
        MovementRecord(
            document=head.document,
            line=f"{head.entry}-{leg}",
            kind=plan.form.kind,
            material=head.material,
            site=site,
            warehouse=_required(row, f"{prefix}StockId.FNumber"),
            location=_bin(row, f"{prefix}StockLocId"),
            batch=batch,
            status=status_of(_text(row, f"{prefix}StockStatusId.FNumber")),
            quantity=head.quantity * sign,
            unit=head.unit,
            posted_at=head.posted_at,
            raw=raw,
            entered_at=head.entered_at,
        )
        for leg, sign, site, prefix, batch in (
            ("out", -1, out_site, "FSrc", lot),
            ("in", 1, head.site, "FDest", dest_lot),
        )
    ]
    return legs[0], legs[1]
