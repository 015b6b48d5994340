"""Engines for the central store, set up per back-end.

SQLite (the embedded default) runs in WAL mode so readers never block the
writer, with foreign keys enforced, a busy timeout so concurrent runs wait
for the write lock instead of failing, and synchronous=NORMAL (durable at
each checkpoint, safe against corruption; the last transactions may roll
back after a power cut, which a resumable sync tolerates). SQLAlchemy, not
the sqlite3 module, emits BEGIN, so that reads are inside the transaction
too (the module's legacy mode starts transactions only at the first write).

PostgreSQL runs through psycopg 3 with pre-ping, so a pooled connection
killed by a server restart is replaced instead of failing a run.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import Connection, Engine, RootTransaction, create_engine, event
from sqlalchemy.engine import URL, make_url

from stockbridge.store.errors import UnsupportedStoreError

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "begin_write",
    "create_store_engine",
    "safe_url",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite connection waits for the write lock before failing."""

_BEGIN_MODE_OPTION = "stockbridge_sqlite_begin"


def safe_url(url: str | URL) -> str:
    """The URL as it may appear in messages and logs: password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def create_store_engine(url: str | URL) -> Engine:
    """An engine for the store at `url`, without touching its schema.

    Raises:
        UnsupportedStoreError: the URL is not SQLite (pysqlite) or
            PostgreSQL (psycopg 3).
    """
    parsed = make_url(url)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if (backend, driver) == ("sqlite", "pysqlite"):
        return _create_sqlite_engine(parsed)
    if (backend, driver) == ("postgresql", "psycopg"):
        return create_engine(parsed, pool_pre_ping=True)
    msg = (
        f"unsupported store {safe_url(parsed)}: use sqlite:///path/to/file.db "
        "or postgresql+psycopg://user@host/database"
    )
    raise UnsupportedStoreError(msg)


def begin_write(conn: Connection) -> RootTransaction:
    """Begin a transaction on `conn` that holds the write lock from the start.

    On SQLite this is BEGIN IMMEDIATE: a transaction that reads and then
    writes (a lease, a pointer switch, a migration) would otherwise fail
    with SQLITE_BUSY when another writer committed in between, instead of
    waiting its turn. On PostgreSQL it is an ordinary transaction; row locks
    and advisory locks do that job there.
    """
    conn.execution_options(**{_BEGIN_MODE_OPTION: "IMMEDIATE"})
    try:
        return conn.begin()
    finally:
        conn.execution_options(**{_BEGIN_MODE_OPTION: "DEFERRED"})


def _create_sqlite_engine(url: URL) -> Engine:
    database = url.database
    if database and database != ":memory:" and not url.query.get("uri"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(
    dbapi_connection: sqlite3.Connection, _connection_record: object
) -> None:
    # isolation_level None: the sqlite3 module emits no BEGIN of its own;
    # `_on_sqlite_begin` does, for every transaction, reads included.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _enter_wal_mode(dbapi_connection)
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _enter_wal_mode(dbapi_connection: sqlite3.Connection) -> None:
    # WAL mode is stored in the file, so usually it is on already. Switching a
    # new file to it reports SQLITE_BUSY at once, without the busy handler,
    # when another connection is switching too: so retry, up to the timeout.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            (mode,) = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
            if mode != "wal":
                dbapi_connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


def _on_sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_BEGIN_MODE_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")
