"""One demo store for all web tests: the simulators synced once, tokens per role."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import yaml
from rich.console import Console
from sqlalchemy import Engine

from stockbridge.cli.sync_commands import run_sync
from stockbridge.config.loader import load_config
from stockbridge.config.models import Settings
from stockbridge.simulators.launcher import demo_sources, start_simulators
from stockbridge.store.database import open_store
from stockbridge.store.tokens import create_token
from stockbridge.sync.reconcile import reconcile
from stockbridge.web.server import start_in_thread


@dataclass
class DemoStore:
    engine: Engine
    settings: Settings
    tokens: dict[str, str]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStore]:
    directory: Path = tmp_path_factory.mktemp("web")
    sims = start_simulators(
        directory / "sims", names=("sap_odata", "u8", "mes_rest"), materials=12, days=10
    )
    with sims:
        sources = demo_sources(sims)
        config = {
            "store": f"sqlite:///{directory / 'store.db'}",
            "timezone": "Asia/Shanghai",
            "sources": sources,
            "reconcile": {
                "system_of_record": [{"source": "mes", "warehouse": ["LS01"]}],
                "priority": [n for n in ("sap", "u8", "mes") if n in sources],
                "tolerance": {"absolute": "0.001"},
            },
        }
        path = directory / "stockbridge.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        settings = load_config(path)
        engine = open_store(settings.store)
        run_sync(engine, settings, full=True, console=Console(file=io.StringIO()))
        reconcile(engine, settings)
        now = datetime.now(UTC)
        tokens = {
            role: create_token(engine, role=role, name=f"test {role}", now=now)[1]
            for role in ("viewer", "operator", "admin")
        }
        yield DemoStore(engine, settings, tokens)
        engine.dispose()


@pytest.fixture(scope="session")
def base_url(demo: DemoStore) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, for the whole session."""
    url, stop = start_in_thread(demo.engine, demo.settings, "127.0.0.1", 0)
    yield url
    stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def bearer(demo: DemoStore) -> Callable[[str], dict[str, str]]:
    """The Authorization header of the demo's token for a role."""
    return lambda role: {"Authorization": f"Bearer {demo.tokens[role]}"}
