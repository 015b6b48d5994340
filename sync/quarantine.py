"""Turning a record that did not map into a reject that keeps everything.

The reject keeps the source's raw form (as the system sent it) and the parsed
source record, so `stockbridge rejects retry` can map it again after a
crosswalk or unit fix without asking the source for it again.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any

from stockbridge.mapping.model import (
    LocationRecord,
    MaterialRecord,
    MovementKind,
    MovementRecord,
    SourceRecord,
    StockRecord,
    UnitRecord,
    UnreadableRecord,
)
from stockbridge.store.loading import RejectRow

__all__ = ["record_from_reject", "record_key", "reject_row"]

_TYPES: dict[str, type[Any]] = {
    "stock": StockRecord,
    "movement": MovementRecord,
    "material": MaterialRecord,
    "location": LocationRecord,
    "unit": UnitRecord,
}
_TYPE_NAMES = {cls: name for name, cls in _TYPES.items()}


def _plain(value: object) -> object:
    if isinstance(value, Decimal | Fraction):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def record_key(record: SourceRecord) -> str:
    """A key that recognises the same source record when it is read again."""
    if isinstance(record, MovementRecord):
        return (
            f"{record.document}/{record.line}/{record.year}"
            if record.year
            else f"{record.document}/{record.line}"
        )
    if isinstance(record, StockRecord):
        return "|".join(
            (
                record.material,
                record.site,
                record.warehouse,
                record.location,
                record.batch,
                record.status,
                record.special_stock,
            )
        )
    if isinstance(record, MaterialRecord):
        return record.material
    if isinstance(record, LocationRecord):
        return f"{record.site}|{record.warehouse}|{record.location}"
    if isinstance(record, UnitRecord):
        return f"{record.material}|{record.unit}"
    return ""


def reject_row(record: SourceRecord, reason: str, stream: str) -> RejectRow:
    """The reject of `record`: raw form, parsed fields and reason."""
    parsed: dict[str, object] | None = None
    if not isinstance(record, UnreadableRecord):
        parsed = {
            "type": _TYPE_NAMES[type(record)],
            **{
                f.name: _plain(getattr(record, f.name))
                for f in dataclasses.fields(record)
                if f.name != "raw"
            },
        }
    body = {"raw": dict(record.raw), "parsed": parsed}
    return RejectRow(
        stream=stream,
        record_key=record_key(record),
        raw=json.dumps(body, ensure_ascii=False, default=str, sort_keys=True),
        reason=reason,
    )


def record_from_reject(raw: str) -> SourceRecord | None:
    """The parsed source record kept in a reject, or None if it never parsed."""
    body = json.loads(raw)
    parsed = body.get("parsed")
    if not parsed:
        return None
    fields = dict(parsed)
    cls = _TYPES[fields.pop("type")]
    for f in dataclasses.fields(cls):
        value = fields.get(f.name)
        if value is None:
            continue
        if f.name in ("quantity", "reserved", "safety_stock"):
            fields[f.name] = Decimal(value)
        elif f.name == "factor":
            fields[f.name] = Fraction(value)
        elif f.name in ("as_of", "posted_at", "entered_at"):
            fields[f.name] = datetime.fromisoformat(value)
        elif f.name == "kind":
            fields[f.name] = MovementKind(value)
    record: SourceRecord = cls(raw=body.get("raw") or {}, **fields)
    return record
