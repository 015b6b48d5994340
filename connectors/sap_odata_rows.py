"""Stock rows and units of measure, as SAP serves them, to source records.

A stock row keeps SAP's own material, batch and unit codes (mapping applies
the crosswalks, e.g. strip_leading_zeros for zero-padded material numbers);
the other key fields of `A_MatlStkInAcctMod` (supplier, customer, WBS
element, sales order) stay in `raw`: two rows that differ only there add up
in the canonical table, as the store intends. Alternative units convert as
SAP's MARM does: 1 alternative unit = numerator / denominator base units.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from fractions import Fraction
from typing import Any

from stockbridge.connectors.sap_odata_codes import STOCK_TYPE_STATUS
from stockbridge.connectors.sap_odata_wire import (
    WireError,
    decimal_value,
    raw_fields,
    text_field,
)
from stockbridge.mapping.model import (
    SourceRecord,
    StockRecord,
    UnitRecord,
    UnreadableRecord,
)

__all__ = ["STOCK_FIELDS", "STOCK_KEY", "UNIT_FIELDS", "stock_record", "unit_record"]

STOCK_KEY = (
    "Material",
    "Plant",
    "StorageLocation",
    "Batch",
    "Supplier",
    "Customer",
    "WBSElementInternalID",
    "SDDocument",
    "SDDocumentItem",
    "InventorySpecialStockType",
    "InventoryStockType",
)
STOCK_FIELDS = (
    *STOCK_KEY,
    "WBSElementExternalID",
    "MaterialBaseUnit",
    "MatlWrhsStkQtyInMatlBaseUnit",
)
UNIT_FIELDS = (
    "Product",
    "AlternativeUnit",
    "QuantityNumerator",
    "QuantityDenominator",
    "BaseUnit",
)


def stock_record(row: Mapping[str, Any], as_of: datetime) -> SourceRecord:
    """One stock row as SAP keys it; unreadable rows are kept with the reason."""
    raw = raw_fields(row, STOCK_FIELDS)
    try:
        stock_type = text_field(row, "InventoryStockType")
        return StockRecord(
            material=text_field(row, "Material"),
            site=text_field(row, "Plant"),
            warehouse=text_field(row, "StorageLocation"),
            location="",
            batch=text_field(row, "Batch"),
            status=STOCK_TYPE_STATUS.get(stock_type, stock_type),
            quantity=decimal_value(
                row.get("MatlWrhsStkQtyInMatlBaseUnit"), "MatlWrhsStkQtyInMatlBaseUnit"
            ),
            unit=text_field(row, "MaterialBaseUnit"),
            as_of=as_of,
            raw=raw,
            special_stock=text_field(row, "InventorySpecialStockType"),
        )
    except WireError as exc:
        return UnreadableRecord(raw=raw, reason=str(exc))


def unit_record(row: Mapping[str, Any]) -> SourceRecord | None:
    """An alternative unit's factor; None for the base unit's own row (1 = 1)."""
    raw = raw_fields(row, UNIT_FIELDS)
    try:
        unit, base = text_field(row, "AlternativeUnit"), text_field(row, "BaseUnit")
        if unit == base:
            return None
        material = text_field(row, "Product")
        numerator = decimal_value(row.get("QuantityNumerator"), "QuantityNumerator")
        denominator = decimal_value(
            row.get("QuantityDenominator"), "QuantityDenominator"
        )
    except WireError as exc:
        return UnreadableRecord(raw=raw, reason=str(exc))
    if numerator <= 0 or denominator <= 0:
        reason = (
            f"conversion {numerator}/{denominator} {base} per {unit} is not positive"
        )
        return UnreadableRecord(raw=raw, reason=reason)
    return UnitRecord(
        material=material,
        unit=unit,
        base_unit=base,
        factor=Fraction(numerator) / Fraction(denominator),
        raw=raw,
    )
