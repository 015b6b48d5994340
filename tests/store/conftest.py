"""Store fixtures: one contract, run on SQLite and on PostgreSQL.

`empty_store_url` is a fresh, empty database of each back-end for tests that
migrate; `store` is a migrated store per back-end shared by a module, whose
tests each work inside a transaction that is rolled back (`conn`), or open
and roll back their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine

from stockbridge.store.database import open_store
from stockbridge.store.engine import create_store_engine
from stockbridge.store.migrate import upgrade
from stockbridge.store.schema import sources

BACKENDS = ["sqlite", "postgresql"]
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def empty_store_url(request: pytest.FixtureRequest) -> str:
    """A fresh database with nothing in it, on each back-end."""
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture(scope="module", params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated store of each back-end, shared by the tests of a module."""
    if request.param == "sqlite":
        engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('store')}/store.db")
        yield engine
        engine.dispose()
    else:
        server = request.getfixturevalue("postgres_server")
        with server.database("sbstore") as url:
            migrator = create_store_engine(url)
            upgrade(migrator)
            migrator.dispose()
            engine = open_store(url)
            yield engine
            engine.dispose()


@pytest.fixture
def conn(store: Engine) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back after the test."""
    with store.connect() as connection, connection.begin() as transaction:
        yield connection
        transaction.rollback()


@pytest.fixture
def source(conn: Connection) -> str:
    """A registered source (inside `conn`), as every sourced row needs one."""
    conn.execute(
        sources.insert().values(name="sap", kind="sap_odata", first_seen_at=T0)
    )
    return "sap"
