"""The canonical model: record types every other room speaks.

Two families live here. *Source records* (`StockRecord`, `MovementRecord`,
`MaterialRecord`, `LocationRecord`, `UnitRecord`, `UnreadableRecord`) are what a
connector emits: canonical field names, but the source's own codes and units,
and the raw form kept for quarantine. *Canonical records* (`StockLine`,
`Movement`, `Material`, `Location`) are what mapping produces from them: codes
crosswalked, quantities in the material's base unit (UN/ECE Rec 20 code).

Quantities are `Decimal` and times are timezone-aware UTC throughout; the
constructors refuse anything else, so a float or a naive time cannot slip in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

__all__ = [
    "Location",
    "LocationRecord",
    "Material",
    "MaterialRecord",
    "Movement",
    "MovementKind",
    "MovementRecord",
    "RawFields",
    "SourceRecord",
    "StockLine",
    "StockRecord",
    "StockStatus",
    "UnitRecord",
    "UnreadableRecord",
]

RawFields = Mapping[str, object]
"""The record as the source sent it (JSON-serialisable), kept for rejects."""


class StockStatus(StrEnum):
    """Stock status: exactly these five. Reserved quantities are a figure, not a status."""

    UNRESTRICTED = "unrestricted"
    QUALITY_INSPECTION = "quality_inspection"
    BLOCKED = "blocked"
    IN_TRANSIT = "in_transit"
    RESTRICTED = "restricted"


class MovementKind(StrEnum):
    """What a goods movement did, independent of any system's movement codes.

    The sign of a movement's quantity says the direction for its warehouse;
    the kind says why. A transfer appears as two legs (one negative, one
    positive), each its own movement line.
    """

    RECEIPT = "receipt"  # purchase / goods receipt (SAP 101, U8 01, K3 STK_InStock)
    ISSUE = "issue"  # other goods issue (SAP 201, U8 09, K3 STK_MisDelivery)
    PRODUCTION_ISSUE = "production_issue"  # issue to a work order (SAP 261, U8 11)
    PRODUCTION_RECEIPT = "production_receipt"  # (SAP 101 with order, U8 10)
    SALES_ISSUE = "sales_issue"  # delivery to a customer (SAP 601, U8 32)
    TRANSFER = "transfer"  # one leg of a stock transfer (SAP 311, U8 transfers)
    ADJUSTMENT = "adjustment"  # stock count gain or loss (SAP 701/702)
    SCRAP = "scrap"  # (SAP 551)
    RETURN = "return"  # return to vendor or from production (SAP 122, 262 as own docs)
    REVERSAL = "reversal"  # cancels an earlier line named in `reverses`


def _require_decimal(name: str, value: object) -> None:
    if not isinstance(value, Decimal):
        msg = f"{name} must be a Decimal, got {type(value).__name__}: {value!r}"
        raise TypeError(msg)
    if not value.is_finite():
        msg = f"{name} must be a finite number, got {value}"
        raise ValueError(msg)


def _require_utc(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        msg = f"{name} must be a timezone-aware UTC datetime, got {value!r}"
        raise ValueError(msg)


# --- source records: what connectors emit ------------------------------------


@dataclass(frozen=True, slots=True)
class StockRecord:
    """One snapshot row as a source reports it (its own codes and unit).

    `status` is a canonical status name or a source status code that the
    source's status crosswalk resolves. `reserved` is quantity that is on hand
    but not available (U8 frozen, K3 locked, SAP reservations where known).
    `special_stock` keeps SAP special stock indicators (K, E, Q, ...) apart
    from own stock rather than merging them.
    """

    material: str
    site: str
    warehouse: str
    location: str
    batch: str
    status: str
    quantity: Decimal
    unit: str
    as_of: datetime
    raw: RawFields
    reserved: Decimal = Decimal(0)
    special_stock: str = ""

    def __post_init__(self) -> None:
        _require_decimal("quantity", self.quantity)
        _require_decimal("reserved", self.reserved)
        _require_utc("as_of", self.as_of)


@dataclass(frozen=True, slots=True)
class MovementRecord:
    """One goods movement line as a source reports it.

    `quantity` is signed (receipts positive, issues negative) in the source's
    `unit`. The key is (document, line, year): it must be unique and stable
    in the source, so a re-read of the same line updates rather than adds.
    `reverses` names the document line this one cancels ("doc/line" or
    "doc/line/year"), or "".
    """

    document: str
    line: str
    kind: MovementKind
    material: str
    site: str
    warehouse: str
    location: str
    batch: str
    status: str
    quantity: Decimal
    unit: str
    posted_at: datetime
    raw: RawFields
    year: str = ""
    reverses: str = ""
    order_ref: str = ""
    entered_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_decimal("quantity", self.quantity)
        _require_utc("posted_at", self.posted_at)
        if self.entered_at is not None:
            _require_utc("entered_at", self.entered_at)
        if not self.document or not self.line:
            msg = "a movement needs a document and a line to be keyed"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class MaterialRecord:
    """Material master data as a source has it."""

    material: str
    name: str
    base_unit: str
    raw: RawFields
    batch_managed: bool = False
    safety_stock: Decimal | None = None

    def __post_init__(self) -> None:
        if self.safety_stock is not None:
            _require_decimal("safety_stock", self.safety_stock)


@dataclass(frozen=True, slots=True)
class LocationRecord:
    """A warehouse (and optionally a bin/location inside it) as a source has it."""

    site: str
    warehouse: str
    name: str
    raw: RawFields
    location: str = ""
    line_side: bool = False


@dataclass(frozen=True, slots=True)
class UnitRecord:
    """A material-specific unit conversion: 1 `unit` = `factor` `base_unit`."""

    material: str
    unit: str
    base_unit: str
    factor: Fraction
    raw: RawFields

    def __post_init__(self) -> None:
        if not isinstance(self.factor, Fraction) or self.factor <= 0:
            msg = f"factor must be a positive Fraction, got {self.factor!r}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class UnreadableRecord:
    """A record the connector could not read (bad number, missing field).

    It still counts as pulled and is quarantined with its raw form and reason,
    so `pulled = loaded + rejected` holds even for garbage from the source.
    """

    raw: RawFields
    reason: str


SourceRecord = (
    StockRecord
    | MovementRecord
    | MaterialRecord
    | LocationRecord
    | UnitRecord
    | UnreadableRecord
)


# --- canonical records: what mapping produces --------------------------------


@dataclass(frozen=True, slots=True)
class StockLine:
    """A snapshot row in canonical codes, quantity in the material's base unit."""

    source: str
    material: str
    site: str
    warehouse: str
    location: str
    batch: str
    status: StockStatus
    quantity: Decimal
    unit: str
    as_of: datetime
    reserved: Decimal = Decimal(0)
    special_stock: str = ""

    def __post_init__(self) -> None:
        _require_decimal("quantity", self.quantity)
        _require_decimal("reserved", self.reserved)
        _require_utc("as_of", self.as_of)

    @property
    def key(self) -> tuple[str, str, str, str, str, str, str]:
        """The identity of the row within one source's snapshot."""
        return (
            self.material,
            self.site,
            self.warehouse,
            self.location,
            self.batch,
            self.status.value,
            self.special_stock,
        )


