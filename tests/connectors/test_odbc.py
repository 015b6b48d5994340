"""The shared pyodbc layer through real drivers: SQLite ODBC (`SQLite3`) and psqlODBC.

Every test that talks to a database runs on both drivers. The tables are made
with the engines' own Python drivers, then read only through ODBC.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr, ValidationError

from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.odbc import (
    OdbcClient,
    OdbcSettings,
    connection_string_secrets,
    parse_connection_string,
)
from stockbridge.connectors.odbc_dialect import Dialect, dialect_of
from stockbridge.connectors.redaction import MASK, Redactor

ROWS = 25
NAMES = ["成品仓", "线边仓", "原材料仓", "O'Brien", "x' OR '1'='1"]
AT = datetime(2026, 3, 26, 8, 0, 0)  # noqa: DTZ001 - naive local, as ERPs store it


def rows_for_table() -> list[tuple[object, ...]]:
    return [
        (n, NAMES[n % len(NAMES)], f"{n}.1250000000", AT.replace(minute=n))
        for n in range(1, ROWS + 1)
    ]


class Database:
    """A table `items(id, name, qty, at)` on one engine, and how ODBC reaches it."""

    def __init__(self, engine: str, connection_string: str, pg: str | None) -> None:
        self.engine = engine
        self.connection_string = connection_string
        self.pg = pg  # libpq URL for the PostgreSQL side

    def client(self, sleeps: list[float] | None = None, **settings: Any) -> OdbcClient:
        values: dict[str, Any] = {
            "odbc": SecretStr(self.connection_string),
            "retry_attempts": 3,
            "retry_max_wait": 0.01,
            **settings,
        }
        return OdbcClient(
            "erp",
            OdbcSettings(**values),
            Redactor(),
            sleep=(sleeps if sleeps is not None else []).append,
        )


def sqlite_items(path: Path) -> Database:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "CREATE TABLE items (id bigint, name varchar(40), qty text, at datetime)"
        )
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?)",
            [(i, n, q, a.isoformat(" ")) for i, n, q, a in rows_for_table()],
        )
        conn.commit()
    return Database(
        "sqlite", f"DRIVER={{SQLite3}};Database={path};Timeout=10000;StepAPI=1", None
    )


@contextmanager
def postgres_items(pg: str) -> Iterator[Database]:
    schema = f"odbctest_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(
            f"CREATE TABLE {schema}.items (id bigint, name varchar(40),"
            " qty numeric(28,10), at timestamp(3))"
        )
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {schema}.items VALUES (%s, %s, %s, %s)",
                rows_for_table(),
            )
    connection_string = psqlodbc(
        pg,
        ConnSettings=f"SET search_path TO {schema}",
        UseDeclareFetch="1",
        Fetch="7",
    )
    try:
        yield Database("postgres", connection_string, pg)
    finally:
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def psqlodbc(pg: str, **parts: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(pg)
    values = {
        "Server": "127.0.0.1",
        "Port": str(info.get("port", 5432)),
        "Database": str(info["dbname"]),
        "UID": "postgres",
        **parts,
    }
    return "DRIVER={PostgreSQL Unicode};" + ";".join(
        f"{k}={v}" for k, v in values.items()
    )


@pytest.fixture
def pg(postgres_url: str) -> str:
    return postgres_url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        yield sqlite_items(tmp_path / "items.sqlite")
        return
    with postgres_items(request.getfixturevalue("pg")) as database:
        yield database


# --- pure parts ----------------------------------------------------------------


def test_connection_string_parsing_finds_braced_secrets() -> None:
    text = "DRIVER={ODBC Driver 18 for SQL Server};SERVER=db;UID=u;PWD={p;w}}d};Password=two2"
    assert parse_connection_string(text) == [
        ("DRIVER", "ODBC Driver 18 for SQL Server"),
        ("SERVER", "db"),
        ("UID", "u"),
        ("PWD", "p;w}d"),
        ("Password", "two2"),
    ]
    assert connection_string_secrets(text) == ["p;w}d", "two2"]


def test_settings_check_encodings_and_a_database_given_twice() -> None:
    with pytest.raises(ValidationError, match="unknown text encoding"):
        OdbcSettings(odbc=SecretStr("DSN=x"), char_encoding="gb-nonsense")
    with pytest.raises(ValidationError, match="database is set twice"):
        OdbcSettings(odbc=SecretStr("DSN=x;Database=a"), database="b")
    with pytest.raises(ValidationError, match="not closed"):
        OdbcSettings(odbc=SecretStr("DSN=x;PWD={open"))
    settings = OdbcSettings(odbc=SecretStr("DSN=x;"), database="UFDATA_001_2024")
    assert settings.connection_string() == "DSN=x;DATABASE=UFDATA_001_2024"
    assert "PWD" not in repr(OdbcSettings(odbc=SecretStr("DSN=x;PWD=hunter22")))


def test_dialect_shim_renders_the_sql_server_differences() -> None:
    select = "SELECT id FROM items WHERE id > ? ORDER BY id"
    assert Dialect.SQLSERVER.limit(select, (5,), 10) == (
        "SELECT TOP (?) id FROM items WHERE id > ? ORDER BY id",
        (10, 5),
    )
    assert Dialect.POSTGRESQL.limit(select, (5,), 10) == (select + " LIMIT ?", (5, 10))
    assert Dialect.SQLSERVER.rowversion("h.ufts") == "CONVERT(bigint, h.ufts)"
    assert Dialect.SQLITE.rowversion("h.ufts") == "h.ufts"
    assert "MIN_ACTIVE_ROWVERSION" in Dialect.SQLSERVER.settled_rowversion(["T"])
    assert Dialect.SQLITE.time_param(AT.replace(microsecond=5)) == "2026-03-26 08:00:00"
    assert dialect_of("Microsoft SQL Server") is Dialect.SQLSERVER
    assert dialect_of("Oracle") is None
    with pytest.raises(ValueError, match="does not start"):
        Dialect.SQLITE.limit("WITH x AS (SELECT 1) SELECT * FROM x", (), 1)


# --- through the drivers -------------------------------------------------------


def test_dialect_is_detected_and_text_numbers_survive(db: Database) -> None:
    client = db.client()
    try:
        assert client.dialect is Dialect(db.engine.replace("postgres", "postgresql"))
        rows = client.rows("SELECT id, name, qty, at FROM items ORDER BY id")
        assert [(r[0], r[1], Decimal(str(r[2])), r[3]) for r in rows] == [
            (i, n, Decimal(q), a) for i, n, q, a in rows_for_table()
        ]
    finally:
        client.close()


def test_values_are_bound_never_formatted(db: Database) -> None:
    client = db.client()
    try:
        for name in NAMES:
            found = client.rows("SELECT id FROM items WHERE name = ?", (name,))
            assert found
            assert {int(str(r[0])) % len(NAMES) for r in found} == {NAMES.index(name)}
        assert client.rows("SELECT id FROM items WHERE name = ?", ("x",)) == []
    finally:
        client.close()


def test_time_parameters_compare_at_the_exact_second(db: Database) -> None:
    client = db.client()
    try:
        boundary = client.dialect.time_param(AT.replace(minute=10))
        rows = client.rows("SELECT COUNT(*) FROM items WHERE at >= ?", (boundary,))
        assert int(str(rows[0][0])) == ROWS - 9
    finally:
        client.close()


def test_pages_walk_by_keyset_and_resume(db: Database) -> None:
    client = db.client(page_size=10)

    def select(after: int | None) -> tuple[str, tuple[object, ...]]:
        if after is None:
            return "SELECT id, name FROM items ORDER BY id", ()
        return "SELECT id, name FROM items WHERE id > ? ORDER BY id", (after,)

    try:
        pages = list(client.pages(select, key=lambda row: int(str(row[0]))))
        assert [len(page) for page in pages] == [10, 10, 5]
        assert [int(str(r[0])) for page in pages for r in page] == list(
            range(1, ROWS + 1)
        )
        resumed = list(client.pages(select, key=lambda row: row[0], after=20))
        assert [int(str(r[0])) for page in resumed for r in page] == [
            21,
            22,
            23,
            24,
            25,
        ]
    finally:
        client.close()


def test_sql_errors_are_protocol_errors_and_not_retried(db: Database) -> None:
    sleeps: list[float] = []
    client = db.client(sleeps)
    try:
        with pytest.raises(ProtocolError, match="SELEC"):
            client.rows("SELEC 1")
        with pytest.raises(ProtocolError, match="nosuchtable"):
            client.rows("SELECT * FROM nosuchtable")
        assert sleeps == []
    finally:
        client.close()


def test_sessions_are_read_only(db: Database) -> None:
    client = db.client()
    try:
        with pytest.raises(ProtocolError, match=r"(?i)read.?only"):
            client.rows("DELETE FROM items")
        assert int(str(client.rows("SELECT COUNT(*) FROM items")[0][0])) == ROWS
    finally:
        client.close()


def test_wrong_text_decoding_says_which_setting(db: Database) -> None:
    # SQLite's driver hands varchar over as UTF-8 SQL_CHAR, psqlODBC as UTF-16LE
    # SQL_WCHAR: decoding each as something else cannot read the Chinese names.
    key = "char_encoding" if db.engine == "sqlite" else "wchar_encoding"
    wrong = "gb18030" if db.engine == "sqlite" else "utf-32le"
    client = db.client(**{key: wrong})
    try:
        with pytest.raises(ProtocolError, match="char_encoding / wchar_encoding"):
            client.rows("SELECT name FROM items WHERE name = ?", ("成品仓",))
    finally:
        client.close()


def test_unknown_driver_is_a_config_error() -> None:
    client = Database("x", "DRIVER={No Such Driver};Server=x", None).client()
    with pytest.raises(SourceConfigError, match="No Such Driver"):
        client.rows("SELECT 1")


@pytest.mark.parametrize("what", ["role", "database"])
def test_refused_login_is_an_auth_error_without_retry_or_secret(
    pg: str, what: str
) -> None:
    secret = "s3cr;et-pw"
    wrong = {"UID": f"nobody_{uuid.uuid4().hex[:8]}"}
    if what == "database":
        wrong = {"Database": f"nodb_{uuid.uuid4().hex[:8]}"}
    connection_string = psqlodbc(pg, **wrong, PWD=f"{{{secret}}}")
    sleeps: list[float] = []
    client = Database("postgres", connection_string, pg).client(sleeps)
    with pytest.raises(AuthError, match="does not exist") as caught:
        client.rows("SELECT 1")
    assert sleeps == []
    assert secret not in str(caught.value)
    assert caught.value.__cause__ is None
    assert MASK in client.redactor.redact(f"driver said {secret}")
    assert secret not in client.redactor.redact(f"driver said {secret}")


def test_closed_port_is_transient_and_retried_then_raised(pg: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    sleeps: list[float] = []
    client = Database("postgres", psqlodbc(pg, Port=port), pg).client(sleeps)
    with pytest.raises(TransientError, match="refused"):
        client.rows("SELECT 1")
    assert len(sleeps) == 2  # retry_attempts=3


def test_statement_timeout_is_transient(pg: str) -> None:
    sleeps: list[float] = []
    client = Database("postgres", psqlodbc(pg), pg).client(sleeps, timeout=0.3)
    try:
        with pytest.raises(TransientError, match="57014"):
            client.rows("SELECT pg_sleep(2)")
        assert len(sleeps) == 2
        assert client.rows("SELECT 1") == [(1,)]  # a new session after the faults
    finally:
        client.close()


def test_a_connection_lost_between_pages_resumes_after_the_last_key(pg: str) -> None:
    sleeps: list[float] = []
    with postgres_items(pg) as db:
        client = db.client(sleeps, page_size=10)

        def select(after: int | None) -> tuple[str, tuple[object, ...]]:
            return "SELECT id FROM items WHERE id > ? ORDER BY id", (after or 0,)

        walk = client.pages(select, key=lambda row: int(str(row[0])))
        first = next(walk)
        backend = client.rows("SELECT pg_backend_pid()")[0][0]
        with psycopg.connect(pg, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        try:
            rest = [row for page in walk for row in page]
        finally:
            client.close()
    assert [r[0] for r in first + rest] == list(range(1, ROWS + 1))
    assert len(sleeps) == 1


def test_a_locked_sqlite_file_is_waited_out(tmp_path: Path) -> None:
    db = sqlite_items(tmp_path / "items.sqlite")
    locker = sqlite3.connect(tmp_path / "items.sqlite", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")

    def release(_: float) -> None:
        if locker.in_transaction:
            locker.execute("ROLLBACK")

    client = OdbcClient(
        "erp",
        OdbcSettings(
            odbc=SecretStr(db.connection_string.replace("Timeout=10000", "Timeout=50")),
            retry_attempts=3,
            retry_max_wait=0.01,
        ),
        Redactor(),
        sleep=release,
    )
    try:
        assert int(str(client.rows("SELECT COUNT(*) FROM items")[0][0])) == ROWS
        assert not locker.in_transaction  # the first try met the lock
    finally:
        client.close()
        locker.close()
