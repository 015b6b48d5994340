"""Reading the consolidated stock table with the planners' filters.

`name` matches the material code or any source's master-data name, case
aside, with `%` and `_` taken literally. `below_safety_only` keeps the rows of
each material and site whose available stock, summed over the site's rows,
is below the site's safety stock: the level safety stock is planned at, and
the one the below-safety-stock alert uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, or_, select, tuple_

from stockbridge.store.schema import consolidated_stock, materials, sources
from stockbridge.store.types import quantity_from_micro

__all__ = [
    "StockFilter",
    "as_contract",
    "days_of_cover",
    "iter_consolidated",
    "source_names",
    "stock_conditions",
]


@dataclass(frozen=True, slots=True)
class StockFilter:
    material: str | None = None
    name: str | None = None
    site: str | None = None
    warehouse: str | None = None
    status: str | None = None
    conflicts_only: bool = False
    below_safety_only: bool = False


def stock_conditions(where: StockFilter) -> list[ColumnElement[bool]]:
    """The filter as conditions on `consolidated_stock` (for listing or paging)."""
    cs = consolidated_stock
    found: list[ColumnElement[bool]] = []
    if where.material:
        found.append(cs.c.material == where.material)
    if where.name:
        named = select(materials.c.material).where(
            materials.c.name.icontains(where.name, autoescape=True)
        )
        found.append(
            or_(
                cs.c.material.in_(named),
                cs.c.material.icontains(where.name, autoescape=True),
            )
        )
    if where.site:
        found.append(cs.c.site == where.site)
    if where.warehouse:
        found.append(cs.c.warehouse == where.warehouse)
    if where.status:
        found.append(cs.c.status == where.status)
    if where.conflicts_only:
        found.append(cs.c.conflict.is_(True))
    if where.below_safety_only:
        site = consolidated_stock.alias("site_rows")
        short = (
            select(site.c.material, site.c.site)
            .group_by(site.c.material, site.c.site)
            .having(func.sum(site.c.available) < func.max(site.c.safety_stock))
        )
        found.append(tuple_(cs.c.material, cs.c.site).in_(short))
    return found


def iter_consolidated(engine: Engine, where: StockFilter) -> Iterator[dict[str, Any]]:
    """Consolidated rows in key order; `sources` decoded to exact decimals."""
    cs = consolidated_stock
    query = (
        select(cs)
        .where(*stock_conditions(where))
        .order_by(
            cs.c.material,
            cs.c.site,
            cs.c.warehouse,
            cs.c.location,
            cs.c.batch,
            cs.c.status,
        )
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


def source_names(engine: Engine) -> list[str]:
    """Every source the store knows, sorted: a superset of any row's `sources`."""
    with engine.connect() as conn:
        return list(
            conn.execute(select(sources.c.name).order_by(sources.c.name)).scalars()
        )


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
        "consumption_per_day": _text(record["consumption_per_day"]),
        "days_of_cover": _text(days_of_cover(record)),
        "stockout_date": _text(record["stockout_at"]),
    }


def days_of_cover(record: dict[str, Any]) -> Decimal | None:
    """The row's days of cover with its one decimal place (5.0, not 5)."""
    cover: Decimal | None = record["days_of_cover"]
    return None if cover is None else cover.quantize(Decimal("0.1"))


def _text(value: Decimal | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)
