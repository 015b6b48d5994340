from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select

from stockbridge.store.database import open_store
from stockbridge.store.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    begin_write,
    create_store_engine,
)
from stockbridge.store.errors import UnsupportedStoreError
from stockbridge.store.schema import leases

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "nested" / "dir" / "store.db"
    engine = open_store(f"sqlite:///{path}")
    yield engine, path
    engine.dispose()


def test_sqlite_connections_run_in_wal_with_foreign_keys_and_a_busy_timeout(
    sqlite_store: tuple[Engine, Path],
) -> None:
    engine, path = sqlite_store
    with engine.connect() as first, engine.connect() as second:
        for connection in (first, second):
            settings = [
                connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                for name in (
                    "journal_mode",
                    "foreign_keys",
                    "busy_timeout",
                    "synchronous",
                )
            ]
            assert settings == ["wal", 1, SQLITE_BUSY_TIMEOUT_MS, 1]  # 1 = NORMAL
    # WAL is a property of the file, not only of our connections.
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()


def test_a_reader_is_not_blocked_by_an_open_write(
    sqlite_store: tuple[Engine, Path],
) -> None:
    engine, _ = sqlite_store
    with engine.connect() as writer, engine.connect() as reader:
        with begin_write(writer):
            writer.execute(
                leases.insert().values(
                    name="sync:sap:movements",
                    holder="host-1",
                    acquired_at=T0,
                    expires_at=T0,
                )
            )
            # The reader sees the last committed state, at once.
            assert reader.execute(select(leases.c.name)).all() == []
            reader.rollback()
        assert reader.execute(select(leases.c.name)).scalars().all() == [
            "sync:sap:movements"
        ]


def test_begin_write_holds_the_write_lock_before_writing(
    sqlite_store: tuple[Engine, Path],
) -> None:
    engine, path = sqlite_store
    with engine.connect() as connection, begin_write(connection):
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
    # After the transaction ended, a normal transaction begins DEFERRED again.
    with engine.connect() as connection, connection.begin():
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()


@pytest.mark.parametrize(
    "url",
    [
        "mysql+pymysql://app:hunter2-pw@db/stock",
        "postgresql+psycopg2://app:hunter2-pw@db/stock",
        "mssql+pyodbc://app:hunter2-pw@dsn",
    ],
)
def test_unsupported_stores_are_named_without_their_password(url: str) -> None:
    with pytest.raises(UnsupportedStoreError) as raised:
        create_store_engine(url)
    message = str(raised.value)
    assert "hunter2-pw" not in message
    assert "postgresql+psycopg://" in message


def test_a_postgres_connection_killed_in_the_pool_is_replaced(
    postgres_url: str,
) -> None:
    engine = create_store_engine(postgres_url)
    killer = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with killer.connect() as connection:
            connection.execute(select(func.pg_terminate_backend(pid)))
        with engine.connect() as connection:
            new_pid = connection.exec_driver_sql("SELECT pg_backend_pid()")
            assert new_pid.scalar_one() != pid
    finally:
        killer.dispose()
        engine.dispose()
