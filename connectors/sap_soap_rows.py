"""SAP ECC table rows to records: MARD/MCHB stock and MKPF/MSEG lines (sap.md §4-§6).

Rows arrive as RFC tables (`<ET_X><item><FIELD>text</FIELD>...`), read here
as plain dicts of the texts SAP sent, so quantities become `Decimal` from
SAP's own text and the raw row kept for quarantine is exactly the wire row.

Stock: MARD holds a storage location's totals and MCHB the same per batch.
For a batch-managed material MARD is the sum of its MCHB rows, so such a
key is emitted per batch from MCHB and its MARD row is only checked against
that sum; a difference would be stock of no batch and is quarantined, never
guessed. One record per non-zero stock column (LABST, INSME, SPEME, UMLME,
EINME and their MCHB twins).

Material numbers leave in their external form: ECC keeps purely numeric
MATNRs zero-padded to 18 (MATN1/ALPHA conversion), while S/4HANA OData,
the MES and people write them without zeros; SAP's own output conversion
strips them, and so does this connector. The raw row keeps the padded form.
Production orders (AUFNR, 12 characters internally) are shown the same
way; purchase and sales documents (EBELN, KDAUF), batches and material
documents keep their digits as sent, as SAP shows them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from lxml import etree  # type: ignore[import-untyped]

from stockbridge.connectors.sap_odata_codes import NO_STOCK_EFFECT, movement_type
from stockbridge.mapping.model import (
    MovementKind,
    MovementRecord,
    StockRecord,
    StockStatus,
    UnreadableRecord,
)
from stockbridge.mapping.timezones import to_utc

__all__ = [
    "MARD_STATUS",
    "MCHB_STATUS",
    "Row",
    "entry_stamp",
    "external_number",
    "movement_record",
    "stock_records",
    "table_rows",
]

Row = dict[str, str]

MARD_STATUS = {
    "LABST": StockStatus.UNRESTRICTED.value,
    "INSME": StockStatus.QUALITY_INSPECTION.value,
    "SPEME": StockStatus.BLOCKED.value,
    "UMLME": StockStatus.IN_TRANSIT.value,  # stock in transfer between SLocs
    "EINME": StockStatus.RESTRICTED.value,
}
MCHB_STATUS = {
    "CLABS": StockStatus.UNRESTRICTED.value,
    "CINSM": StockStatus.QUALITY_INSPECTION.value,
    "CSPEM": StockStatus.BLOCKED.value,
    "CUMLM": StockStatus.IN_TRANSIT.value,
    "CEINM": StockStatus.RESTRICTED.value,
}
_MCHB_TWIN = dict(zip(MCHB_STATUS, MARD_STATUS, strict=True))

INSMK_STATUS = {
    "": StockStatus.UNRESTRICTED.value,
    "F": StockStatus.UNRESTRICTED.value,
    "X": StockStatus.QUALITY_INSPECTION.value,
    "2": StockStatus.QUALITY_INSPECTION.value,
    "S": StockStatus.BLOCKED.value,
    "3": StockStatus.BLOCKED.value,
    "R": StockStatus.RESTRICTED.value,  # restricted use, as the Z service flags it
}
"""MSEG-INSMK (stock type of the line) to status; other codes pass through raw."""

_IN_TRANSFER = frozenset({("313", "S"), ("314", "H"), ("315", "H"), ("316", "S")})
"""Two-step SLoc transfers: the legs that move stock in transfer (MARD-UMLME),
whatever INSMK says (313 puts it there, 315 takes it out, 314/316 reverse)."""

_SIGN = {"S": 1, "H": -1}
_NO_YEAR = frozenset({"", "0000"})


def external_number(value: str) -> str:
    """SAP's ALPHA output conversion: a purely numeric key without its zeros."""
    return (value.lstrip("0") or "0") if value.isdigit() else value


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def table_rows(response: etree._Element, table: str) -> list[Row]:
    """The `item` rows of RFC table `table` in an operation's response."""
    for child in response.iterchildren(etree.Element):
        if _local(child.tag) == table:
            return [
                {
                    _local(field.tag): field.text or ""
                    for field in item.iterchildren(etree.Element)
                }
                for item in child.iterchildren(etree.Element)
            ]
    return []


def _quantity(row: Row, field: str) -> Decimal:
    text = row.get(field, "")
    try:
        value = Decimal(text) if text else Decimal(0)
    except InvalidOperation:
        msg = f"{field} {text!r} is not a number"
        raise ValueError(msg) from None
    if not value.is_finite():
        msg = f"{field} {text!r} is not a number"
        raise ValueError(msg)
    return value


