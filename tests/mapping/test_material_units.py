from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.mapping.errors import IncompatibleUnitsError, UnknownUnitError
from stockbridge.mapping.material_units import (
    MaterialUnits,
    UnitConversion,
    build_material_units,
    conversion_from_record,
)
from stockbridge.mapping.model import UnitRecord
from stockbridge.mapping.units import (
    UNITS,
    UnitResolver,
    conversion_factor,
    convert,
    convert_to_decimal,
)


def table(base: str, *facts: tuple[str, str, str]) -> MaterialUnits:
    conversions = [UnitConversion("X", u, to, Fraction(f)) for u, f, to in facts]
    return build_material_units(conversions, {"X": base})["X"]


def test_carton_of_pieces() -> None:
    units = table("H87", ("CT", "24", "H87"))
    assert convert(Decimal("2.5"), "CT", "H87", units) == 60
    assert convert(Decimal(6), "H87", "CT", units) == Fraction(1, 4)
    assert convert(Decimal(1), "CT", "DZN", units) == 2  # pieces' own dimension
    assert not units.problem


def test_sap_numerator_denominator_record() -> None:
    # SAP: 5 KG = 3 PC on a PC-based material -> numerator 3, denominator 5.
    record = UnitRecord(
        material="000000000000100141",
        unit="KG",
        base_unit="PC",
        factor=Fraction(Decimal(3)) / Fraction(Decimal(5)),
        raw={"QuantityNumerator": "3", "QuantityDenominator": "5"},
    )
    conversion = conversion_from_record(record, UnitResolver("sap"), material="100141")
    assert conversion == UnitConversion("100141", "KGM", "H87", Fraction(3, 5))
    units = build_material_units([conversion])["100141"]
    assert units.base_unit == "H87"
    assert convert(Decimal(10), "KGM", "H87", units) == 6
    assert convert(Decimal(500), "GRM", "H87", units) == Fraction(
        3, 10
    )  # whole dimension
    assert convert_to_decimal(Decimal(1), "H87", "TNE", units) == Decimal("0.001667")


def test_record_with_unknown_unit_is_rejected() -> None:
    record = UnitRecord("M1", "FOO", "ST", Fraction(2), raw={})
    with pytest.raises(UnknownUnitError, match="'FOO'"):
        conversion_from_record(record, UnitResolver("sap"))


def test_chains_resolve_in_any_order_and_in_either_direction() -> None:
    units = table("BO", ("CT", "10", "PK"), ("PK", "6", "BO"), ("BO", "1/2", "LTR"))
    assert convert(Decimal(1), "CT", "BO", units) == 60
    assert convert(Decimal(1), "LTR", "BO", units) == 2
    assert convert(Decimal(3), "CT", "MLT", units) == 90_000  # 180 BO of 0.5 LTR


def test_without_material_table_cross_dimension_is_rejected_with_both_units() -> None:
    units = table("H87", ("CT", "24", "H87"))
    with pytest.raises(IncompatibleUnitsError) as caught:
        convert(Decimal(1), "KGM", "H87", units)
    message = str(caught.value)
    for part in ("KGM (mass)", "H87 (count)", "material 'X'"):
        assert part in message
    assert caught.value.material == "X"


def test_contradicting_master_data_marks_only_that_material() -> None:
    conversions = [
        UnitConversion("BAD", "KGM", "H87", Fraction(2)),
        UnitConversion("BAD", "GRM", "H87", Fraction(1)),
        UnitConversion("GOOD", "CT", "H87", Fraction(12)),
    ]
    tables = build_material_units(conversions, {"BAD": "H87", "GOOD": "H87"})
    assert "contradicts" in tables["BAD"].problem
    assert not tables["GOOD"].problem
    with pytest.raises(
        IncompatibleUnitsError, match="conflict: 1 GRM = 1 H87 contradicts"
    ):
        convert(Decimal(1), "KGM", "H87", tables["BAD"])
    # Fixed conversions never need the table, so they still work.
    assert convert(Decimal(1), "KGM", "GRM", tables["BAD"]) == 1000
    assert convert(Decimal(1), "CT", "H87", tables["GOOD"]) == 12


def test_unrelatable_fact_is_a_problem() -> None:
    units = table("H87", ("CT", "10", "KGM"))
    assert "neither unit can be related to the base unit H87" in units.problem


def test_material_with_base_unit_only() -> None:
    units = build_material_units([], {"M": "KGM"})["M"]
    assert convert(Decimal(1), "TNE", "KGM", units) == 1000
    with pytest.raises(IncompatibleUnitsError):
        convert(Decimal(1), "CT", "KGM", units)


def test_conversion_needs_canonical_codes_and_a_positive_fraction() -> None:
    with pytest.raises(UnknownUnitError):
        UnitConversion("M", "KG", "H87", Fraction(1))
    with pytest.raises(ValueError, match="positive Fraction"):
        UnitConversion("M", "KGM", "H87", Fraction(0))


POSITIVE = st.fractions(
    min_value=Fraction(1, 1000), max_value=1000, max_denominator=1000
)
PACKAGES = ["CT", "BX", "PK", "RO", "BG", "PA", "BO", "SET"]


@st.composite
def material_tables(draw: st.DrawFn) -> MaterialUnits:
    base = draw(st.sampled_from(["H87", "KGM", "MTR", "LTR", "BO"]))
    others = [u for u in [*PACKAGES, "KGM", "MTR", "LTR"] if u != base]
    chosen = draw(
        st.lists(st.sampled_from(others), unique=True, min_size=1, max_size=5)
    )
    facts, known = [], [base]
    for unit in chosen:  # each fact relates to a unit already known: a tree
        if UNITS[unit].factor is not None and any(
            UNITS[k].dimension is UNITS[unit].dimension for k in known
        ):
            continue
        facts.append(
            UnitConversion("X", unit, draw(st.sampled_from(known)), draw(POSITIVE))
        )
        known.append(unit)
    return build_material_units(facts, {"X": base})["X"]


def related_units(units: MaterialUnits) -> list[str]:
    return [code for code in UNITS if units.base_units_per(code) is not None]


@given(material_tables(), st.data(), st.decimals(-(10**9), 10**9, places=3))
def test_material_round_trip_and_composition(
    units: MaterialUnits, data: st.DataObject, quantity: Decimal
) -> None:
    assert not units.problem
    codes = related_units(units)
    a, b, c = (data.draw(st.sampled_from(codes)) for _ in range(3))
    there = convert(quantity, a, b, units)
    assert type(there) is Fraction
    assert there * conversion_factor(b, a, units) == Fraction(quantity)
    assert there * conversion_factor(b, c, units) == convert(quantity, a, c, units)
