"""Reading the consolidated stock table with the planners' filters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, or_, select

from stockbridge.store.schema import consolidated_stock, materials
from stockbridge.store.types import quantity_from_micro

__all__ = ["StockFilter", "as_contract", "iter_consolidated"]


@dataclass(frozen=True, slots=True)
class StockFilter:
    material: str | None = None
    name: str | None = None
    site: str | None = None
    warehouse: str | None = None
    status: str | None = None
    conflicts_only: bool = False
    below_safety_only: bool = False


def iter_consolidated(engine: Engine, where: StockFilter) -> Iterator[dict[str, Any]]:
    """Consolidated rows in key order; `sources` decoded to exact decimals."""
    cs = consolidated_stock
    query = select(cs).order_by(
        cs.c.material, cs.c.site, cs.c.warehouse, cs.c.location, cs.c.batch, cs.c.status
    )
    if where.material:
        query = query.where(cs.c.material == where.material)
    if where.name:
        named = select(materials.c.material).where(
            or_(
                materials.c.name.contains(where.name),
                materials.c.material.contains(where.name),
            )
        )
        query = query.where(
            or_(cs.c.material.in_(named), cs.c.material.contains(where.name))
        )
    if where.site:
        query = query.where(cs.c.site == where.site)
    if where.warehouse:
        query = query.where(cs.c.warehouse == where.warehouse)
    if where.status:
        query = query.where(cs.c.status == where.status)
    if where.conflicts_only:
        query = query.where(cs.c.conflict.is_(True))
    if where.below_safety_only:
        query = query.where(
            cs.c.safety_stock.is_not(None), cs.c.available < cs.c.safety_stock
        )
    with engine.connect() as conn:
        for row in conn.execution_options(stream_results=True, yield_per=5000).execute(
            query
        ):
            record = dict(row._mapping)
            record["sources"] = {
                source: quantity_from_micro(int(micro))
                for source, micro in json.loads(record.pop("source_values")).items()
            }
            yield record


def as_contract(record: dict[str, Any]) -> dict[str, Any]:
    """The JSON contract of `stockbridge stock --format json`: decimals as strings."""
    return {
        "material": record["material"],
        "site": record["site"],
        "warehouse": record["warehouse"],
        "location": record["location"],
        "batch": record["batch"],
        "status": record["status"],
        "quantity": str(record["quantity"]),
        "unit": record["unit"],
        "sources": {k: str(v) for k, v in record["sources"].items()},
        "conflict": bool(record["conflict"]),
        "as_of": record["as_of"].isoformat().replace("+00:00", "Z"),
        "available": str(record["available"]),
        "reserved": str(record["reserved"]),
        "safety_stock": ""
        if record["safety_stock"] is None
        else str(record["safety_stock"]),
        "chosen_source": record["chosen_source"] or "",
        "rule": record["rule"],
        "single_source": bool(record["single_source"]),
    }
