"""Source records to canonical records: crosswalk codes, resolve status, convert units.

One `RecordMapper` per source and run, built from prepared look-ups, so
mapping a record is a handful of dictionary hits. A record that cannot be
mapped raises a `MappingError` whose text is the reason its reject carries.

Every quantity lands in one unit per dimension (KGM, MTR, LTR, MTK, H87), so
the same material from two systems is compared in the same unit whatever
each system calls its base unit. Packaging units (箱, 盒) convert only
through the material's own factor.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from stockbridge.mapping.codes import SourceCrosswalks
from stockbridge.mapping.errors import IncompatibleUnitsError
from stockbridge.mapping.material_units import (
    MaterialUnits,
    UnitConversion,
    conversion_from_record,
)
from stockbridge.mapping.model import (
    Location,
    LocationRecord,
    Material,
    MaterialRecord,
    Movement,
    MovementRecord,
    StockLine,
    StockRecord,
    UnitRecord,
)
from stockbridge.mapping.units import (
    UNITS,
    Dimension,
    UnitResolver,
    convert_to_decimal,
)

__all__ = ["DIMENSION_UNITS", "RecordMapper"]

DIMENSION_UNITS: Mapping[Dimension, str] = {
    Dimension.MASS: "KGM",
    Dimension.LENGTH: "MTR",
    Dimension.VOLUME: "LTR",
    Dimension.AREA: "MTK",
    Dimension.COUNT: "H87",
}
"""The unit every quantity of a dimension is stored in."""


class RecordMapper:
    """Maps one source's records; build once per run."""

    def __init__(
        self,
        source: str,
        *,
        crosswalks: SourceCrosswalks,
        units: UnitResolver,
        material_units: Mapping[str, MaterialUnits] | None = None,
    ) -> None:
        self.source = source
        self._xw = crosswalks
        self._units = units
        self._material_units = material_units or {}
        self._targets: dict[tuple[str, str], str] = {}

    def stock(self, record: StockRecord) -> StockLine:
        """The canonical stock line, or a `MappingError` saying why not."""
        xw = self._xw
        material = xw.material.translate(record.material)
        unit = self._units.resolve(record.unit)
        target = self._target_unit(material, unit)
        table = self._material_units.get(material)
        return StockLine(
            source=self.source,
            material=material,
            site=xw.site.translate(record.site),
            warehouse=xw.warehouse.translate(record.warehouse),
            location=xw.location.translate(record.location),
            batch=xw.batch.translate(record.batch),
            status=xw.status.resolve(record.status),
            quantity=convert_to_decimal(record.quantity, unit, target, table),
            unit=target,
            as_of=record.as_of,
            reserved=(
                convert_to_decimal(record.reserved, unit, target, table)
                if record.reserved
                else Decimal(0)
            ),
            special_stock=record.special_stock,
        )

    def movement(self, record: MovementRecord) -> Movement:
        """The canonical movement, or a `MappingError` saying why not."""
        xw = self._xw
        material = xw.material.translate(record.material)
        unit = self._units.resolve(record.unit)
        target = self._target_unit(material, unit)
        return Movement(
            source=self.source,
            document=record.document,
            line=record.line,
            year=record.year,
            kind=record.kind,
            material=material,
            site=xw.site.translate(record.site),
            warehouse=xw.warehouse.translate(record.warehouse),
            location=xw.location.translate(record.location),
            batch=xw.batch.translate(record.batch),
            status=xw.status.resolve(record.status),
            quantity=convert_to_decimal(
                record.quantity, unit, target, self._material_units.get(material)
            ),
            unit=target,
            original_quantity=record.quantity,
            original_unit=record.unit,
            posted_at=record.posted_at,
            reverses=record.reverses,
            order_ref=record.order_ref,
            entered_at=record.entered_at,
        )

    def material(self, record: MaterialRecord) -> Material:
        """Canonical material master data."""
        return Material(
            material=self._xw.material.translate(record.material),
            name=record.name,
            base_unit=self._units.resolve(record.base_unit),
            batch_managed=record.batch_managed,
            safety_stock=record.safety_stock,
        )

    def location(self, record: LocationRecord) -> Location:
        """Canonical warehouse/location master data."""
        xw = self._xw
        return Location(
            site=xw.site.translate(record.site),
            warehouse=xw.warehouse.translate(record.warehouse),
            location=xw.location.translate(record.location),
            name=record.name,
            line_side=record.line_side,
        )

    def unit_conversion(self, record: UnitRecord) -> UnitConversion:
        """A material-specific unit factor in canonical codes."""
        return conversion_from_record(
            record, self._units, self._xw.material.translate(record.material)
        )

    def _target_unit(self, material: str, unit: str) -> str:
        """The unit this material's quantities are stored in."""
        key = (material, unit)
        target = self._targets.get(key)
        if target is None:
            table = self._material_units.get(material)
            base = table.base_unit if table is not None else unit
            target = DIMENSION_UNITS.get(UNITS[base].dimension, base)
            if target == unit == base and UNITS[unit].dimension is Dimension.PACKAGING:
                raise IncompatibleUnitsError(
                    unit,
                    Dimension.PACKAGING,
                    "a base unit",
                    Dimension.PACKAGING,
                    material=material,
                    detail=(
                        "no base unit is known for this material: add its master "
                        "data or a conversion under mapping in the config"
                    ),
                )
            self._targets[key] = target
        return target
