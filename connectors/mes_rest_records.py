"""MES rows to source records, by the field paths of the config.

A row with a required field missing, a bad number or a bad time becomes an
`UnreadableRecord` that names the canonical field, the source path and the
value: it is counted and quarantined, never dropped or guessed. Quantities
are `Decimal` from the source's text or exact JSON number; a movement's
quantity is signed by the configured direction field (MES usually sends it
unsigned with IN/OUT). Codes and units stay the system's own; a status the
config maps becomes the canonical status value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from stockbridge.connectors.mes_rest_streams import (
    MovementStreamSettings,
    StockFieldSettings,
)
from stockbridge.connectors.mes_rest_values import (
    MISSING,
    FieldPath,
    TimeReader,
    ValueReadError,
    decimal_value,
    json_safe,
    text_value,
)
from stockbridge.mapping.model import (
    MovementKind,
    MovementRecord,
    SourceRecord,
    StockRecord,
    UnreadableRecord,
)

__all__ = ["MovementRead", "MovementReader", "StockReader"]

_KINDS = {kind.value: kind for kind in MovementKind}


class _Fields:
    """The compiled paths and defaults of one stream's `fields`."""

    def __init__(
        self, settings: StockFieldSettings | MovementStreamSettings, zone: ZoneInfo
    ) -> None:
        self.paths = {name: FieldPath(path) for name, path in settings.fields.items()}
        self.defaults = dict(settings.defaults)
        self.status_map = {
            code: status.value for code, status in settings.status_map.items()
        }
        self.labels = {name: f"{name} ({p.text})" for name, p in self.paths.items()}
        self.zone = zone
        self.times = TimeReader(settings.time_format, zone)

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def value(self, name: str, row: Mapping[str, object]) -> object:
        path = self.paths.get(name)
        return MISSING if path is None else path.get(row)

    def text(
        self, name: str, row: Mapping[str, object], *, required: bool = False
    ) -> str:
        value = self.value(name, row)
        text = (
            value.strip() if type(value) is str else text_value(value, self.label(name))
        )
        if not text:
            text = self.defaults.get(name, "")
        if required and not text:
            msg = f"{self.label(name)} is missing"
            raise ValueReadError(msg)
        return text

    def number(self, name: str, row: Mapping[str, object]) -> Decimal:
        return decimal_value(self.value(name, row), self.label(name))

    def time(self, name: str, row: Mapping[str, object]) -> datetime:
        return self.times.read(self.value(name, row), self.label(name))

    def status(self, row: Mapping[str, object]) -> str:
        code = self.text("status", row, required=True)
        return self.status_map.get(code, code)


def _row_of(row: object) -> Mapping[str, object]:
    if not isinstance(row, Mapping):
        msg = f"a row is {type(row).__name__}, not a JSON object"
        raise ValueReadError(msg)
    return row


class StockReader:
    """Reads the stock rows of one pull; `as_of` is when the snapshot was asked for."""

    def __init__(
        self, settings: StockFieldSettings, zone: ZoneInfo, as_of: datetime
    ) -> None:
        self.fields = _Fields(settings, zone)
        self.as_of = as_of

    def read(self, row: object) -> SourceRecord:
        raw = json_safe(row)
        try:
            return self._record(_row_of(row), raw)
        except ValueReadError as exc:
            return UnreadableRecord(raw=_raw_mapping(raw), reason=str(exc))

    def _record(self, row: Mapping[str, object], raw: object) -> StockRecord:
        f = self.fields
        reserved = f.value("reserved", row)
        return StockRecord(
            material=f.text("material", row, required=True),
            site=f.text("site", row, required=True),
            warehouse=f.text("warehouse", row, required=True),
            location=f.text("location", row),
            batch=f.text("batch", row),
            status=f.status(row),
            quantity=f.number("quantity", row),
            unit=f.text("unit", row, required=True),
            as_of=f.time("as_of", row) if "as_of" in f.paths else self.as_of,
            raw=_raw_mapping(raw),
            reserved=(
                Decimal(0)
                if reserved in (MISSING, None, "")
                else f.number("reserved", row)
            ),
            special_stock=f.text("special_stock", row),
        )


@dataclass(frozen=True, slots=True)
class MovementRead:
    """A row read: its record, and where it puts the cursor (None: it cannot say)."""

    record: SourceRecord
    at: datetime | None
    value: str
    key: tuple[str, ...]


