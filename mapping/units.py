"""Units: UN/ECE Rec 20 codes, source vocabularies, exact conversion, edge rounding.

Canonical units are UN/ECE Recommendation 20 common codes. Each has a
dimension and an exact `Fraction` factor to its dimension's base (KGM, MTR,
MTQ, MTK, H87). Packaging units (CT, BX, PK, ...) and SET have no fixed
factor: how many pieces a carton holds depends on the material, so they
convert only through a material's own table
(`stockbridge.mapping.material_units`). The packaging
codes are the Rec 20 level-3 codes of earlier revisions; Rec 21 now lists
the same packages with an X prefix.

Arithmetic is rational throughout; a quantity is rounded once, at the edge,
by `to_decimal` (the store keeps 6 decimal places).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import MAX_PREC, ROUND_HALF_EVEN, Context, Decimal
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import TYPE_CHECKING

from stockbridge.mapping.errors import (
    IncompatibleUnitsError,
    InexactQuantityError,
    MappingConfigError,
    UnknownUnitError,
)
from stockbridge.mapping.unit_vocabularies import BUILTIN_VOCABULARIES, REC20_ALIASES

if TYPE_CHECKING:
    from stockbridge.mapping.material_units import MaterialUnits

__all__ = [
    "STORE_PLACES",
    "UNITS",
    "Dimension",
    "Unit",
    "UnitResolver",
    "canonical_unit",
    "conversion_factor",
    "convert",
    "convert_to_decimal",
    "to_decimal",
    "to_decimal_strict",
]

STORE_PLACES = 6
"""Decimal places the store keeps for every quantity."""

REC20 = "UN/ECE Rec 20"


class Dimension(StrEnum):
    """What a unit measures; packaging means "depends on the material"."""

    MASS = "mass"
    LENGTH = "length"
    VOLUME = "volume"
    AREA = "area"
    COUNT = "count"
    PACKAGING = "packaging"


@dataclass(frozen=True, slots=True)
class Unit:
    """A canonical unit: 1 unit = `factor` of its dimension's base unit."""

    code: str
    name: str
    dimension: Dimension
    factor: Fraction | None


def _units(*units: Unit) -> Mapping[str, Unit]:
    return MappingProxyType({u.code: u for u in units})


_M, _L, _V = Dimension.MASS, Dimension.LENGTH, Dimension.VOLUME
_A, _C, _P = Dimension.AREA, Dimension.COUNT, Dimension.PACKAGING
UNITS: Mapping[str, Unit] = _units(
    Unit("KGM", "kilogram", _M, Fraction(1)),
    Unit("GRM", "gram", _M, Fraction(1, 1000)),
    Unit("MGM", "milligram", _M, Fraction(1, 1_000_000)),
    Unit("TNE", "tonne", _M, Fraction(1000)),
    Unit("MTR", "metre", _L, Fraction(1)),
    Unit("DMT", "decimetre", _L, Fraction(1, 10)),
    Unit("CMT", "centimetre", _L, Fraction(1, 100)),
    Unit("MMT", "millimetre", _L, Fraction(1, 1000)),
    Unit("KMT", "kilometre", _L, Fraction(1000)),
    Unit("MTQ", "cubic metre", _V, Fraction(1)),
    Unit("LTR", "litre", _V, Fraction(1, 1000)),
    Unit("MLT", "millilitre", _V, Fraction(1, 1_000_000)),
    Unit("MTK", "square metre", _A, Fraction(1)),
    Unit("CMK", "square centimetre", _A, Fraction(1, 10_000)),
    Unit("H87", "piece", _C, Fraction(1)),
    Unit("PR", "pair", _C, Fraction(2)),
    Unit("DZN", "dozen", _C, Fraction(12)),
    Unit("SET", "set", _P, None),
    Unit("CT", "carton", _P, None),
    Unit("BX", "box", _P, None),
    Unit("PK", "pack", _P, None),
    Unit("RO", "roll", _P, None),
    Unit("BG", "bag", _P, None),
    Unit("PA", "packet", _P, None),
    Unit("BO", "bottle", _P, None),
    Unit("DR", "drum", _P, None),
    Unit("CA", "can", _P, None),
)
"""Canonical units by Rec 20 common code."""

