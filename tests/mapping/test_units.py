from __future__ import annotations

import math
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.mapping.errors import (
    IncompatibleUnitsError,
    InexactQuantityError,
    MappingConfigError,
    MappingError,
    UnknownUnitError,
)
from stockbridge.mapping.unit_vocabularies import BUILTIN_VOCABULARIES
from stockbridge.mapping.units import (
    UNITS,
    Dimension,
    UnitResolver,
    conversion_factor,
    convert,
    convert_to_decimal,
    to_decimal,
    to_decimal_strict,
)

FIXED = [u for u in UNITS.values() if u.factor is not None]
DECIMALS = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=6, allow_nan=False
)
FRACTIONS = st.fractions(max_denominator=10**9).filter(lambda f: abs(f) < 10**15)


def same_dimension_units(data: st.DataObject, count: int) -> list[str]:
    dimension = data.draw(st.sampled_from(sorted({u.dimension for u in FIXED})))
    codes = [u.code for u in FIXED if u.dimension is dimension]
    return [data.draw(st.sampled_from(codes)) for _ in range(count)]


# --- resolving spellings ------------------------------------------------------


@pytest.mark.parametrize(
    ("vocabulary", "spelling", "code"),
    [
        ("sap", "KG", "KGM"),
        ("sap", "ST", "H87"),
        ("sap", "PC", "H87"),
        ("sap", "KAR", "CT"),
        ("sap", "CAR", "CT"),
        ("sap", "TO", "TNE"),
        ("sap", "M3", "MTQ"),
        ("sap", "BT", "BO"),
        ("sap", "PAA", "PR"),
        ("cn", "千克", "KGM"),
        ("cn", "公斤", "KGM"),
        ("cn", "kg", "KGM"),
        ("cn", "KG", "KGM"),
        ("cn", "Pcs", "H87"),
        ("cn", "PCS", "H87"),
        ("cn", "个", "H87"),
        ("cn", "套", "SET"),
        ("cn", "箱", "CT"),
        ("cn", "卷", "RO"),
        ("cn", "立方米", "MTQ"),
        ("cn", "m³", "MTQ"),
        ("cn", "㎡", "MTK"),
        ("cn", "㎏", "KGM"),
        ("cn", "ＫＧ", "KGM"),
        ("cn", " 吨 ", "TNE"),
        ("cn", "KGM", "KGM"),  # canonical codes are always accepted
        ("cn", "PCE", "H87"),  # and their Rec 20 aliases
    ],
)
def test_resolver_maps_source_spellings(
    vocabulary: str, spelling: str, code: str
) -> None:
    assert UnitResolver(vocabulary).resolve(spelling) == code


def test_builtin_vocabularies_target_canonical_codes_only() -> None:
    for vocabulary in BUILTIN_VOCABULARIES.values():
        assert set(vocabulary.values()) <= set(UNITS)


def test_builtin_vocabularies_agree_where_they_overlap() -> None:
    sap, cn = UnitResolver("sap"), UnitResolver("cn")
    shared = {s.upper() for s in BUILTIN_VOCABULARIES["sap"]} & {
        s.upper() for s in BUILTIN_VOCABULARIES["cn"]
    }
    assert shared  # KG, G, M, ... are spelled alike
    for spelling in shared:
        assert sap.resolve(spelling) == cn.resolve(spelling), spelling


def test_canonical_only_resolver() -> None:
    resolver = UnitResolver()
    assert resolver.resolve("kgm") == "KGM"
    assert resolver.vocabulary == "UN/ECE Rec 20"
    with pytest.raises(UnknownUnitError, match=r"'KG'.*'UN/ECE Rec 20'"):
        resolver.resolve("KG")


def test_vocabularies_stack_and_config_table_has_the_last_word() -> None:
    resolver = UnitResolver(["sap", "cn"], extra={"PAK": "PA", "坨": "KGM"})
    assert resolver.resolve("ST") == "H87"
    assert resolver.resolve("箱") == "CT"
    assert resolver.resolve("PAK") == "PA"
    assert resolver.resolve("坨") == "KGM"
    assert resolver.vocabulary == "sap+cn+config"