def stock_records(
    mard: Sequence[Row], mchb: Sequence[Row], as_of: datetime
) -> Iterator[StockRecord | UnreadableRecord]:
    """Records of one page of MARD rows and the MCHB rows of the same keys."""
    totals: dict[tuple[str, str, str], dict[str, Decimal]] = {}
    unreadable: set[tuple[str, str, str]] = set()
    for row in mchb:
        key = (row.get("WERKS", ""), row.get("MATNR", ""), row.get("LGORT", ""))
        try:
            figures = {field: _quantity(row, field) for field in MCHB_STATUS}
        except ValueError as exc:
            unreadable.add(key)
            yield UnreadableRecord(raw=row, reason=f"MCHB row: {exc}")
            continue
        sums = totals.setdefault(key, dict.fromkeys(MARD_STATUS, Decimal(0)))
        for field, value in figures.items():
            sums[_MCHB_TWIN[field]] += value
        yield from _stock(row, figures, MCHB_STATUS, row.get("CHARG", ""), as_of)
    for row in mard:
        key = (row.get("WERKS", ""), row.get("MATNR", ""), row.get("LGORT", ""))
        if key in unreadable:
            continue  # a batch is quarantined: the MARD total cannot be checked
        try:
            figures = {field: _quantity(row, field) for field in MARD_STATUS}
        except ValueError as exc:
            yield UnreadableRecord(raw=row, reason=f"MARD row: {exc}")
            continue
        if key not in totals:
            yield from _stock(row, figures, MARD_STATUS, "", as_of)
            continue
        differences = {
            field: value - totals[key][field]
            for field, value in figures.items()
            if value != totals[key][field]
        }
        if differences:
            listed = ", ".join(f"{f} {d:+}" for f, d in differences.items())
            reason = (
                f"MARD row of batch-managed material {key[1]} in {key[0]}/{key[2]} "
                f"differs from the sum of its MCHB batches ({listed}): stock of no "
                "batch, not loaded"
            )
            yield UnreadableRecord(raw=row, reason=reason)


def _stock(
    row: Row,
    figures: dict[str, Decimal],
    statuses: dict[str, str],
    batch: str,
    as_of: datetime,
) -> Iterator[StockRecord]:
    for field, quantity in figures.items():
        if quantity:
            yield StockRecord(
                material=external_number(row.get("MATNR", "")),
                site=row.get("WERKS", ""),
                warehouse=row.get("LGORT", ""),
                location="",
                batch=batch,
                status=statuses[field],
                quantity=quantity,
                unit=row.get("MEINS", ""),
                as_of=as_of,
                raw=row,
            )


def movement_record(
    row: Row, zone: ZoneInfo
) -> MovementRecord | UnreadableRecord | None:
    """The line's movement; None when it moves no storage-location stock."""
    code = row.get("BWART", "")
    if code in NO_STOCK_EFFECT or not row.get("LGORT"):
        return None  # GR-blocked stock, or consumption posted without an SLoc
    try:
        return _movement(row, code, zone)
    except ValueError as exc:
        return UnreadableRecord(raw=row, reason=f"MSEG line: {exc}")


def _movement(row: Row, code: str, zone: ZoneInfo) -> MovementRecord:
    indicator = row.get("SHKZG", "")
    if indicator not in _SIGN:
        msg = f"SHKZG {indicator!r} is neither S (debit, in) nor H (credit, out)"
        raise ValueError(msg)
    quantity = _quantity(row, "MENGE")
    if quantity < 0:
        msg = f"MENGE {quantity} is negative; SAP sends direction in SHKZG"
        raise ValueError(msg)
    kind, reverses = _kind(row, code)
    if (code, indicator) in _IN_TRANSFER:
        status = StockStatus.IN_TRANSIT.value
    else:
        stock_type = row.get("INSMK", "")
        status = INSMK_STATUS.get(stock_type, stock_type)
    return MovementRecord(
        document=row.get("MBLNR", ""),
        line=external_number(row.get("ZEILE", "")),  # NUMC "0001" keys as "1"
        year=row.get("MJAHR", ""),
        kind=kind,
        material=external_number(row.get("MATNR", "")),
        site=row.get("WERKS", ""),
        warehouse=row.get("LGORT", ""),
        location="",
        batch=row.get("CHARG", ""),
        status=status,
        quantity=quantity * _SIGN[indicator],
        unit=row.get("MEINS", ""),
        posted_at=to_utc(datetime.combine(_date(row, "BUDAT"), time(0)), zone),
        raw=row,
        reverses=reverses,
        order_ref=external_number(row.get("AUFNR", ""))
        or row.get("EBELN", "")
        or row.get("KDAUF", ""),
        entered_at=to_utc(entry_stamp(row), zone),
    )


def _kind(row: Row, code: str) -> tuple[MovementKind, str]:
    original = row.get("SMBLN", "")
    if original:
        year = row.get("SJAHR", "")
        if year in _NO_YEAR:
            msg = f"reversal of document {original} names no year ({year!r})"
            raise ValueError(msg)
        line = external_number(row.get("SMBLP", ""))
        return MovementKind.REVERSAL, f"{original}/{line}/{year}"
    known = movement_type(code)
    if known is None:
        msg = f"movement type {code!r} is not in the connector's movement-type table"
        raise ValueError(msg)
    if known.kind is MovementKind.RECEIPT and row.get("AUFNR"):
        return MovementKind.PRODUCTION_RECEIPT, ""
    return known.kind, ""


def _date(row: Row, field: str) -> date:
    text = row.get(field, "")
    try:
        return date.fromisoformat(text)
    except ValueError:
        msg = f"{field} {text!r} is not a date (YYYY-MM-DD)"
        raise ValueError(msg) from None


def entry_stamp(row: Row) -> datetime:
    """CPUDT + CPUTM: when the line was entered, naive in the system's zone."""
    text = row.get("CPUTM", "")
    try:
        entered = time.fromisoformat(text)
    except ValueError:
        msg = f"CPUTM {text!r} is not a time (HH:MM:SS)"
        raise ValueError(msg) from None
    return datetime.combine(_date(row, "CPUDT"), entered)
