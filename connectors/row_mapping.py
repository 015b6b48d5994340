"""Rows of a user-defined shape to stock and movement records.

The generic connectors (`kind: sql`, `kind: file`) know nothing about the
system behind a query or a spreadsheet: the config says which column holds
each canonical field (`material: 物料编码`), what a status or movement code
means, and how the sign of a movement is given. `RecordShape` is that part of
the config; `RowReader` applies it to the rows of one result or one file,
with the columns resolved to positions once, so a row costs a few index
look-ups and conversions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from stockbridge.connectors.base import Stream
from stockbridge.connectors.row_values import (
    CellError,
    decimal_value,
    text_value,
    time_value,
)
from stockbridge.mapping.model import (
    MovementKind,
    MovementRecord,
    RawFields,
    StockRecord,
    StockStatus,
)

__all__ = [
    "FIELDS",
    "MissingColumnsError",
    "RecordShape",
    "RowReader",
    "SignRule",
    "match_columns",
]

FIELDS: Mapping[Stream, tuple[str, ...]] = {
    Stream.STOCK: (
        "material",
        "quantity",
        "unit",
        "site",
        "warehouse",
        "location",
        "batch",
        "status",
        "reserved",
        "special_stock",
        "as_of",
    ),
    Stream.MOVEMENTS: (
        "document",
        "line",
        "year",
        "kind",
        "material",
        "quantity",
        "unit",
        "site",
        "warehouse",
        "location",
        "batch",
        "status",
        "posted_at",
        "entered_at",
        "reverses",
        "order_ref",
    ),
}
"""The canonical fields a column may be mapped to, per stream."""

_REQUIRED: Mapping[Stream, tuple[str, ...]] = {
    Stream.STOCK: ("material", "quantity"),
    Stream.MOVEMENTS: ("document", "line", "material", "quantity", "posted_at"),
}


class SignRule(BaseModel):
    """The direction of a movement given in its own column (U8 `bRdFlag`: 1 in, 0 out).

    The quantity is then multiplied by +1 or -1, so a negative quantity on an
    inbound line (a red-ink receipt) still nets out.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1)
    inbound: tuple[str, ...] = Field(min_length=1)
    outbound: tuple[str, ...] = Field(min_length=1)