@dataclass(frozen=True, slots=True)
class Movement:
    """A goods movement line in canonical codes; quantity signed, in base unit."""

    source: str
    document: str
    line: str
    year: str
    kind: MovementKind
    material: str
    site: str
    warehouse: str
    location: str
    batch: str
    status: StockStatus
    quantity: Decimal
    unit: str
    original_quantity: Decimal
    original_unit: str
    posted_at: datetime
    reverses: str = ""
    order_ref: str = ""
    entered_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_decimal("quantity", self.quantity)
        _require_decimal("original_quantity", self.original_quantity)
        _require_utc("posted_at", self.posted_at)
        if self.entered_at is not None:
            _require_utc("entered_at", self.entered_at)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The source document line: unique per source, so replays are idempotent."""
        return (self.source, self.document, self.line, self.year)


@dataclass(frozen=True, slots=True)
class Material:
    """Canonical material master data."""

    material: str
    name: str
    base_unit: str
    batch_managed: bool = False
    safety_stock: Decimal | None = None
    conversions: Mapping[str, Fraction] = field(default_factory=dict)
    """Material-specific units: canonical unit code -> base units per unit."""


@dataclass(frozen=True, slots=True)
class Location:
    """Canonical warehouse/location master data."""

    site: str
    warehouse: str
    location: str
    name: str
    line_side: bool = False