def test_unknown_unit_names_the_unit_and_the_vocabulary() -> None:
    with pytest.raises(UnknownUnitError) as caught:
        UnitResolver("sap").resolve("箱")
    message = str(caught.value)
    assert "'箱'" in message
    assert "'sap'" in message
    assert caught.value.unit == "箱"
    assert isinstance(caught.value, MappingError)


def test_config_table_must_target_canonical_codes() -> None:
    with pytest.raises(MappingConfigError, match="'XYZ' is not a canonical unit code"):
        UnitResolver("cn", extra={"坨": "XYZ"})
    with pytest.raises(MappingConfigError, match="unknown unit vocabulary 'k3'"):
        UnitResolver("k3")


# --- fixed conversions --------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "source", "target", "expected"),
    [
        ("1.5", "KGM", "GRM", "1500"),
        ("2", "TNE", "KGM", "2000"),
        ("250", "MLT", "LTR", "0.25"),
        ("3", "DZN", "H87", "36"),
        ("5", "PR", "DZN", "5/6"),
        ("1", "MTK", "CMK", "10000"),
        ("7", "CT", "CT", "7"),
    ],
)
def test_fixed_conversions_are_exact(
    quantity: str, source: str, target: str, expected: str
) -> None:
    result = convert(Decimal(quantity), source, target)
    assert type(result) is Fraction
    assert result == Fraction(expected)


def test_cross_dimension_needs_a_material() -> None:
    with pytest.raises(IncompatibleUnitsError) as caught:
        convert(Decimal(1), "KGM", "H87")
    message = str(caught.value)
    for part in ("KGM", "(mass)", "H87", "(count)", "no material"):
        assert part in message


def test_packaging_without_material_is_incompatible() -> None:
    with pytest.raises(IncompatibleUnitsError, match=r"CT \(packaging\) to H87"):
        convert(Decimal(1), "CT", "H87")


def test_non_canonical_code_in_conversion_is_unknown() -> None:
    with pytest.raises(UnknownUnitError, match="'KG'"):
        convert(Decimal(1), "KG", "GRM")


def test_quantity_must_be_decimal() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        convert(1.5, "KGM", "GRM")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Decimal"):
        convert(Decimal("NaN"), "KGM", "GRM")


@given(st.data(), DECIMALS)
def test_round_trip_is_identity(data: st.DataObject, quantity: Decimal) -> None:
    a, b = same_dimension_units(data, 2)
    there = convert(quantity, a, b)
    back = there * conversion_factor(b, a)
    assert back == Fraction(quantity)
    if 10**12 % there.denominator == 0:  # a finite decimal: the Decimal path too
        assert convert(to_decimal_strict(there, 12), b, a) == Fraction(quantity)


@given(st.data(), DECIMALS)
def test_composition_equals_direct_conversion(
    data: st.DataObject, quantity: Decimal
) -> None:
    a, b, c = same_dimension_units(data, 3)
    assert convert(quantity, a, b) * conversion_factor(b, c) == convert(quantity, a, c)


# --- rounding at the edge -----------------------------------------------------


def reference_round(value: Fraction, places: int, rounding: str) -> Fraction:
    scaled = value * 10**places
    floor, ceil = math.floor(scaled), math.ceil(scaled)
    half = Fraction(1, 2)
    toward_zero = floor if scaled >= 0 else ceil
    away = ceil if scaled >= 0 else floor
    nearest_tie = {
        ROUND_HALF_EVEN: round(scaled),
        ROUND_HALF_UP: away,
        ROUND_HALF_DOWN: toward_zero,
    }
    choice = {
        ROUND_FLOOR: floor,
        ROUND_CEILING: ceil,
        ROUND_DOWN: toward_zero,
        ROUND_UP: away,
    }
    if rounding in choice:
        return Fraction(choice[rounding], 10**places)
    distance = abs(scaled - toward_zero)
    if distance == half:
        picked = nearest_tie[rounding]
    else:
        picked = away if distance > half else toward_zero
    return Fraction(picked, 10**places)


