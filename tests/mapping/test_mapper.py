"""The record mapper: one source record in, one canonical record or a reason out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from stockbridge.mapping.codes import (
    CodeDimension,
    CodeRule,
    CrosswalkSpec,
    RuleKind,
    SourceCrosswalks,
)
from stockbridge.mapping.errors import MappingError
from stockbridge.mapping.mapper import RecordMapper
from stockbridge.mapping.material_units import UnitConversion, build_material_units
from stockbridge.mapping.model import MovementKind, MovementRecord, StockRecord
from stockbridge.mapping.units import UnitResolver

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


def stock(
    material: str = "000000000000100023",
    unit: str = "KG",
    qty: str = "12.5",
    status: str = "unrestricted",
    warehouse: str = "RM01",
) -> StockRecord:
    return StockRecord(
        material=material,
        site="1000",
        warehouse=warehouse,
        location="",
        batch="",
        status=status,
        quantity=Decimal(qty),
        unit=unit,
        as_of=AS_OF,
        raw={"Material": material},
    )


def mapper(**specs: CrosswalkSpec) -> RecordMapper:
    conversions = [UnitConversion("100023", "CT", "H87", Fraction(24))]
    return RecordMapper(
        "sap1",
        crosswalks=SourceCrosswalks.build(
            "sap1",
            {
                CodeDimension.MATERIAL: CrosswalkSpec(
                    (CodeRule(RuleKind.STRIP_LEADING_ZEROS),)
                ),
                **{CodeDimension(k): v for k, v in specs.items()},
            },
        ),
        units=UnitResolver("sap"),
        material_units=build_material_units(conversions, {"100023": "H87"}),
    )


def test_stock_codes_and_unit_are_canonical() -> None:
    line = mapper().stock(stock(material="000000000000100099", unit="G", qty="2500"))
    assert (line.material, line.unit, line.quantity) == (
        "100099",
        "KGM",
        Decimal("2.5"),
    )
    assert line.source == "sap1"


def test_packaging_unit_converts_through_the_material_factor() -> None:
    record = MovementRecord(
        document="4900000001",
        line="1",
        year="2026",
        kind=MovementKind.RECEIPT,
        material="100023",
        site="1000",
        warehouse="RM01",
        location="",
        batch="",
        status="unrestricted",
        quantity=Decimal(2),
        unit="KAR",
        posted_at=AS_OF,
        raw={},
    )
    movement = mapper().movement(record)
    assert (movement.quantity, movement.unit) == (Decimal(48), "H87")
    assert (movement.original_quantity, movement.original_unit) == (Decimal(2), "KAR")


def test_packaging_unit_without_a_factor_is_rejected_with_the_reason() -> None:
    with pytest.raises(MappingError, match=r"CT.*100777.*no base unit is known"):
        mapper().stock(stock(material="100777", unit="KAR", qty="1"))


def test_mass_to_pieces_without_a_factor_is_rejected() -> None:
    with pytest.raises(MappingError, match="cannot convert KGM"):
        mapper().stock(stock(material="100023", unit="KG"))


def test_unmapped_code_with_a_table_is_rejected_never_guessed() -> None:
    m = mapper(warehouse=CrosswalkSpec(table={"RM01": "WH-RAW"}))
    assert m.stock(stock(material="100099")).warehouse == "WH-RAW"
    with pytest.raises(MappingError, match="LS99"):
        m.stock(stock(material="100099", warehouse="LS99"))


def test_unknown_status_is_rejected() -> None:
    with pytest.raises(MappingError, match=r"weird.*expected one of"):
        mapper().stock(stock(status="weird"))
