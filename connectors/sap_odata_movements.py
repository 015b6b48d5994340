"""Material documents to movement records, and the cursor that resumes them.

Items carry no dates: the header's PostingDate is the posting day (a date
with no time, read as midnight in the system's zone) and its
CreationDate + CreationTime, written in the system's zone, are when the
document was entered. That entry stamp only grows, so it is the cursor;
posting dates can be back-dated and are not. A reversal is a new document
whose items name the item they cancel; it is emitted as kind `reversal`
with `reverses` in the same "document/line/year" form as the cancelled
line's key. Item numbers are NUMC and arrive padded or not ("1", "0001"):
they are normalised without leading zeros in both places.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from stockbridge.connectors.errors import SourceConfigError
from stockbridge.connectors.sap_odata_codes import (
    NO_STOCK_EFFECT,
    STOCK_TYPE_STATUS,
    Direction,
    movement_type,
)
from stockbridge.connectors.sap_odata_wire import (
    WireError,
    decimal_value,
    odata_date,
    odata_time,
    raw_fields,
    text_field,
)
from stockbridge.mapping.model import MovementKind, MovementRecord, UnreadableRecord
from stockbridge.mapping.timezones import to_utc

__all__ = [
    "HEADER_FIELDS",
    "ITEM_FIELDS",
    "REQUIRED_ITEM_FIELDS",
    "ItemReader",
    "MovementCursor",
    "OriginalItem",
    "ParsedHeader",
    "numc",
    "parse_header",
]

HEADER_FIELDS = (
    "MaterialDocumentYear",
    "MaterialDocument",
    "PostingDate",
    "CreationDate",
    "CreationTime",
)
REQUIRED_ITEM_FIELDS = (
    "MaterialDocumentYear",
    "MaterialDocument",
    "MaterialDocumentItem",
    "Material",
    "Plant",
    "StorageLocation",
    "Batch",
    "GoodsMovementType",
    "InventoryStockType",
    "MaterialBaseUnit",
    "QuantityInBaseUnit",
)
ITEM_FIELDS = (
    *REQUIRED_ITEM_FIELDS,
    "DebitCreditCode",
    "IsAutomaticallyCreated",
    "ReversedMaterialDocumentYear",
    "ReversedMaterialDocument",
    "ReversedMaterialDocumentItem",
    "InventorySpecialStockType",
    "ManufacturingOrder",
    "PurchaseOrder",
    "Delivery",
    "SalesOrder",
    "EntryUnit",
    "QuantityInEntryUnit",
)
"""What we read of an item (those the service's `$metadata` declares)."""

_ORDER_FIELDS = ("ManufacturingOrder", "PurchaseOrder", "Delivery", "SalesOrder")
_INDICATOR = {"S": 1, "H": -1}
_NO_YEAR = frozenset({"", "0000"})


def numc(value: str) -> str:
    """A NUMC item number without its leading zeros ("0001" -> "1")."""
    return (value.lstrip("0") or "0") if value.isdigit() else value


@dataclass(frozen=True, order=True, slots=True)
class MovementCursor:
    """The entry stamp (system zone) and key of the last document committed."""

    creation_date: date
    creation_time: time
    year: str
    document: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "creation_date": self.creation_date.isoformat(),
                "creation_time": self.creation_time.isoformat(),
                "year": self.year,
                "document": self.document,
            }
        )

    @classmethod
    def from_json(cls, text: str, *, source: str) -> MovementCursor:
        try:
            data = json.loads(text)
            return cls(
                date.fromisoformat(data["creation_date"]),
                time.fromisoformat(data["creation_time"]),
                str(data["year"]),
                str(data["document"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            msg = (
                f"the saved movements cursor {text!r} is not one this connector "
                f"wrote ({exc}); run a full sync to start over"
            )
            raise SourceConfigError(msg, source=source, stream="movements") from None

    def local_moment(self) -> datetime:
        """The entry stamp as a naive moment in the system's zone."""
        return datetime.combine(self.creation_date, self.creation_time)


@dataclass(frozen=True, slots=True)
class ParsedHeader:
    """What a header contributes to its items, or why it cannot."""

    raw: dict[str, object]
    cursor: MovementCursor | None
    posted_at: datetime | None
    entered_at: datetime | None
    error: str = ""


def parse_header(header: Mapping[str, Any], zone: ZoneInfo) -> ParsedHeader:
    """The header's cursor stamp and UTC posting and entry times."""
    raw = raw_fields(header, HEADER_FIELDS)
    try:
        year = text_field(header, "MaterialDocumentYear")
        document = text_field(header, "MaterialDocument")
        posting_day = odata_date(header.get("PostingDate"), "PostingDate")
        creation_day = odata_date(header.get("CreationDate"), "CreationDate")
        creation_time = odata_time(header.get("CreationTime"), "CreationTime")
    except WireError as exc:
        return ParsedHeader(raw, None, None, None, f"document header: {exc}")
    entered = datetime.combine(creation_day.date(), creation_time)
    return ParsedHeader(
        raw,
        MovementCursor(creation_day.date(), creation_time, year, document),
        to_utc(posting_day, zone),
        to_utc(entered, zone),
    )


OriginalItem = Callable[[str, str, str], Mapping[str, Any] | None]
"""Fetches an item by (year, document, item), for reversals of transfer legs."""


class _UnreadableItemError(Exception):
    """An item this connector cannot turn into a movement, and why."""


class ItemReader:
    """Turns the items of a header into records; one per pull."""

    def __init__(
        self,
        *,
        has_indicator: bool,
        plants: frozenset[str],
        original_item: OriginalItem,
    ) -> None:
        self.has_indicator = has_indicator
        self.plants = plants
        self._original_item = original_item

    def record(
        self, header: ParsedHeader, item: Mapping[str, Any]
    ) -> MovementRecord | UnreadableRecord | None:
        """The item's movement; None when it does not move stock of our plants."""
        raw = {**header.raw, **raw_fields(item, ITEM_FIELDS)}
        try:
            return self._movement(header, item, raw)
        except (_UnreadableItemError, WireError) as exc:
            return UnreadableRecord(raw=raw, reason=str(exc))

    def _movement(
        self, header: ParsedHeader, item: Mapping[str, Any], raw: dict[str, object]
    ) -> MovementRecord | None:
        plant = text_field(item, "Plant")
        stock_type = text_field(item, "InventoryStockType")
        code = text_field(item, "GoodsMovementType")
        if self.plants and plant not in self.plants:
            return None
        if code in NO_STOCK_EFFECT or not (
            stock_type or text_field(item, "StorageLocation")
        ):
            return None  # GR-blocked stock, or an account-assigned consumption line
        if header.error or header.posted_at is None:
            raise _UnreadableItemError(header.error)
        quantity = decimal_value(item.get("QuantityInBaseUnit"), "QuantityInBaseUnit")
        if quantity < 0:
            msg = (
                f"QuantityInBaseUnit {quantity} is negative; SAP documents carry "
                "positive quantities and a debit/credit indicator"
            )
            raise _UnreadableItemError(msg)
        kind, reverses = self._kind(item, code)
        sign = self._sign(item, code, depth=0)
        return MovementRecord(
            document=text_field(item, "MaterialDocument"),
            line=numc(text_field(item, "MaterialDocumentItem")),
            year=text_field(item, "MaterialDocumentYear"),
            kind=kind,
            material=text_field(item, "Material"),
            site=plant,
            warehouse=text_field(item, "StorageLocation"),
            location="",
            batch=text_field(item, "Batch"),
            status=STOCK_TYPE_STATUS.get(stock_type, stock_type),
            quantity=quantity * sign,
            unit=text_field(item, "MaterialBaseUnit"),
            posted_at=header.posted_at,
            raw=raw,
            reverses=reverses,
            order_ref=next(
                (v for f in _ORDER_FIELDS if (v := text_field(item, f))), ""
            ),
            entered_at=header.entered_at,
        )

    def _kind(self, item: Mapping[str, Any], code: str) -> tuple[MovementKind, str]:
        reversed_key = _reversed_key(item)
        if reversed_key is not None:
            year, document, line = reversed_key
            return MovementKind.REVERSAL, f"{document}/{numc(line)}/{year}"
        known = movement_type(code)
        if known is None:
            msg = (
                f"movement type {code!r} is not in the connector's movement-type table"
            )
            raise _UnreadableItemError(msg)
        if known.kind is MovementKind.RECEIPT and text_field(
            item, "ManufacturingOrder"
        ):
            return MovementKind.PRODUCTION_RECEIPT, ""
        return known.kind, ""

    def _sign(self, item: Mapping[str, Any], code: str, *, depth: int) -> int:
        if self.has_indicator:
            indicator = _INDICATOR.get(text_field(item, "DebitCreditCode"))
            if indicator is not None:
                return indicator
        known = movement_type(code)
        direction = known.direction if known else Direction.FROM_INDICATOR
        if direction in (Direction.IN, Direction.OUT):
            return int(direction.value)
        if direction is Direction.PAIR_LEG:
            reversed_key = _reversed_key(item)
            if reversed_key is None and "IsAutomaticallyCreated" in item:
                return 1 if text_field(item, "IsAutomaticallyCreated") else -1
            if reversed_key is not None and depth < 2:
                original = self._original_item(*reversed_key)
                if original is not None:
                    original_code = text_field(original, "GoodsMovementType")
                    return -self._sign(original, original_code, depth=depth + 1)
        msg = (
            f"cannot tell the direction of movement type {code!r}: the service has "
            "no DebitCreditCode for it and the movement-type table cannot say"
        )
        raise _UnreadableItemError(msg)


def _reversed_key(item: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(year, document, item) of the line this item cancels, or None."""
    document = text_field(item, "ReversedMaterialDocument")
    if not document:
        return None
    year = text_field(item, "ReversedMaterialDocumentYear")
    if year in _NO_YEAR:
        msg = f"reversal of document {document} names no year ({year!r})"
        raise _UnreadableItemError(msg)
    return year, document, text_field(item, "ReversedMaterialDocumentItem")
