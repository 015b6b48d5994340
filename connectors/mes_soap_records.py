"""MES rows to records, through the operation's `fields`, `defaults` and code tables.

The MES's own codes (unit, material, warehouse, and statuses that
`status_map` does not list) pass through for mapping to resolve; what only
the connector can decide is decided here from the operation's description:
the movement kind (`kinds`), the direction (`directions`, never the
quantity's sign when a direction field exists) and the times. MES times are naive local times of the MES (`timezone`), or ISO
times with an offset (a DataSet's dateTime), or .NET JSON `/Date(ms)/`.
A row that cannot be read becomes an `UnreadableRecord` saying why.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from stockbridge.connectors.mes_soap_settings import (
    MesMaterialsOperation,
    MesMovementsOperation,
    MesOperation,
)
from stockbridge.mapping.model import (
    MaterialRecord,
    MovementKind,
    MovementRecord,
    StockRecord,
    UnreadableRecord,
)
from stockbridge.mapping.timezones import to_utc

__all__ = ["material_record", "movement_record", "parse_time", "stock_record"]

Row = dict[str, str]

_NET_DATE = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SLASHED = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")
_TRUE = frozenset({"true", "1", "y", "yes", "x", "是"})
_FALSE = frozenset({"false", "0", "n", "no", "", "否"})


class _RowError(ValueError):
    """Why a row cannot be read."""


def _field(row: Row, operation: MesOperation, name: str) -> str:
    """The row's text for canonical field `name`, or its configured default."""
    column = operation.fields.get(name)
    value = row.get(column, "").strip() if column else ""
    return value or operation.defaults.get(name, "")


def _required(row: Row, operation: MesOperation, name: str) -> str:
    value = _field(row, operation, name)
    if not value:
        column = operation.fields.get(name, name)
        msg = f"{column} is empty"
        raise _RowError(msg)
    return value


def _status(row: Row, operation: MesOperation) -> str:
    """A canonical status where `status_map` knows the code, else the MES's code."""
    code = _required(row, operation, "status")
    status = operation.status_map.get(code)
    return code if status is None else status.value


def _decimal(
    row: Row, operation: MesOperation, name: str, *, required: bool
) -> Decimal:
    text = _required(row, operation, name) if required else _field(row, operation, name)
    if not text:
        return Decimal(0)
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        msg = f"{operation.fields.get(name, name)} {text!r} is not a number"
        raise _RowError(msg)
    return value


def parse_time(text: str, zone: ZoneInfo) -> datetime:
    """An MES time as aware UTC; naive times are the MES's local time."""
    match = _NET_DATE.fullmatch(text)
    if match:
        return _EPOCH + timedelta(milliseconds=int(match[1]))
    try:
        return to_utc(datetime.fromisoformat(text), zone)
    except ValueError:
        pass
    for pattern in _SLASHED:
        try:
            return to_utc(datetime.strptime(text, pattern), zone)  # noqa: DTZ007 - local, zoned by to_utc
        except ValueError:
            continue
    msg = f"{text!r} is not a time"
    raise _RowError(msg)


def _time(row: Row, operation: MesOperation, name: str, zone: ZoneInfo) -> datetime:
    text = _required(row, operation, name)
    try:
        return parse_time(text, zone)
    except _RowError:
        msg = f"{operation.fields.get(name, name)} {text!r} is not a time"
        raise _RowError(msg) from None


def stock_record(
    row: Row, operation: MesOperation, as_of: datetime
) -> StockRecord | UnreadableRecord:
    """One line-side stock row."""
    try:
        return StockRecord(
            material=_required(row, operation, "material"),
            site=_required(row, operation, "site"),
            warehouse=_required(row, operation, "warehouse"),
            location=_field(row, operation, "location"),
            batch=_field(row, operation, "batch"),
            status=_status(row, operation),
            quantity=_decimal(row, operation, "quantity", required=True),
            unit=_required(row, operation, "unit"),
            as_of=as_of,
            raw=row,
            reserved=_decimal(row, operation, "reserved", required=False),
        )
    except _RowError as exc:
        return UnreadableRecord(raw=row, reason=f"stock row: {exc}")


def movement_record(
    row: Row, operation: MesMovementsOperation, zone: ZoneInfo
) -> MovementRecord | UnreadableRecord:
    """One material transaction line."""
    try:
        return _movement(row, operation, zone)
    except _RowError as exc:
        return UnreadableRecord(raw=row, reason=f"transaction: {exc}")


def _movement(
    row: Row, operation: MesMovementsOperation, zone: ZoneInfo
) -> MovementRecord:
    quantity = _decimal(row, operation, "quantity", required=True)
    if "direction" in operation.fields:
        code = _required(row, operation, "direction")
        direction = operation.directions.get(code)
        if direction is None:
            msg = f"direction {code!r} is not in directions ({', '.join(operation.directions)})"
            raise _RowError(msg)
        quantity = abs(quantity) if direction == "in" else -abs(quantity)
    reversed_document = _field(row, operation, "reverses_document")
    reversed_line = _field(row, operation, "reverses_line")
    reverses = (
        f"{reversed_document}/{reversed_line}" if reversed_line else reversed_document
    )
    return MovementRecord(
        document=_required(row, operation, "document"),
        line=_required(row, operation, "line"),
        year=_field(row, operation, "year"),
        kind=_kind(_required(row, operation, "kind"), operation),
        material=_required(row, operation, "material"),
        site=_required(row, operation, "site"),
        warehouse=_required(row, operation, "warehouse"),
        location=_field(row, operation, "location"),
        batch=_field(row, operation, "batch"),
        status=_status(row, operation),
        quantity=quantity,
        unit=_required(row, operation, "unit"),
        posted_at=_time(row, operation, "posted_at", zone),
        raw=row,
        reverses=reverses,
        order_ref=_field(row, operation, "order_ref"),
        entered_at=_time(row, operation, "entered_at", zone),
    )


def _kind(code: str, operation: MesMovementsOperation) -> MovementKind:
    kind = operation.kinds.get(code)
    if kind is not None:
        return kind
    try:
        return MovementKind(code)
    except ValueError:
        msg = f"transaction type {code!r} is not in kinds"
        raise _RowError(msg) from None


def _flag(row: Row, operation: MesOperation, name: str) -> bool:
    text = _field(row, operation, name).lower()
    if text not in _TRUE | _FALSE:
        msg = f"{operation.fields.get(name, name)} {text!r} is neither true nor false"
        raise _RowError(msg)
    return text in _TRUE


def material_record(
    row: Row, operation: MesMaterialsOperation
) -> MaterialRecord | UnreadableRecord:
    """One material master row."""
    try:
        safety = _field(row, operation, "safety_stock")
        return MaterialRecord(
            material=_required(row, operation, "material"),
            name=_required(row, operation, "name"),
            base_unit=_required(row, operation, "base_unit"),
            raw=row,
            batch_managed=_flag(row, operation, "batch_managed"),
            safety_stock=(
                _decimal(row, operation, "safety_stock", required=True)
                if safety
                else None
            ),
        )
    except _RowError as exc:
        return UnreadableRecord(raw=row, reason=f"material row: {exc}")
