"""Material-specific units: 1 CT of this material = 24 H87.

Packaging units and cross-dimension conversions (mass to pieces) hold only
for one material. The facts come from master data (`UnitRecord`: SAP
QuantityNumerator/QuantityDenominator, K3 FCoefficient, U8 iChangRate) and
from config, and are built once per run into one `MaterialUnits` per
material for `stockbridge.mapping.units.convert`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

from stockbridge.mapping.model import UnitRecord
from stockbridge.mapping.units import UNITS, Dimension, UnitResolver, canonical_unit

__all__ = [
    "MaterialUnits",
    "UnitConversion",
    "build_material_units",
    "conversion_from_record",
]

_ONE = Fraction(1)


@dataclass(frozen=True, slots=True)
class UnitConversion:
    """One material-specific fact in canonical codes: 1 `unit` = `factor` `to_unit`."""

    material: str
    unit: str
    to_unit: str
    factor: Fraction

    def __post_init__(self) -> None:
        canonical_unit(self.unit)
        canonical_unit(self.to_unit)
        if not isinstance(self.factor, Fraction) or self.factor <= 0:
            msg = f"factor must be a positive Fraction, got {self.factor!r}"
            raise ValueError(msg)


def conversion_from_record(
    record: UnitRecord, resolver: UnitResolver, material: str | None = None
) -> UnitConversion:
    """A master-data `UnitRecord` in canonical codes.

    SAP's QuantityNumerator/QuantityDenominator arrive as the record's
    factor (numerator ÷ denominator). `material` replaces the record's code
    when the caller keys materials by their crosswalked code.
    """
    return UnitConversion(
        material=record.material if material is None else material,
        unit=resolver.resolve(record.unit),
        to_unit=resolver.resolve(record.base_unit),
        factor=record.factor,
    )


def _base_units_per(
    code: str,
    base_unit: str,
    factors: Mapping[str, Fraction],
    per_dimension: Mapping[Dimension, Fraction],
) -> Fraction | None:
    if code == base_unit:
        return _ONE
    explicit = factors.get(code)
    if explicit is not None:
        return explicit
    unit = UNITS.get(code)
    if unit is None or unit.factor is None:
        return None
    scale = per_dimension.get(unit.dimension)
    return None if scale is None else unit.factor * scale


@dataclass(frozen=True, slots=True)
class MaterialUnits:
    """One material's unit table; build it with `build_material_units`.

    `factors` says how many base units one unit holds (the shape of
    `Material.conversions`). `per_dimension` extends a factor to its whole
    dimension: knowing 1 KGM = 2 H87 also gives GRM. `problem` is set when the
    master data contradicts itself; the table is then not used, and every
    conversion that needs it is rejected with that reason.
    """

    material: str
    base_unit: str
    factors: Mapping[str, Fraction]
    per_dimension: Mapping[Dimension, Fraction]
    problem: str = ""

    def base_units_per(self, code: str) -> Fraction | None:
        """How many base units one `code` holds, or None if not related."""
        return _base_units_per(code, self.base_unit, self.factors, self.per_dimension)


class _MaterialUnitsBuilder:
    def __init__(self, material: str, base_unit: str) -> None:
        base = canonical_unit(base_unit)
        self.material = material
        self.base_unit = base_unit
        self.factors: dict[str, Fraction] = {}
        self.per_dimension: dict[Dimension, Fraction] = {}
        if base.factor is not None:
            self.per_dimension[base.dimension] = 1 / base.factor
        self.problems: list[str] = []

    def per(self, code: str) -> Fraction | None:
        return _base_units_per(code, self.base_unit, self.factors, self.per_dimension)

    def add(self, code: str, per_unit: Fraction, given: UnitConversion) -> None:
        known = self.per(code)
        if known is not None and known != per_unit:
            self.problems.append(
                f"1 {given.unit} = {given.factor} {given.to_unit} contradicts "
                f"1 {code} = {known} {self.base_unit} known already"
            )
            return
        self.factors[code] = per_unit
        unit = UNITS[code]
        if unit.factor is not None:
            self.per_dimension[unit.dimension] = per_unit / unit.factor

    def build(self, entries: Iterable[UnitConversion]) -> MaterialUnits:
        pending = list(entries)
        while pending:
            waiting = []
            for entry in pending:
                # Either side may be the known one: "1 CT = 24 H87" and
                # "1 BO = 0.5 LTR" on a BO-based material both say something.
                target = self.per(entry.to_unit)
                source = self.per(entry.unit)
                if target is not None:
                    self.add(entry.unit, entry.factor * target, entry)
                elif source is not None:
                    self.add(entry.to_unit, source / entry.factor, entry)
                else:
                    waiting.append(entry)
            if len(waiting) == len(pending):
                self.problems.extend(
                    f"1 {e.unit} = {e.factor} {e.to_unit}: neither unit can be "
                    f"related to the base unit {self.base_unit}"
                    for e in waiting
                )
                break
            pending = waiting
        return MaterialUnits(
            self.material,
            self.base_unit,
            MappingProxyType(self.factors),
            MappingProxyType(self.per_dimension),
            "; ".join(self.problems),
        )


def build_material_units(
    conversions: Iterable[UnitConversion],
    base_units: Mapping[str, str] | None = None,
) -> dict[str, MaterialUnits]:
    """Per-material unit tables from master data and config, built once per run.

    `base_units` gives each material's base unit (from material master data);
    a material without one takes the `to_unit` of its first conversion.
    Conversions may chain (1 CT = 10 PK, 1 PK = 6 H87) in any order.
    Contradictions do not raise here: they mark that material's table (see
    `MaterialUnits.problem`) so its records are rejected with the reason
    while every other material still maps.
    """
    base_units = base_units or {}
    grouped: dict[str, list[UnitConversion]] = {}
    for conversion in conversions:
        grouped.setdefault(conversion.material, []).append(conversion)
    tables: dict[str, MaterialUnits] = {}
    for material, base_unit in base_units.items():
        if material not in grouped:
            tables[material] = _MaterialUnitsBuilder(material, base_unit).build(())
    for material, entries in grouped.items():
        base_unit = base_units.get(material, entries[0].to_unit)
        tables[material] = _MaterialUnitsBuilder(material, base_unit).build(entries)
    return tables