class MovementReader:
    """Reads the transaction rows of one pull."""

    def __init__(self, settings: MovementStreamSettings, zone: ZoneInfo) -> None:
        self.settings = settings
        self.fields = _Fields(settings, zone)
        self.cursor = (
            FieldPath(settings.cursor_field) if settings.cursor_field else None
        )
        cursor_format = settings.cursor_time_format
        self.cursor_times = (
            self.fields.times
            if cursor_format == settings.time_format
            else TimeReader(cursor_format, zone)
        )
        self.id_pattern = (
            re.compile(settings.id_pattern) if settings.id_pattern else None
        )
        self.id_paths = [
            self.fields.paths[name]
            for name in ("document", "line", "year")
            if name in self.fields.paths
        ]
        direction = settings.direction
        self.direction = FieldPath(direction.field) if direction else None
        self.inward = frozenset(direction.inward) if direction else frozenset()
        self.outward = frozenset(direction.outward) if direction else frozenset()
        self.kinds = dict(settings.kinds)

    def read(self, row: object) -> MovementRead:
        raw = json_safe(row)
        at: datetime | None = None
        value = ""
        key: tuple[str, ...] = ()
        try:
            mapping = _row_of(row)
            key = tuple(
                text_value(path.get(mapping), path.text) for path in self.id_paths
            )
            if self.cursor is not None:
                value = text_value(self.cursor.get(mapping), self.cursor.text)
                at = self.cursor_times.read(value, self.cursor.text)
            record: SourceRecord = self._record(mapping, raw)
        except ValueReadError as exc:
            record = UnreadableRecord(raw=_raw_mapping(raw), reason=str(exc))
        return MovementRead(record, at, value, key)

    def _record(self, row: Mapping[str, object], raw: object) -> MovementRecord:
        f = self.fields
        document, line, year = self._key(f.text("document", row, required=True), row)
        reverses = f.text("reverses", row)
        if reverses and self.id_pattern is not None:
            r_document, r_line, r_year = self._key(reverses, row, what="reverses")
            reverses = "/".join(part for part in (r_document, r_line, r_year) if part)
        entered = f.value("entered_at", row)
        return MovementRecord(
            document=document,
            line=line,
            year=year,
            kind=self._kind(row),
            material=f.text("material", row, required=True),
            site=f.text("site", row, required=True),
            warehouse=f.text("warehouse", row, required=True),
            location=f.text("location", row),
            batch=f.text("batch", row),
            status=f.status(row),
            quantity=self._signed_quantity(row),
            unit=f.text("unit", row, required=True),
            posted_at=f.time("posted_at", row),
            raw=_raw_mapping(raw),
            reverses=reverses,
            order_ref=f.text("order_ref", row),
            entered_at=None
            if entered in (MISSING, None, "")
            else f.time("entered_at", row),
        )

    def _key(
        self, document: str, row: Mapping[str, object], *, what: str = "document"
    ) -> tuple[str, str, str]:
        """(document, line, year), split by `id_pattern` when there is one."""
        f = self.fields
        groups: dict[str, str] = {}
        if self.id_pattern is not None:
            match = self.id_pattern.fullmatch(document)
            if match is None:
                msg = (
                    f"{f.label(what)} {document!r} does not match id_pattern "
                    f"{self.id_pattern.pattern!r}"
                )
                raise ValueReadError(msg)
            groups = {name: text for name, text in match.groupdict().items() if text}
        if what == "reverses":
            return (
                groups.get("document", document),
                groups.get("line", ""),
                groups.get("year", ""),
            )
        line = groups.get("line") or f.text("line", row)
        if not line:
            msg = f"{f.label('line')} is missing"
            raise ValueReadError(msg)
        return (
            groups.get("document", document),
            line,
            groups.get("year") or f.text("year", row),
        )

    def _kind(self, row: Mapping[str, object]) -> MovementKind:
        code = self.fields.text("kind", row, required=True)
        kind = self.kinds.get(code) or _KINDS.get(code)
        if kind is None:
            msg = (
                f"movement type {code!r} ({self.fields.label('kind')}) is not in the "
                "stream's kinds"
            )
            raise ValueReadError(msg)
        return kind

    def _signed_quantity(self, row: Mapping[str, object]) -> Decimal:
        quantity = self.fields.number("quantity", row)
        if self.direction is None:
            return quantity
        label = self.direction.text
        code = text_value(self.direction.get(row), label)
        if code in self.inward:
            sign = 1
        elif code in self.outward:
            sign = -1
        else:
            known = ", ".join(sorted(self.inward | self.outward))
            msg = f"direction ({label}) {code!r} is none of {known}"
            raise ValueReadError(msg)
        if quantity < 0:
            msg = (
                f"{self.fields.label('quantity')} {quantity} is negative although "
                f"direction ({label}) {code!r} gives the sign"
            )
            raise ValueReadError(msg)
        # copy_negate is exact whatever the digits; a zero keeps its plain sign.
        return quantity if sign > 0 or not quantity else quantity.copy_negate()


def _raw_mapping(raw: object) -> dict[str, object]:
    return dict(raw) if isinstance(raw, Mapping) else {"row": raw}
