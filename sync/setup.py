"""Building what one run needs: the connector and the record mapper.

Both are built once per run from the config and, for the mapper, from the
master data already in the store (material base units and unit factors),
so mapping a record later is only dictionary look-ups.
"""

from __future__ import annotations

from fractions import Fraction

from sqlalchemy import Engine, select

from stockbridge.config.mapping_section import CodeMapping, SourceMapping
from stockbridge.config.models import Settings
from stockbridge.connectors.base import Connector
from stockbridge.connectors.registry import connector_class
from stockbridge.mapping.codes import (
    CodeDimension,
    CodeRule,
    CrosswalkSpec,
    RuleKind,
    SourceCrosswalks,
)
from stockbridge.mapping.mapper import RecordMapper
from stockbridge.mapping.material_units import UnitConversion, build_material_units
from stockbridge.mapping.units import UnitResolver
from stockbridge.store.schema import materials, unit_conversions

__all__ = ["build_connector", "build_mapper"]


def build_connector(settings: Settings, source: str) -> Connector:
    """The configured connector of `source`, its settings validated."""
    cls = connector_class(settings.sources[source].kind)
    connector_settings = settings.source_settings(source, cls.settings_model)
    return cls(source, connector_settings, timezone=settings.timezone)


def _spec(mapping: CodeMapping) -> CrosswalkSpec:
    return CrosswalkSpec(
        rules=tuple(
            CodeRule(RuleKind(rule.name), rule.argument) for rule in mapping.rules
        ),
        table=None if mapping.table is None else dict(mapping.table.entries),
    )


def build_mapper(
    engine: Engine, settings: Settings, source: str, connector: Connector
) -> RecordMapper:
    """The mapper of `source`: its crosswalks, units and material factors."""
    config = settings.mapping.get(source) or SourceMapping()
    specs = {
        CodeDimension.MATERIAL: _spec(config.material),
        CodeDimension.SITE: _spec(config.site),
        CodeDimension.WAREHOUSE: _spec(config.warehouse),
        CodeDimension.LOCATION: _spec(config.location),
        CodeDimension.BATCH: _spec(config.batch),
        CodeDimension.STATUS: _spec(config.status),
    }
    units = UnitResolver(connector.unit_vocabularies, extra=dict(config.units))
    with engine.connect() as conn:
        base_units = {
            row.material: row.base_unit
            for row in conn.execute(
                select(materials.c.material, materials.c.base_unit).where(
                    materials.c.source == source
                )
            )
        }
        facts = [
            UnitConversion(
                row.material,
                row.unit,
                row.base_unit,
                Fraction(row.numerator, row.denominator),
            )
            for row in conn.execute(
                select(unit_conversions).where(
                    unit_conversions.c.source == source,
                    unit_conversions.c.material != "",
                )
            )
        ]
    for conversion in config.conversions:
        base = base_units.get(conversion.material)
        unit = units.resolve(conversion.unit)
        if base is None:
            continue
        facts.append(
            UnitConversion(conversion.material, unit, base, Fraction(conversion.factor))
        )
    return RecordMapper(
        source,
        crosswalks=SourceCrosswalks.build(source, specs),
        units=units,
        material_units=build_material_units(facts, base_units),
    )