class RecordShape(BaseModel):
    """How rows of one stream read as records, beside the column mapping itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str | None = None
    """The unit of every row, when no column holds it."""
    site: str = ""
    """The site (plant) of every row, when no column holds it."""
    warehouse: str = ""
    """The warehouse of every row, when no column holds it."""
    status: str = StockStatus.UNRESTRICTED.value
    """The status of every row when no column holds it: on-hand stock as exported."""
    status_map: dict[str, StockStatus] = Field(default_factory=dict)
    """Source status code -> canonical status; other codes go to mapping as they are."""
    kind_map: dict[str, MovementKind] = Field(default_factory=dict)
    """Source movement code -> canonical kind (movements)."""
    default_kind: MovementKind | None = None
    """The kind of movements whose code is not in `kind_map`, or that have no kind column."""
    sign: SignRule | None = None
    """Where the direction is given; None: the quantity is signed already."""
    thousands: str | None = None
    """A thousands separator to accept in number text ("1,234.5" with ",")."""
    time_format: str | None = None
    """A strptime layout for time text that is not ISO 8601 (or 2026/3/1 8:00)."""

    def shape_problems(self, stream: Stream, columns: Mapping[str, str]) -> list[str]:
        """What is wrong with `columns` (field -> source column) for `stream`."""
        allowed = FIELDS[stream]
        problems = [
            f"{name!r} is not a {stream.value} field (expected one of {', '.join(allowed)})"
            for name in columns
            if name not in allowed
        ]
        problems.extend(
            f"no column is mapped to {name!r}"
            for name in _REQUIRED[stream]
            if name not in columns
        )
        if "unit" not in columns and self.unit is None:
            problems.append("map a unit column or give `unit` for every row")
        if stream is Stream.MOVEMENTS:
            if "kind" not in columns and self.default_kind is None:
                problems.append("map a kind column or give `default_kind`")
        elif self.kind_map or self.default_kind is not None or self.sign is not None:
            problems.append("kind_map, default_kind and sign are for movements only")
        return problems


class MissingColumnsError(ValueError):
    """Configured columns that the result or file does not have."""

    def __init__(self, missing: Sequence[str], found: Sequence[str]) -> None:
        self.missing = tuple(missing)
        self.found = tuple(found)
        super().__init__(
            f"no column {', '.join(map(repr, missing))} "
            f"(columns found: {', '.join(map(repr, found)) or 'none'})"
        )


def _normal(name: str) -> str:
    return name.replace("\ufeff", "").strip()


def match_columns(header: Sequence[str], wanted: Sequence[str]) -> dict[str, int]:
    """Positions of the `wanted` column names in `header`.

    Names match after trimming whitespace and byte-order marks, then, when
    that finds nothing, ignoring case if exactly one column matches (SQL
    engines fold unquoted names to lower or upper case). Raises
    `MissingColumnsError` naming every column not found.
    """
    exact: dict[str, int] = {}
    folded: dict[str, list[int]] = {}
    for index, name in enumerate(header):
        exact.setdefault(_normal(name), index)
        folded.setdefault(_normal(name).casefold(), []).append(index)
    found: dict[str, int] = {}
    missing: list[str] = []
    for name in wanted:
        position = exact.get(_normal(name))
        if position is None:
            candidates = folded.get(_normal(name).casefold(), [])
            position = candidates[0] if len(candidates) == 1 else None
        if position is None:
            missing.append(name)
        else:
            found[name] = position
    if missing:
        raise MissingColumnsError(missing, [_normal(h) for h in header])
    return found


@dataclass(frozen=True, slots=True)
class _Cell:
    column: str
    position: int


class RowReader:
    """Reads the rows of one result or file as records of one stream."""

    def __init__(
        self,
        stream: Stream,
        shape: RecordShape,
        columns: Mapping[str, str],
        header: Sequence[str],
        zone: ZoneInfo,
        *,
        as_of: datetime | None = None,
        also: Sequence[str] = (),
    ) -> None:
        """Resolve `columns` (field -> column name) and the columns `also` in `header`.

        `as_of` is the snapshot time of stock rows without an as_of column
        (default: now).
        Raises `MissingColumnsError` naming every column not in `header`.
        """
        sign = shape.sign
        wanted = [*columns.values(), *([sign.column] if sign else []), *also]
        self.positions = match_columns(header, list(dict.fromkeys(wanted)))
        """Column name -> position in the row, for every column named."""
        self._cells = {
            name: _Cell(column, self.positions[column])
            for name, column in columns.items()
        }
        self._sign = (
            None if sign is None else _Cell(sign.column, self.positions[sign.column])
        )
        self._inbound = frozenset(sign.inbound) if sign else frozenset()
        self._outbound = frozenset(sign.outbound) if sign else frozenset()
        self.stream = stream
        self._shape = shape
        self._zone = zone
        self._as_of = as_of or datetime.now(UTC)
        self._unit = shape.unit or ""
        self._default_kind = shape.default_kind

    def record(
        self, row: Sequence[object], raw: RawFields
    ) -> StockRecord | MovementRecord:
        """The record of `row`; `CellError` names the column of a bad value."""
        if self.stream is Stream.STOCK:
            return self._stock(row, raw)
        return self._movement(row, raw)

    # --- cells -----------------------------------------------------------------

    def _value(self, row: Sequence[object], cell: _Cell) -> object:
        return row[cell.position] if cell.position < len(row) else None

    def _text(self, row: Sequence[object], name: str, default: str = "") -> str:
        cell = self._cells.get(name)
        return default if cell is None else text_value(self._value(row, cell))

    def _required(self, row: Sequence[object], name: str) -> str:
        cell = self._cells[name]
        value = self._value(row, cell)
        text = text_value(value)
        if not text:
            raise CellError(cell.column, value, "is empty")
        return text

    def _decimal(self, row: Sequence[object], name: str) -> Decimal:
        cell = self._cells[name]
        value = self._value(row, cell)
        try:
            return decimal_value(value, thousands=self._shape.thousands)
        except ValueError as error:
            raise CellError(cell.column, value, str(error)) from None

    def _time(self, row: Sequence[object], name: str) -> datetime:
        cell = self._cells[name]
        value = self._value(row, cell)
        try:
            return time_value(value, self._zone, layout=self._shape.time_format)
        except ValueError as error:
            raise CellError(cell.column, value, str(error)) from None

    def _status(self, row: Sequence[object]) -> str:
        code = self._text(row, "status", self._shape.status)
        status = self._shape.status_map.get(code)
        return code if status is None else status.value

    # --- records ---------------------------------------------------------------

    def _stock(self, row: Sequence[object], raw: RawFields) -> StockRecord:
        shape = self._shape
        as_of = self._time(row, "as_of") if "as_of" in self._cells else self._as_of
        reserved = self._decimal(row, "reserved") if "reserved" in self._cells else None
        return StockRecord(
            material=self._required(row, "material"),
            site=self._text(row, "site", shape.site),
            warehouse=self._text(row, "warehouse", shape.warehouse),
            location=self._text(row, "location"),
            batch=self._text(row, "batch"),
            status=self._status(row),
            quantity=self._decimal(row, "quantity"),
            unit=self._unit_of(row),
            as_of=as_of,
            raw=raw,
            reserved=Decimal(0) if reserved is None else reserved,
            special_stock=self._text(row, "special_stock"),
        )

    def _movement(self, row: Sequence[object], raw: RawFields) -> MovementRecord:
        shape = self._shape
        quantity = self._decimal(row, "quantity")
        if self._sign is not None:
            quantity = self._signed(row, self._sign, quantity)
        return MovementRecord(
            document=self._required(row, "document"),
            line=self._required(row, "line"),
            kind=self._kind(row),
            material=self._required(row, "material"),
            site=self._text(row, "site", shape.site),
            warehouse=self._text(row, "warehouse", shape.warehouse),
            location=self._text(row, "location"),
            batch=self._text(row, "batch"),
            status=self._status(row),
            quantity=quantity,
            unit=self._unit_of(row),
            posted_at=self._time(row, "posted_at"),
            raw=raw,
            year=self._text(row, "year"),
            reverses=self._text(row, "reverses"),
            order_ref=self._text(row, "order_ref"),
            entered_at=(
                self._time(row, "entered_at") if "entered_at" in self._cells else None
            ),
        )

    def _unit_of(self, row: Sequence[object]) -> str:
        if "unit" in self._cells:
            return self._required(row, "unit")
        return self._unit

    def _kind(self, row: Sequence[object]) -> MovementKind:
        shape = self._shape
        cell = self._cells.get("kind")
        if cell is None and self._default_kind is not None:
            return self._default_kind
        if cell is None:
            msg = "movements need a kind column or a default_kind"
            raise ValueError(msg)
        value = self._value(row, cell)
        code = text_value(value)
        kind = shape.kind_map.get(code)
        if kind is None and code in _KINDS:
            kind = MovementKind(code)
        if kind is None:
            kind = self._default_kind
        if kind is None:
            raise CellError(
                cell.column,
                value,
                "is not a movement kind nor a code in kind_map, and no default_kind is set",
            )
        return kind

    def _signed(self, row: Sequence[object], cell: _Cell, quantity: Decimal) -> Decimal:
        value = self._value(row, cell)
        code = text_value(value)
        if code in self._inbound:
            return quantity
        if code in self._outbound:
            return -quantity
        raise CellError(
            cell.column,
            value,
            f"is neither inbound ({', '.join(sorted(self._inbound))}) "
            f"nor outbound ({', '.join(sorted(self._outbound))})",
        )


_KINDS = frozenset(kind.value for kind in MovementKind)
