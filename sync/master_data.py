"""Master data records to store rows, through the source's mapper."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stockbridge.mapping.errors import MappingError
from stockbridge.mapping.mapper import RecordMapper
from stockbridge.mapping.model import (
    LocationRecord,
    MaterialRecord,
    SourceRecord,
    UnitRecord,
)
from stockbridge.store.loading import MasterRows, RejectRow
from stockbridge.sync.quarantine import reject_row

__all__ = ["master_rows"]


def master_rows(
    records: Sequence[SourceRecord],
    *,
    mapper: RecordMapper,
    source: str,
    stream: str,
    run_id: int,
    now: datetime,
) -> tuple[MasterRows, list[RejectRow]]:
    """Store rows for the master data in `records`, and rejects for the rest."""
    materials: list[dict[str, Any]] = []
    locations: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    rejects: list[RejectRow] = []
    common = {"source": source, "updated_at": now, "run_id": run_id}
    for record in records:
        try:
            if isinstance(record, MaterialRecord):
                m = mapper.material(record)
                materials.append(
                    {
                        **common,
                        "material": m.material,
                        "name": m.name,
                        "base_unit": m.base_unit,
                        "batch_managed": m.batch_managed,
                        "safety_stock": m.safety_stock,
                    }
                )
            elif isinstance(record, LocationRecord):
                loc = mapper.location(record)
                locations.append(
                    {
                        **common,
                        "site": loc.site,
                        "warehouse": loc.warehouse,
                        "location": loc.location,
                        "name": loc.name,
                        "line_side": loc.line_side,
                    }
                )
            elif isinstance(record, UnitRecord):
                c = mapper.unit_conversion(record)
                units.append(
                    {
                        **common,
                        "material": c.material,
                        "unit": c.unit,
                        "base_unit": c.to_unit,
                        "numerator": c.factor.numerator,
                        "denominator": c.factor.denominator,
                    }
                )
            else:
                reason = f"a {type(record).__name__} in the {stream} stream"
                rejects.append(reject_row(record, reason, stream))
        except MappingError as error:
            rejects.append(reject_row(record, str(error), stream))
    return MasterRows(materials, locations, units), rejects
