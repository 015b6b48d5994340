"""The run engine against a scripted connector, on SQLite and PostgreSQL.

The end-to-end proofs (crash kills, simulators) live beside this file; here
each guarantee of a run is pinned down with pages whose content we choose.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine, func, select

from stockbridge.config.models import Settings
from stockbridge.connectors.base import (
    CheckResult,
    CheckState,
    Connector,
    ConnectorSettings,
    Page,
    Stream,
)
from stockbridge.connectors.errors import TransientError
from stockbridge.mapping.model import MovementKind, MovementRecord, StockRecord
from stockbridge.store.database import open_store
from stockbridge.store.engine import create_store_engine
from stockbridge.store.leases import LeaseHeldError, acquire_lease
from stockbridge.store.migrate import upgrade
from stockbridge.store.schema import (
    current_snapshots,
    cursors,
    movements,
    rejects,
    stock_lines,
    sync_runs,
)
from stockbridge.sync.runner import sync_stream

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def movement(doc: int, qty: str = "5", unit: str = "KG") -> MovementRecord:
    return MovementRecord(
        document=str(doc),
        line="1",
        year="2026",
        kind=MovementKind.RECEIPT,
        material="100001",
        site="1000",
        warehouse="RM01",
        location="",
        batch="",
        status="unrestricted",
        quantity=Decimal(qty),
        unit=unit,
        posted_at=T0 + timedelta(minutes=doc),
        raw={"doc": doc, "qty": qty},
    )


def stock(material: str, qty: str, unit: str = "KG") -> StockRecord:
    return StockRecord(
        material=material,
        site="1000",
        warehouse="RM01",
        location="",
        batch="",
        status="unrestricted",
        quantity=Decimal(qty),
        unit=unit,
        as_of=T0,
        raw={},
    )


class Scripted(Connector):
    """Serves the pages it is given; fails at page `fail_at` if set."""

    kind = "scripted"
    settings_model = ConnectorSettings
    streams: ClassVar[frozenset[Stream]] = frozenset({Stream.STOCK, Stream.MOVEMENTS})
    unit_vocabularies = ("sap",)

    def __init__(self, pages: list[Page], fail_at: int | None = None) -> None:
        super().__init__("erp", ConnectorSettings(), timezone="UTC")
        self.pages = pages
        self.fail_at = fail_at
        self.cursors_asked: list[str | None] = []

    def check(self) -> CheckResult:
        return CheckResult(CheckState.OK)

    def _serve(self) -> Iterator[Page]:
        for number, page in enumerate(self.pages):
            if number == self.fail_at:
                raise TransientError("connection reset by peer", source="erp")
            yield page

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        self.cursors_asked.append(cursor)
        start = int(cursor) if cursor else 0
        return self._serve_from(start)

    def _serve_from(self, start: int) -> Iterator[Page]:
        for page in self._serve():
            if page.cursor is None or int(page.cursor) > start:
                yield page

    def stock(self) -> Iterator[Page]:
        return self._serve()


def settings(**mapping: Any) -> Settings:
    return Settings.model_validate(
        {"sources": {"erp": {"kind": "scripted"}}, "mapping": mapping}
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    url: str = request.getfixturevalue(fixture)
    migrator = create_store_engine(url)
    upgrade(migrator)
    migrator.dispose()
    store = open_store(url)
    yield store
    store.dispose()


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


PAGES = [
    Page([movement(1), movement(2)], cursor="2"),
    Page([movement(3), movement(4, unit="FOO")], cursor="4"),
    Page([movement(5, qty="2500", unit="G")], cursor="5"),
]


def test_movements_commit_with_cursor_and_counts_balance(engine: Engine) -> None:
    run = sync_stream(
        engine, settings(), "erp", Stream.MOVEMENTS, connector=Scripted(PAGES)
    )
    assert (run.status, run.pulled, run.loaded, run.rejected) == ("succeeded", 5, 4, 1)
    assert run.cursor_after == "5"
    with engine.connect() as conn:
        qty = conn.execute(
            select(movements.c.quantity).where(movements.c.document == "5")
        ).scalar_one()
        reject = conn.execute(select(rejects.c.reason, rejects.c.raw)).one()
    assert qty == Decimal("2.5")
    assert "FOO" in reject.reason
    assert json.loads(reject.raw)["raw"] == {"doc": 4, "qty": "5"}


def test_replaying_the_same_pages_loads_nothing_twice(engine: Engine) -> None:
    for _ in range(2):
        sync_stream(
            engine,
            settings(),
            "erp",
            Stream.MOVEMENTS,
            connector=Scripted(PAGES),
            full=True,
        )
    assert count(engine, movements) == 4
    assert count(engine, rejects) == 1, "a reject read again replaces its open twin"


def test_a_failure_keeps_committed_pages_and_the_next_run_resumes(
    engine: Engine,
) -> None:
    failing = Scripted(PAGES, fail_at=1)
    run = sync_stream(engine, settings(), "erp", Stream.MOVEMENTS, connector=failing)
    assert run.status == "failed"
    assert "connection reset" in (run.error or "")
    assert (run.pulled, run.loaded, run.rejected) == (2, 2, 0)
    with engine.connect() as conn:
        assert conn.execute(select(cursors.c.cursor)).scalar_one() == "2"
    resumed = Scripted(PAGES)
    run = sync_stream(engine, settings(), "erp", Stream.MOVEMENTS, connector=resumed)
    assert resumed.cursors_asked == ["2"]
    assert (run.status, run.pulled) == ("succeeded", 3)
    assert count(engine, movements) == 4


def test_a_fixed_unit_mapping_loads_the_reject_on_re_read(engine: Engine) -> None:
    sync_stream(engine, settings(), "erp", Stream.MOVEMENTS, connector=Scripted(PAGES))
    fixed = settings(erp={"units": {"FOO": "KGM"}})
    sync_stream(
        engine, fixed, "erp", Stream.MOVEMENTS, connector=Scripted(PAGES), full=True
    )
    assert count(engine, movements) == 5
    with engine.connect() as conn:
        resolution = conn.execute(select(rejects.c.resolution)).scalar_one()
    assert resolution == "loaded"


def test_snapshot_switches_whole_and_a_failed_one_leaves_the_old(
    engine: Engine,
) -> None:
    first = [Page([stock("1", "10"), stock("2", "3")]), Page([stock("1", "5")])]
    run = sync_stream(
        engine, settings(), "erp", Stream.STOCK, connector=Scripted(first)
    )
    assert run.status == "succeeded"
    with engine.connect() as conn:
        current = conn.execute(select(current_snapshots.c.snapshot_id)).scalar_one()
        rows = dict(
            conn.execute(
                select(stock_lines.c.material, stock_lines.c.quantity).where(
                    stock_lines.c.snapshot_id == current
                )
            ).all()
        )
    assert rows == {"1": Decimal(15), "2": Decimal(3)}, "rows of one key add up"

    broken = [Page([stock("1", "99")]), Page([stock("2", "1")])]
    run = sync_stream(
        engine, settings(), "erp", Stream.STOCK, connector=Scripted(broken, fail_at=1)
    )
    assert run.status == "failed"
    with engine.connect() as conn:
        assert (
            conn.execute(select(current_snapshots.c.snapshot_id)).scalar_one()
            == current
        )


def test_a_held_lease_refuses_a_second_run(engine: Engine) -> None:
    acquire_lease(
        engine,
        "sync:erp:movements",
        holder="otherhost:1:x",
        ttl=timedelta(minutes=5),
        now=datetime.now(UTC),
    )
    with pytest.raises(LeaseHeldError, match="otherhost"):
        sync_stream(
            engine, settings(), "erp", Stream.MOVEMENTS, connector=Scripted(PAGES)
        )
    assert count(engine, sync_runs) == 0