# Every fixed ratio between two units of one dimension, prepared once: the
# conversion hot path is then a single dictionary look-up.
_FIXED_RATIOS: Mapping[tuple[str, str], Fraction] = MappingProxyType(
    {
        (a.code, b.code): a.factor / b.factor
        for a in UNITS.values()
        for b in UNITS.values()
        if a.factor is not None and b.factor is not None and a.dimension is b.dimension
    }
)
_ONE = Fraction(1)


def canonical_unit(code: str) -> Unit:
    """The canonical unit for a Rec 20 code, or `UnknownUnitError`."""
    found = UNITS.get(code)
    if found is None:
        raise UnknownUnitError(code, REC20)
    return found


# --- resolving source spellings ---------------------------------------------


def _fold(text: str) -> str:
    # NFKC turns full-width letters and the CJK squared units (㎏, ㎡) into
    # plain ASCII, so "ＫＧ", "㎏", " kg " and "Kg" all meet at "KG".
    return unicodedata.normalize("NFKC", text).strip().upper()


class UnitResolver:
    """Resolves a source's unit spellings to canonical codes; build once per run.

    Vocabularies stack in order: the canonical codes (and their Rec 20
    aliases), then each named built-in vocabulary, then `extra` (the
    source's own table from config); a later entry overrides an earlier one
    for the same spelling, so a user's table always has the last word.
    """

    __slots__ = ("_exact", "_folded", "vocabulary")

    def __init__(
        self,
        vocabularies: str | Sequence[str] = (),
        extra: Mapping[str, str] | None = None,
    ) -> None:
        names = (
            (vocabularies,) if isinstance(vocabularies, str) else tuple(vocabularies)
        )
        unknown = [n for n in names if n not in BUILTIN_VOCABULARIES]
        if unknown:
            msg = (
                f"unknown unit vocabulary {unknown[0]!r}: "
                f"built-in vocabularies are {sorted(BUILTIN_VOCABULARIES)}"
            )
            raise MappingConfigError(msg)
        layers: list[Mapping[str, str]] = [
            {code: code for code in UNITS},
            REC20_ALIASES,
            *(BUILTIN_VOCABULARIES[n] for n in names),
        ]
        if extra:
            for spelling, target in extra.items():
                if target not in UNITS:
                    msg = (
                        f"unit table entry {spelling!r} -> {target!r}: {target!r} is "
                        f"not a canonical unit code (known: {', '.join(UNITS)})"
                    )
                    raise MappingConfigError(msg)
            layers.append(extra)
        self.vocabulary = "+".join((*names, *(("config",) if extra else ()))) or REC20
        self._folded: dict[str, str] = {}
        self._exact: dict[str, str] = {}
        for layer in layers:
            for spelling, code in layer.items():
                self._folded[_fold(spelling)] = code
                for variant in (spelling, spelling.upper(), spelling.lower()):
                    self._exact[variant] = code

    def resolve(self, unit: str) -> str:
        """The canonical code for a source spelling, or `UnknownUnitError`."""
        code = self._exact.get(unit)
        if code is None:
            code = self._folded.get(_fold(unit))
            if code is None:
                raise UnknownUnitError(unit, self.vocabulary)
        return code


# --- conversion ---------------------------------------------------------------


def conversion_factor(
    from_unit: str, to_unit: str, material_units: MaterialUnits | None = None
) -> Fraction:
    """How many `to_unit` one `from_unit` makes, exactly.

    Units of one dimension convert by their fixed factors; anything else
    (packaging, or mass to pieces) only through the material's own table.
    """
    if from_unit == to_unit:
        return _ONE
    fixed = _FIXED_RATIOS.get((from_unit, to_unit))
    if fixed is not None:
        return fixed
    source, target = canonical_unit(from_unit), canonical_unit(to_unit)
    material = None if material_units is None else material_units.material
    detail = ""
    if material_units is not None:
        if material_units.problem:
            detail = (
                f"the material's unit conversions conflict: {material_units.problem}"
            )
        else:
            have = material_units.base_units_per(from_unit)
            want = material_units.base_units_per(to_unit)
            if have is not None and want is not None:
                return have / want
    raise IncompatibleUnitsError(
        from_unit,
        source.dimension,
        to_unit,
        target.dimension,
        material=material,
        detail=detail,
    )


