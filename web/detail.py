"""One key's drill-down: each source's figure and freshness, the conflict, `explain`.

Shared by the JSON API and the page, so both say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from stockbridge.mapping.model import StockStatus
from stockbridge.store.explain_queries import KeyFilter
from stockbridge.store.stock_queries import StockFilter
from stockbridge.store.web_queries import stock_page, stream_health
from stockbridge.sync.explain import KeyReport, explain
from stockbridge.web.context import WebContext
from stockbridge.web.freshness import Freshness, freshness_by_source

__all__ = ["KeyDetail", "KeyQuery", "key_detail"]

EXPLAIN_DAYS = 30


@dataclass(frozen=True, slots=True)
class KeyQuery:
    material: str
    site: str
    warehouse: str
    location: str = ""
    batch: str = ""
    status: StockStatus = StockStatus.UNRESTRICTED


@dataclass(frozen=True, slots=True)
class KeyDetail:
    row: dict[str, Any] | None
    report: KeyReport | None
    freshness: dict[str, Freshness]


def key_detail(
    web: WebContext, key: KeyQuery, *, days: int = EXPLAIN_DAYS
) -> KeyDetail:
    """The published row, the explain report and freshness for exactly this key."""
    now = web.clock()
    page = stock_page(
        web.engine,
        StockFilter(
            material=key.material,
            site=key.site,
            warehouse=key.warehouse,
            status=key.status.value,
        ),
        limit=1000,
    )
    row = next(
        (
            r
            for r in page.rows
            if (r["location"], r["batch"]) == (key.location, key.batch)
        ),
        None,
    )
    wanted = KeyFilter(
        material=key.material,
        site=key.site,
        warehouse=key.warehouse,
        location=key.location,
        batch=key.batch,
        status=key.status.value,
    )
    reports = explain(web.engine, wanted, since=now - timedelta(days=days), until=now)
    report = reports[0] if reports else None
    freshness = freshness_by_source(web.settings, stream_health(web.engine), now=now)
    return KeyDetail(row=row, report=report, freshness=freshness)
