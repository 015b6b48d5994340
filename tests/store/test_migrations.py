"""Migrations build exactly the schema of `stockbridge.store.schema`, once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text

from stockbridge.store import migrations
from stockbridge.store.database import open_store
from stockbridge.store.engine import create_store_engine
from stockbridge.store.errors import SchemaOutOfDateError
from stockbridge.store.migrate import current_revision, head_revision, upgrade
from stockbridge.store.schema import metadata, sources

TABLES = {
    "sources",
    "sync_runs",
    "cursors",
    "stock_snapshots",
    "current_snapshots",
    "stock_lines",
    "stock_history",
    "movements",
    "rejects",
    "sink_state",
    "materials",
    "locations",
    "unit_conversions",
    "consolidated_stock",
    "conflicts",
    "alert_state",
    "alert_outbox",
    "alert_attempts",
    "audit_log",
    "leases",
    "api_tokens",
}


@pytest.fixture
def engine(empty_store_url: str) -> Iterator[Engine]:
    created = create_store_engine(empty_store_url)
    yield created
    created.dispose()


def test_the_head_revision_is_the_stock_paging_indexes_one() -> None:
    assert head_revision() == "0006"


def test_upgrade_from_empty_builds_the_declared_schema(engine: Engine) -> None:
    assert current_revision(engine) is None

    upgrade(engine)

    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) == TABLES | {
            "alembic_version"
        }
        assert set(metadata.tables) == TABLES
        # Alembic cannot compare SQLite's reflected defaults; PostgreSQL's it can.
        defaults = connection.dialect.name == "postgresql"
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": defaults},
        )
        assert compare_metadata(context, metadata) == []


def test_a_second_upgrade_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            sources.insert().values(
                name="u8", kind="u8_db", first_seen_at=datetime(2024, 1, 1, tzinfo=UTC)
            )
        )

    upgrade(engine)

    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.execute(select(sources.c.name)).scalars().all() == ["u8"]
        versions = connection.execute(text("SELECT version_num FROM alembic_version"))
        assert versions.scalars().all() == [head_revision()]


def test_concurrent_upgrades_run_one_after_the_other(empty_store_url: str) -> None:
    engines = [create_store_engine(empty_store_url) for _ in range(3)]
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            upgrade(engine)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()


def test_the_initial_revision_downgrades_to_nothing(engine: Engine) -> None:
    upgrade(engine)
    config = Config()
    config.set_main_option(
        "script_location", str(Path(migrations.__file__).resolve().parent)
    )
    config.set_main_option("path_separator", "os")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    assert current_revision(engine) is None


def test_an_embedded_sqlite_store_is_upgraded_when_opened(sqlite_url: str) -> None:
    engine = open_store(sqlite_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_a_postgres_store_is_upgraded_only_on_purpose(fresh_postgres_url: str) -> None:
    # trust auth ignores the password: it is here to show it never leaks.
    url = fresh_postgres_url.replace("postgres@", "postgres:s3cret-pw@")

    with pytest.raises(SchemaOutOfDateError) as raised:
        open_store(url)
    message = str(raised.value)
    assert "no stockbridge schema" in message
    assert "stockbridge db upgrade" in message
    assert "s3cret-pw" not in message

    engine = create_store_engine(url)
    try:
        assert current_revision(engine) is None  # opening changed nothing
        upgrade(engine)
    finally:
        engine.dispose()
    opened = open_store(url)
    opened.dispose()


def test_a_store_from_a_newer_stockbridge_is_refused(
    engine: Engine, empty_store_url: str
) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(SchemaOutOfDateError, match="does not know") as raised:
        open_store(empty_store_url)
    assert raised.value.current == "9999"
    assert "upgrade stockbridge" in str(raised.value)
    with pytest.raises(SchemaOutOfDateError, match="does not know"):
        upgrade(engine)


def test_foreign_keys_are_enforced_again_after_an_upgrade(sqlite_url: str) -> None:
    engine = create_store_engine(sqlite_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            pooled = connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one()
            tables = connection.execute(select(func.count()).select_from(sources))
            assert (pooled, tables.scalar_one()) == (1, 0)
    finally:
        engine.dispose()