def convert(
    quantity: Decimal,
    from_unit: str,
    to_unit: str,
    material_units: MaterialUnits | None = None,
) -> Fraction:
    """`quantity` in `from_unit` expressed exactly in `to_unit` (codes are canonical)."""
    if not isinstance(quantity, Decimal) or not quantity.is_finite():
        msg = f"quantity must be a finite Decimal, got {quantity!r}"
        raise TypeError(msg)
    return Fraction(quantity) * conversion_factor(from_unit, to_unit, material_units)


# --- rounding at the edge -----------------------------------------------------

# Quantizing in a context this wide never rounds by precision, so the rounding
# mode passed to each call is the only rounding that happens. Its flags are
# never read; sharing it saves building a context per row.
_WIDE = Context(prec=MAX_PREC)
_QUANTA = tuple(Decimal(f"1E-{places}") for places in range(19))


def _quantum(places: int) -> Decimal:
    return _QUANTA[places] if places < len(_QUANTA) else Decimal(f"1E-{places}")


def _split(value: Fraction, places: int) -> tuple[bool, int, int, int]:
    if places < 0:
        msg = f"places must be 0 or more, got {places}"
        raise ValueError(msg)
    negative = value < 0
    scaled, remainder = divmod(abs(value.numerator) * 10**places, value.denominator)
    return negative, scaled, remainder, value.denominator


def to_decimal(
    value: Fraction, places: int = STORE_PLACES, rounding: str = ROUND_HALF_EVEN
) -> Decimal:
    """Round an exact quantity once, to `places` decimals (the store keeps 6).

    The declared rule is banker's rounding (ROUND_HALF_EVEN) unless the caller
    names another `decimal` rounding mode. The result always carries exactly
    `places` decimals, so its text never switches to exponent notation for
    places up to 6, and a zero is never negative.
    """
    negative, scaled, remainder, denominator = _split(value, places)
    sign = "-" if negative else ""
    if not remainder:
        result = Decimal(f"{sign}{scaled}E-{places}")
    else:
        # Two more digits carry all a rounding mode looks at: the next digit
        # and whether anything non-zero follows it. Rounding from them is the
        # same as rounding the exact value, and nothing rounds twice.
        digit, rest = divmod(remainder * 10, denominator)
        coefficient = (scaled * 10 + digit) * 10 + (1 if rest else 0)
        exact = Decimal(f"{sign}{coefficient}E-{places + 2}")
        result = exact.quantize(_quantum(places), rounding=rounding, context=_WIDE)
    return result if result else result.copy_abs()


def to_decimal_strict(value: Fraction, places: int = STORE_PLACES) -> Decimal:
    """Like `to_decimal`, but `InexactQuantityError` if rounding would change it."""
    negative, scaled, remainder, _ = _split(value, places)
    if remainder:
        raise InexactQuantityError(value, places)
    return Decimal(f"{'-' if negative else ''}{scaled}E-{places}")


def convert_to_decimal(
    quantity: Decimal,
    from_unit: str,
    to_unit: str,
    material_units: MaterialUnits | None = None,
    *,
    places: int = STORE_PLACES,
    rounding: str = ROUND_HALF_EVEN,
    strict: bool = False,
) -> Decimal:
    """`convert` then round once: the mapper's hot path.

    A quantity already in the target unit skips the rational detour, which
    is most rows of most syncs.
    """
    if places < 0:
        msg = f"places must be 0 or more, got {places}"
        raise ValueError(msg)
    if from_unit == to_unit and isinstance(quantity, Decimal) and quantity.is_finite():
        rounded = quantity.quantize(_quantum(places), rounding=rounding, context=_WIDE)
        if strict and rounded != quantity:
            raise InexactQuantityError(Fraction(quantity), places)
        return rounded if rounded else rounded.copy_abs()
    exact = convert(quantity, from_unit, to_unit, material_units)
    if strict:
        return to_decimal_strict(exact, places)
    return to_decimal(exact, places, rounding)
