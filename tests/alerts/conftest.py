"""Alert fixtures: a store per back-end, a fake clock, chat-tool receivers, seeding."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine, insert

from stockbridge.config import Settings, load_config
from stockbridge.store.database import open_store
from stockbridge.store.engine import create_store_engine
from stockbridge.store.migrate import upgrade
from stockbridge.store.schema import (
    conflicts,
    consolidated_stock,
    movements,
    rejects,
    sources,
    sync_runs,
)
from stockbridge.store.types import quantity_to_micro


def _load_receivers() -> ModuleType:
    name = "stockbridge_tests_alert_receivers"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).with_name("receivers.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def receivers() -> ModuleType:
    """The receivers module (tests/alerts/receivers.py)."""
    return _load_receivers()


@pytest.fixture
def clock(receivers: ModuleType):
    return receivers.FakeClock()


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    store = open_store(sqlite_url)
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated store on each back-end."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("fresh_postgres_url")
        migrator = create_store_engine(url)
        upgrade(migrator)
        migrator.dispose()
    store = open_store(url)
    yield store
    store.dispose()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings from YAML text (dedented), `${VAR}` taken from `env`."""

    def make(text: str, env: dict[str, str] | None = None) -> Settings:
        path = tmp_path / "stockbridge.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return load_config(path, environ=env or {})

    return make


class Seed:
    """Rows as sync and consolidation would leave them."""

    def __init__(self, engine: Engine, now: datetime) -> None:
        self.engine = engine
        self.now = now
        self._run_ids = 0

    def source(self, name: str, kind: str = "sap_odata") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(sources).values(name=name, kind=kind, first_seen_at=self.now)
            )

    def stock(
        self,
        material: str,
        quantity: str,
        *,
        site: str = "1000",
        warehouse: str = "0001",
        status: str = "unrestricted",
        safety: str | None = None,
        batch: str = "",
        unit: str = "H87",
        consumption: str | None = None,
        cover: str | None = None,
    ) -> None:
        """A consolidated row; `consumption`/`cover`: its site's planner figures."""
        q = Decimal(quantity)
        with self.engine.begin() as conn:
            conn.execute(
                insert(consolidated_stock).values(
                    material=material,
                    site=site,
                    warehouse=warehouse,
                    location="",
                    batch=batch,
                    status=status,
                    quantity=q,
                    unit=unit,
                    reserved=Decimal(0),
                    available=q if status == "unrestricted" else Decimal(0),
                    safety_stock=None if safety is None else Decimal(safety),
                    consumption_per_day=None
                    if consumption is None
                    else Decimal(consumption),
                    days_of_cover=None if cover is None else Decimal(cover),
                    source_values=json.dumps({"sap": quantity_to_micro(q)}),
                    as_of=self.now,
                    updated_at=self.now,
                )
            )

    def clear_stock(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(consolidated_stock.delete())

    def movement(
        self,
        material: str,
        quantity: str,
        *,
        posted_at: datetime,
        kind: str = "issue",
        site: str = "1000",
        document: str = "",
    ) -> None:
        self._run_ids += 1
        with self.engine.begin() as conn:
            conn.execute(
                insert(movements).values(
                    source="sap",
                    document=document or f"49{self._run_ids:08d}",
                    line="1",
                    year="",
                    kind=kind,
                    material=material,
                    site=site,
                    warehouse="0001",
                    status="unrestricted",
                    quantity=Decimal(quantity),
                    unit="H87",
                    original_quantity=Decimal(quantity),
                    original_unit="H87",
                    posted_at=posted_at,
                    loaded_at=posted_at,
                )
            )

    def run(
        self,
        source: str,
        stream: str,
        status: str,
        *,
        at: datetime,
        error: str | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    insert(sync_runs)
                    .values(
                        source=source,
                        stream=stream,
                        status=status,
                        started_at=at - timedelta(minutes=1),
                        finished_at=None if status == "running" else at,
                        error=error,
                    )
                    .returning(sync_runs.c.id)
                ).scalar_one()
            )

    def reject(
        self, run_id: int, source: str = "sap", stream: str = "movements"
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(rejects).values(
                    run_id=run_id,
                    source=source,
                    stream=stream,
                    raw="{}",
                    reason="unmapped material",
                    created_at=self.now,
                )
            )

    def conflict(
        self, material: str, difference: str, *, since: datetime, values: dict[str, str]
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(conflicts).values(
                    material=material,
                    site="1000",
                    warehouse="0001",
                    location="",
                    batch="",
                    status="unrestricted",
                    source_values=json.dumps(
                        {k: quantity_to_micro(Decimal(v)) for k, v in values.items()}
                    ),
                    difference=Decimal(difference),
                    first_seen_at=since,
                    last_seen_at=since,
                )
            )

    def close_conflicts(self, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(conflicts.update().values(resolved_at=at))


@pytest.fixture
def seed(engine: Engine, clock) -> Seed:
    return Seed(engine, clock())


@pytest.fixture
def any_seed(any_engine: Engine, clock) -> Seed:
    return Seed(any_engine, clock())