@given(
    FRACTIONS,
    st.sampled_from(
        [
            ROUND_HALF_EVEN,
            ROUND_HALF_UP,
            ROUND_HALF_DOWN,
            ROUND_FLOOR,
            ROUND_CEILING,
            ROUND_DOWN,
            ROUND_UP,
        ]
    ),
    st.integers(min_value=0, max_value=6),
)
def test_to_decimal_rounds_the_exact_rational_once(
    value: Fraction, rounding: str, places: int
) -> None:
    result = to_decimal(value, places, rounding)
    assert type(result) is Decimal
    assert Fraction(result) == reference_round(value, places, rounding)
    assert result.as_tuple().exponent == -places
    text = str(result)
    assert "E" not in text.upper()
    assert not text.startswith("-") or result < 0  # never a negative zero


def test_to_decimal_does_not_round_twice() -> None:
    # 0.0000005 + 1e-40 must round up at 6 places; rounding to 28 significant
    # digits first would leave an exact tie and round it to even (down).
    value = Fraction(5, 10**7) + Fraction(1, 10**40)
    assert to_decimal(value) == Decimal("0.000001")
    assert to_decimal(Fraction(5, 10**7)) == Decimal("0.000000")
    assert to_decimal(Fraction(15, 10**7)) == Decimal("0.000002")


def test_to_decimal_text_and_zero_sign() -> None:
    assert str(to_decimal(Fraction(0))) == "0.000000"
    assert str(to_decimal(Fraction(-1, 10**9))) == "0.000000"
    assert str(to_decimal(Fraction(1, 3))) == "0.333333"
    assert str(to_decimal(Fraction(-2, 3))) == "-0.666667"
    assert str(to_decimal(Fraction(24))) == "24.000000"
    assert (
        str(to_decimal(Fraction(10**30 + 1, 10**6)))
        == "1000000000000000000000000.000001"
    )


def test_strict_rounding_rejects_a_changed_value() -> None:
    assert to_decimal_strict(Fraction(1, 8)) == Decimal("0.125")
    assert str(to_decimal_strict(Fraction(-1, 8))) == "-0.125000"
    with pytest.raises(
        InexactQuantityError, match=r"1/3 is not exact at 6 decimal places"
    ):
        to_decimal_strict(Fraction(1, 3))


def test_convert_to_decimal_same_unit_fast_path() -> None:
    assert str(convert_to_decimal(Decimal("12.5"), "H87", "H87")) == "12.500000"
    assert str(convert_to_decimal(Decimal("1.23456789"), "KGM", "KGM")) == "1.234568"
    assert str(convert_to_decimal(Decimal("-0.0000001"), "KGM", "KGM")) == "0.000000"
    assert str(convert_to_decimal(Decimal("1E+3"), "KGM", "KGM")) == "1000.000000"
    with pytest.raises(InexactQuantityError):
        convert_to_decimal(Decimal("1.23456789"), "KGM", "KGM", strict=True)
    assert str(convert_to_decimal(Decimal("1"), "PR", "DZN")) == "0.166667"
    with pytest.raises(InexactQuantityError):
        convert_to_decimal(Decimal("1"), "PR", "DZN", strict=True)


@given(st.data(), DECIMALS)
def test_convert_to_decimal_equals_rounded_exact_conversion(
    data: st.DataObject, quantity: Decimal
) -> None:
    a, b = same_dimension_units(data, 2)
    result = convert_to_decimal(quantity, a, b)
    assert type(result) is Decimal
    assert result == to_decimal(convert(quantity, a, b))
    assert "E" not in str(result)


def test_every_unit_has_a_dimension_and_packaging_has_no_factor() -> None:
    for unit in UNITS.values():
        assert (unit.factor is None) == (unit.dimension is Dimension.PACKAGING)
        assert unit.factor is None or type(unit.factor) is Fraction


def test_no_float_call_in_mapping_sources() -> None:
    import stockbridge.mapping as package

    root = Path(package.__file__).parent
    for source in root.glob("*.py"):
        assert "float(" not in source.read_text(encoding="utf-8"), source.name
