"""`/metrics` for Prometheus: read from the store at scrape time.

The store is the truth shared by every worker, so the figures are the same
whichever process is scraped, and survive restarts; a registry per app
keeps test apps apart.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from stockbridge.store.schema import conflicts
from stockbridge.store.web_queries import outbox_depth, run_totals, stream_health

__all__ = ["StoreCollector", "metrics_registry"]


class StoreCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        labels = ["source", "stream"]
        records = {
            name: CounterMetricFamily(
                f"stockbridge_records_{name}",
                f"Records {name} by finished sync runs.",
                labels=labels,
            )
            for name in ("pulled", "loaded", "rejected")
        }
        durations = SummaryMetricFamily(
            "stockbridge_run_duration_seconds",
            "Duration of finished sync runs.",
            labels=labels,
        )
        for row in run_totals(self.engine):
            key = [row["source"], row["stream"]]
            for name, family in records.items():
                family.add_metric(key, float(row[name] or 0))
            durations.add_metric(key, count_value=row["runs"], sum_value=row["seconds"])
        yield from records.values()
        yield durations
        success = GaugeMetricFamily(
            "stockbridge_last_success_timestamp_seconds",
            "When each stream last synced successfully (Unix time).",
            labels=labels,
        )
        for row in stream_health(self.engine):
            if row["last_success_at"] is not None:
                success.add_metric(
                    [row["source"], row["stream"]], row["last_success_at"].timestamp()
                )
        yield success
        with self.engine.connect() as conn:
            open_count = conn.execute(
                select(func.count())
                .select_from(conflicts)
                .where(conflicts.c.resolved_at.is_(None))
            ).scalar_one()
        yield GaugeMetricFamily(
            "stockbridge_open_conflicts",
            "Keys where the systems disagree.",
            value=open_count,
        )
        yield GaugeMetricFamily(
            "stockbridge_alert_outbox_depth",
            "Alert messages queued, not yet delivered.",
            value=outbox_depth(self.engine),
        )


def metrics_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(engine))
    return registry
