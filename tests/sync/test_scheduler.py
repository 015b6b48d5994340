"""The scheduled service: which jobs it makes, and when it backs off."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from stockbridge.config.models import Settings
from stockbridge.store.database import open_store
from stockbridge.store.schema import sources, sync_runs
from stockbridge.sync.scheduler import BackoffPolicy, SyncService, backoff_until

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    store = open_store(sqlite_url)
    yield store
    store.dispose()


def record_runs(engine: Engine, statuses: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(sources).values(name="erp", kind="file", first_seen_at=T0))
        for n, status in enumerate(statuses):
            at = T0 + timedelta(minutes=n)
            conn.execute(
                insert(sync_runs).values(
                    source="erp",
                    stream="movements",
                    status=status,
                    started_at=at,
                    finished_at=at,
                    error=None if status == "succeeded" else "boom",
                )
            )


def test_no_backoff_until_the_failures_in_a_row_reach_the_threshold(
    engine: Engine,
) -> None:
    record_runs(engine, ["failed", "failed", "succeeded", "failed", "failed"])
    assert backoff_until(engine, "erp", "movements", BackoffPolicy(after=3)) is None


def test_backoff_doubles_with_each_further_failure_up_to_the_cap(
    engine: Engine,
) -> None:
    record_runs(engine, ["succeeded", *["failed"] * 5])
    policy = BackoffPolicy(after=3, base=timedelta(minutes=1), cap=timedelta(minutes=3))
    last = T0 + timedelta(minutes=5)
    assert backoff_until(engine, "erp", "movements", policy) == last + timedelta(
        minutes=3
    )
    policy = BackoffPolicy(after=3, base=timedelta(minutes=1), cap=timedelta(hours=1))
    assert backoff_until(engine, "erp", "movements", policy) == last + timedelta(
        minutes=4
    )


def test_jobs_follow_the_streams_each_source_offers(
    engine: Engine, tmp_path: Path
) -> None:
    settings = Settings.model_validate(
        {
            "timezone": "UTC",
            "sources": {
                "drops": {
                    "kind": "file",
                    "path": str(tmp_path),
                    "stream": "movements",
                    "schedule": {"default": "5m", "movements": "cron: */10 * * * *"},
                    "columns": {
                        "document": "单据号",
                        "line": "行号",
                        "material": "物料编码",
                        "site": "工厂",
                        "warehouse": "仓库",
                        "quantity": "数量",
                        "unit": "单位",
                        "posted_at": "日期",
                    },
                    "default_kind": "receipt",
                },
                "off": {
                    "kind": "file",
                    "path": str(tmp_path),
                    "stream": "stock",
                    "enabled": False,
                    "columns": {
                        "material": "物料编码",
                        "site": "工厂",
                        "warehouse": "仓库",
                        "quantity": "数量",
                        "unit": "单位",
                    },
                },
            },
        }
    )
    service = SyncService(engine, settings)
    assert service.jobs() == ["drops:movements"]
    (job,) = service.scheduler.get_jobs()
    assert "cron" in str(job.trigger)
