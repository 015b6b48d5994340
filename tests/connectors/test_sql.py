"""`kind: sql`: user queries on real databases, by SQLAlchemy URL and by ODBC.

Every behaviour that depends on the database runs on four paths: SQLite and
PostgreSQL through SQLAlchemy, and SQLite (`SQLite3`) and PostgreSQL
(`PostgreSQL Unicode`) through ODBC. Tables are made with the engines' own
drivers, then read only through the connector.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, select

from stockbridge.config.errors import ConfigError
from stockbridge.config.models import Settings
from stockbridge.connectors.base import CheckState, Page, Stream
from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.redaction import MASK
from stockbridge.connectors.sql import SqlConnector, SqlSettings
from stockbridge.mapping.model import (
    MovementKind,
    MovementRecord,
    SourceRecord,
    StockRecord,
    UnreadableRecord,
)
from stockbridge.store.database import open_store
from stockbridge.store.schema import movements, rejects, stock_lines
from stockbridge.sync.runner import sync_stream

T0 = datetime(2026, 3, 1, 8, 0)  # noqa: DTZ001 - naive Shanghai time, as the source stores it
SECRET = "S3cret-Passw0rd"


def move_rows() -> list[tuple[Any, ...]]:
    """20 lines: updated in steps of 1 minute for pairs, so values tie across pages."""
    return [
        (
            f"D{n:03d}",
            1,
            f"M{n % 3}",
            None if n == 7 else f"{n}.125",
            "千克" if n % 2 else "kg",
            "X" if n == 11 else ("1" if n % 4 else "0"),
            T0 + timedelta(minutes=n),
            T0 + timedelta(hours=1, minutes=n // 2),
        )
        for n in range(20)
    ]


STOCK_ROWS = [
    ("M0", "RM01", "B1", "12.5", "kg", "0"),
    ("M1", "RM01", "", "0.1", "个", "1"),
    ("M2", "FG01", "B2", "1234567.891", "kg", "9"),
]


@dataclass
class Database:
    """One database holding `moves` and `stock_v`, and how the connector reaches it."""

    name: str
    target: dict[str, Any]  # url= or odbc=
    prefix: str  # schema qualifier of the tables

    def settings(self, *, query: str | None = None, **extra: Any) -> SqlSettings:
        moves = query or (
            "SELECT doc, line, item, qty, uom, io, posted, updated, 'a :b' AS note"
            f" FROM {self.prefix}moves WHERE updated > :since ORDER BY updated, doc"
            " -- :since is :cursor minus the look-back\n"
        )
        return SqlSettings.model_validate(
            {
                **self.target,
                "retry_attempts": 2,
                "retry_max_wait": 0.01,
                "page_size": 4,
                "streams": {
                    "stock": {
                        "query": f"SELECT * FROM {self.prefix}stock_v ORDER BY item",
                        "fields": {
                            "material": "item",
                            "warehouse": "wh",
                            "batch": "lot",
                            "quantity": "qty",
                            "unit": "uom",
                            "status": "state",
                        },
                        "site": "1000",
                        "status_map": {"0": "unrestricted", "1": "blocked"},
                    },
                    "movements": {
                        "query": moves,
                        "cursor_column": "updated",
                        "key": {"document": "doc", "line": "line"},
                        "fields": {
                            "material": "item",
                            "quantity": "qty",
                            "unit": "uom",
                            "posted_at": "posted",
                        },
                        "sign": {"column": "io", "inbound": ["1"], "outbound": ["0"]},
                        "default_kind": "receipt",
                    },
                },
                **extra,
            }
        )

    def connector(self, **extra: Any) -> SqlConnector:
        return SqlConnector("plantdb", self.settings(**extra), timezone="Asia/Shanghai")


def sqlite_database(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "CREATE TABLE moves (doc text, line integer, item text, qty numeric,"
            " uom text, io text, posted datetime, updated datetime)"
        )
        conn.executemany(
            "INSERT INTO moves VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r[:6], r[6].isoformat(" "), r[7].isoformat(" ")) for r in move_rows()],
        )
        conn.execute(
            "CREATE TABLE stock_v (item text, wh text, lot text, qty numeric, uom text,"
            " state text)"
        )
        conn.executemany("INSERT INTO stock_v VALUES (?, ?, ?, ?, ?, ?)", STOCK_ROWS)
        conn.commit()


def postgres_database(pg: str, schema: str) -> None:
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(
            f"CREATE TABLE {schema}.moves (doc text, line integer, item text,"
            " qty numeric(18,3), uom text, io text, posted timestamp, updated timestamp)"
        )
        conn.execute(
            f"CREATE TABLE {schema}.stock_v (item text, wh text, lot text,"
            " qty numeric(18,3), uom text, state text)"
        )
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {schema}.moves VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                move_rows(),
            )
            cur.executemany(
                f"INSERT INTO {schema}.stock_v VALUES (%s, %s, %s, %s, %s, %s)",
                STOCK_ROWS,
            )


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


@pytest.fixture(params=["sqlite", "postgresql", "odbc-sqlite", "odbc-postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    kind: str = request.param
    if kind.endswith("sqlite"):
        path = tmp_path / "plant.db"
        sqlite_database(path)
        target = (
            {"url": f"sqlite:///{path}"}
            if kind == "sqlite"
            else {"odbc": f"DRIVER={{SQLite3}};Database={path};Timeout=10000"}
        )
        yield Database(kind, target, "")
        return
    pg_url: str = request.getfixturevalue("postgres_url")
    libpq = pg_url.replace("postgresql+psycopg://", "postgresql://")
    schema = f"sqlconn_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    postgres_database(libpq, schema)
    target = {"url": pg_url} if kind == "postgresql" else {"odbc": psqlodbc(libpq)}
    try:
        yield Database(kind, target, f"{schema}.")
    finally:
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def records(pages: Iterator[Page]) -> list[SourceRecord]:
    return [record for page in pages for record in page.records]


def utc(local: datetime) -> datetime:
    return (local - timedelta(hours=8)).replace(tzinfo=UTC)


# --- stock -------------------------------------------------------------------------------------------


def test_stock_reads_every_row_exactly(db: Database) -> None:
    with db.connector() as conn:
        got = records(conn.stock())
    assert all(isinstance(r, StockRecord) for r in got), got
    stock = [r for r in got if isinstance(r, StockRecord)]
    assert [
        (r.material, r.warehouse, r.batch, r.quantity, r.unit, r.status) for r in stock
    ] == [
        ("M0", "RM01", "B1", Decimal("12.5"), "kg", "unrestricted"),
        ("M1", "RM01", "", Decimal("0.1"), "个", "blocked"),
        ("M2", "FG01", "B2", Decimal("1234567.891"), "kg", "9"),  # unmapped: as is
    ]
    assert {r.site for r in stock} == {"1000"}
    assert stock[0].raw["item"] == "M0"


# --- movements ---------------------------------------------------------------------------------------


def test_full_pull_reads_every_line_signed_with_rejects_for_bad_values(
    db: Database,
) -> None:
    with db.connector() as conn:
        pages = list(conn.movements(None, lookback=timedelta(hours=2)))
    assert all(len(p.records) <= 4 for p in pages)
    got = records(iter(pages))
    assert len(got) == 20
    lines = {r.document: r for r in got if isinstance(r, MovementRecord)}
    assert set(lines) == {f"D{n:03d}" for n in range(20)} - {"D007", "D011"}
    d5, d4 = lines["D005"], lines["D004"]
    assert (d5.quantity, d5.unit, d5.kind, d5.material) == (
        Decimal("5.125"),
        "千克",
        MovementKind.RECEIPT,
        "M2",
    )
    assert d4.quantity == Decimal("-4.125")
    assert d4.raw["note"] == "a :b"  # a colon in quotes is no parameter
    assert d5.posted_at == utc(T0 + timedelta(minutes=5))
    bad = sorted(r.reason for r in got if isinstance(r, UnreadableRecord))
    assert bad == [
        "movements row 12, column io: 'X' is neither inbound (1) nor outbound (0)",
        "movements row 8, column qty: the cell is empty",
    ]


def test_page_cursors_never_split_a_value_and_resume_exactly(db: Database) -> None:
    with db.connector(query=None, page_size=3) as conn:
        pages = list(conn.movements(None, lookback=timedelta(0)))
    # updated ties in pairs (D000/D001 at 09:00, ...): a page's cursor is the last
    # value all of whose rows are in it or before it.
    values = [json.loads(p.cursor or "")["value"] for p in pages]
    assert values[0] == "2026-03-01T09:00:00"  # D000-D002: D002's pair is not complete
    assert values[1] == "2026-03-01T09:02:00"  # D003-D005: D005 (09:02) + D006 to come
    assert values[-1] == "2026-03-01T09:09:00"
    # Resuming from each saved cursor reads every line after it, none skipped.
    with db.connector(page_size=3) as conn:
        for page_number, page in enumerate(pages):
            seen = {
                getattr(r, "document", r.raw.get("doc"))
                for p in pages[: page_number + 1]
                for r in p.records
            }
            rest = records(conn.movements(page.cursor, lookback=timedelta(0)))
            after = {getattr(r, "document", r.raw.get("doc")) for r in rest}
            assert seen | after == {f"D{n:03d}" for n in range(20)}


def test_incremental_pull_rereads_only_the_lookback(db: Database) -> None:
    cursor = json.dumps({"type": "timestamp", "value": "2026-03-01T09:07:00"})
    with db.connector(page_size=2) as conn:
        plain = records(conn.movements(cursor, lookback=timedelta(0)))
        pages = list(conn.movements(cursor, lookback=timedelta(minutes=2)))
    window = records(iter(pages))
    # The re-read window lies before the committed cursor: no page steps back.
    assert [json.loads(p.cursor or "")["value"] for p in pages] == [
        "2026-03-01T09:07:00",
        "2026-03-01T09:07:00",
        "2026-03-01T09:08:00",
        "2026-03-01T09:09:00",
    ]
    docs = sorted(str(r.raw["doc"]) for r in plain)
    assert docs == ["D016", "D017", "D018", "D019"]
    assert sorted(str(r.raw["doc"]) for r in window) == [
        "D012",
        "D013",
        "D014",
        "D015",
        *docs,
    ]


def test_a_query_without_a_mapped_column_fails_at_the_first_page(db: Database) -> None:
    query = f"SELECT doc, line, item, uom, io, posted, updated FROM {db.prefix}moves WHERE updated > :cursor ORDER BY updated"
    with db.connector(query=query) as conn, pytest.raises(ProtocolError) as caught:
        next(conn.movements(None, lookback=timedelta(0)))
    assert "the movements query's result has no column 'qty'" in str(caught.value)
    assert "'updated'" in str(caught.value)  # the columns found are listed


def test_rows_out_of_cursor_order_are_refused(db: Database) -> None:
    query = f"SELECT * FROM {db.prefix}moves WHERE updated > :cursor ORDER BY doc DESC"
    with (
        db.connector(query=query) as conn,
        pytest.raises(ProtocolError, match="must ORDER BY updated"),
    ):
        records(conn.movements(None, lookback=timedelta(0)))


def test_check_verdicts(db: Database) -> None:
    with db.connector() as conn:
        result = conn.check()
    assert result.state is CheckState.OK, result.detail
    assert "stock, movements" in result.detail
    broken = (
        f"SELECT doc FROM {db.prefix}moves WHERE updated > :cursor ORDER BY updated"
    )
    with db.connector(query=broken) as conn:
        result = conn.check()
    assert result.state is CheckState.PROTOCOL_ERROR
    assert (
        "no column 'item', 'qty', 'uom', 'posted', 'line', 'io', 'updated'"
        in result.detail
    )
    missing = f"SELECT * FROM {db.prefix}nowhere WHERE x > :cursor ORDER BY x"
    with db.connector(query=missing) as conn:
        assert conn.check().state is CheckState.PROTOCOL_ERROR


# --- parameters are bound, never formatted -----------------------------------------------------------


def test_text_cursor_values_are_bound(tmp_path: Path) -> None:
    path = tmp_path / "names.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE m (name text, qty text)")
        conn.executemany(
            "INSERT INTO m VALUES (?, ?)",
            [("A", "1"), ("O'Brien", "2"), ("x' OR '1'='1", "3"), ("成品仓", "4")],
        )
        conn.commit()
    for target in (
        {"url": f"sqlite:///{path}"},
        {"odbc": f"DRIVER={{SQLite3}};Database={path}"},
    ):
        settings = SqlSettings.model_validate(
            {
                **target,
                "streams": {
                    "movements": {
                        "query": "SELECT name, qty FROM m WHERE name > :cursor ORDER BY name",
                        "cursor_column": "name",
                        "cursor_type": "text",
                        "fields": {
                            "document": "name",
                            "line": "name",
                            "material": "name",
                            "quantity": "qty",
                            "posted_at": "name",
                        },
                        "unit": "kg",
                        "default_kind": "adjustment",
                    }
                },
            }
        )
        cursor = json.dumps({"type": "text", "value": "O'Brien"})
        with SqlConnector("db", settings, timezone="UTC") as conn:
            got = records(conn.movements(cursor, lookback=timedelta(0)))
        assert [r.raw["name"] for r in got] == ["x' OR '1'='1", "成品仓"]


# --- credentials, reachability, secrets --------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stock_only(
    target: dict[str, Any], query: str = "SELECT 1 AS item, 1 AS qty", **extra: Any
) -> SqlConnector:
    settings = SqlSettings.model_validate(
        {
            **target,
            "retry_attempts": 3,
            "retry_max_wait": 0.01,
            "connect_timeout": 2,
            "streams": {
                "stock": {
                    "query": query,
                    "fields": {"material": "item", "quantity": "qty"},
                    "unit": "kg",
                }
            },
            **extra,
        }
    )
    return SqlConnector("plantdb", settings, timezone="Asia/Shanghai")


def test_login_refused_is_an_auth_error_never_retried(
    pg: str, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = postgres_url.replace("postgres@", f"nosuchrole:{SECRET}@")
    odbc = psqlodbc(pg, UID="nosuchrole", PWD=SECRET)
    for target in ({"url": url}, {"odbc": odbc}):
        caplog.clear()
        with stock_only(target) as conn:
            with pytest.raises(AuthError) as caught:
                records(conn.stock())
            assert "nosuchrole" in str(caught.value)
            assert SECRET not in str(caught.value)
            result = conn.check()
        assert result.state is CheckState.AUTH_FAILED
        assert SECRET not in result.detail
        assert not [r for r in caplog.records if "retrying" in r.getMessage()]


def test_closed_port_is_transient_retried_then_unreachable(
    pg: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    url = f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:{port}/test"
    odbc = psqlodbc(pg, Port=str(port), PWD=SECRET)
    for target in ({"url": url}, {"odbc": odbc}):
        caplog.clear()
        with caplog.at_level(logging.WARNING), stock_only(target) as conn:
            with pytest.raises(TransientError) as caught:
                records(conn.stock())
            assert SECRET not in str(caught.value)
            assert MASK in conn.redactor.redact(url + odbc)
            result = conn.check()
        retries = [r for r in caplog.records if "retrying" in r.getMessage()]
        assert len(retries) == 2  # three attempts
        assert all(SECRET not in r.getMessage() for r in caplog.records)
        assert result.state is CheckState.UNREACHABLE
        assert SECRET not in result.detail


def test_a_postgres_result_streams_from_a_server_side_cursor(
    pg: str, postgres_url: str
) -> None:
    schema = f"sqlconn_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg, autocommit=True) as admin:
        admin.execute(
            f"CREATE TABLE public.{schema} AS SELECT g AS item, g AS qty FROM generate_series(1, 5000) g"
        )
        try:
            # SQLAlchemy declares a named cursor and FETCHes from it; psqlODBC with
            # UseDeclareFetch=1 (added by the connector) holds a transaction open
            # around its declared cursor, where a buffered read would have ended.
            proofs = {
                "url": "query LIKE 'FETCH FORWARD 99 FROM %'",
                "odbc": "state = 'idle in transaction'",
            }
            for key, target in (("url", postgres_url), ("odbc", psqlodbc(pg))):
                query = f"SELECT item, qty FROM public.{schema}"
                with stock_only({key: target}, query, page_size=100) as streaming:
                    pages = streaming.stock()
                    try:
                        assert len(next(pages).records) == 100
                        streaming_now = admin.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE pid <> "
                            "pg_backend_pid() AND datname = current_database() AND "
                            + proofs[key]
                        ).fetchone()
                        assert streaming_now == (1,), key
                        assert sum(len(p.records) for p in pages) == 4900
                    finally:
                        pages.close()
        finally:
            admin.execute(f"DROP TABLE public.{schema}")


def test_postgres_url_options_are_kept_beside_the_statement_timeout(
    pg: str, postgres_url: str
) -> None:
    schema = f"sqlconn_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    postgres_database(pg, schema)
    try:
        url = f"{postgres_url}?options=-csearch_path%3D{schema}"
        query = (
            "SELECT item, qty, current_setting('statement_timeout') AS t FROM stock_v"
        )
        with stock_only({"url": url}, query, timeout=7) as conn:
            got = records(conn.stock())
        assert len(got) == 3
        assert {r.raw["t"] for r in got} == {"7s"}
    finally:
        with psycopg.connect(pg, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


# --- settings ----------------------------------------------------------------------------------------


def config_error(source: dict[str, Any]) -> str:
    settings = Settings.model_validate({"sources": {"db": {"kind": "sql", **source}}})
    with pytest.raises(ConfigError) as caught:
        settings.source_settings("db", SqlSettings)
    return str(caught.value)


def test_settings_refuse_what_cannot_work() -> None:
    stock = {
        "query": "SELECT * FROM s",
        "fields": {"material": "m", "quantity": "q"},
        "unit": "kg",
    }
    both = config_error(
        {"url": "sqlite://", "odbc": "DSN=x", "streams": {"stock": stock}}
    )
    assert "exactly one of url (SQLAlchemy) and odbc" in both
    params = config_error(
        {
            "url": "sqlite://",
            "streams": {
                "stock": {**stock, "query": "SELECT * FROM s WHERE d > :since"}
            },
        }
    )
    assert "a snapshot query takes no parameters" in params
    move = {
        "query": "SELECT * FROM m ORDER BY u",
        "cursor_column": "u",
        "key": {"document": "d", "line": "l"},
        "fields": {"material": "m", "quantity": "q", "posted_at": "p", "unit": "e"},
        "default_kind": "receipt",
    }
    unbound = config_error({"url": "sqlite://", "streams": {"movements": move}})
    assert "the movements query must bind :cursor or :since" in unbound
    stray = config_error(
        {
            "url": "sqlite://",
            "streams": {
                "movements": {
                    **move,
                    "query": "SELECT * FROM m WHERE u > :cursor AND p = :plant",
                }
            },
        }
    )
    assert "binds :plant; only :cursor and :since exist" in stray
    # A colon inside quotes or a PostgreSQL cast is no parameter.
    fine = {
        **move,
        "query": "SELECT u::text, '08:00' AS t FROM m WHERE u > :cursor -- :x",
    }
    SqlSettings.model_validate({"url": "sqlite://", "streams": {"movements": fine}})


def test_a_stored_cursor_of_another_type_asks_for_a_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "plant.db"
    sqlite_database(path)
    conn = Database("sqlite", {"url": f"sqlite:///{path}"}, "").connector()
    with pytest.raises(SourceConfigError, match=r"run a full sync \(--full\)"):
        records(
            conn.movements('{"type": "integer", "value": 5}', lookback=timedelta(0))
        )


# --- through sync into a store -----------------------------------------------------------------------


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Engine]:
    engine = open_store(sqlite_url)
    yield engine
    engine.dispose()


def test_sync_end_to_end_counts_loads_and_rejects(
    tmp_path: Path, store: Engine
) -> None:
    path = tmp_path / "plant.db"
    sqlite_database(path)
    source = (
        Database("sqlite", {"url": f"sqlite:///{path}"}, "")
        .settings()
        .model_dump(mode="json", exclude_defaults=True)
    )
    source["url"] = f"sqlite:///{path}"
    settings = Settings.model_validate(
        {"timezone": "Asia/Shanghai", "sources": {"plantdb": {"kind": "sql", **source}}}
    )
    run = sync_stream(store, settings, "plantdb", Stream.MOVEMENTS)
    assert run.status == "succeeded", run.error
    assert (run.pulled, run.loaded, run.rejected) == (20, 18, 2)
    stock_run = sync_stream(store, settings, "plantdb", Stream.STOCK)
    assert stock_run.status == "succeeded", stock_run.error
    # status 9 is in no status map: a mapping reject, counted.
    assert (stock_run.pulled, stock_run.loaded, stock_run.rejected) == (3, 2, 1)
    with store.connect() as conn:
        loaded = {
            r.document: (r.quantity, r.unit) for r in conn.execute(select(movements))
        }
        reasons = sorted(r.reason for r in conn.execute(select(rejects)))
        stock = {
            (r.material, r.quantity, r.unit) for r in conn.execute(select(stock_lines))
        }
    expected = {
        f"D{n:03d}": ((1 if n % 4 else -1) * Decimal(f"{n}.125"), "KGM")
        for n in range(20)
        if n not in (7, 11)
    }
    assert loaded == expected
    assert "movements row 8, column qty: the cell is empty" in reasons
    assert stock == {("M0", Decimal("12.5"), "KGM"), ("M1", Decimal("0.1"), "H87")}

    # The next run starts from the committed cursor: only the look-back window (2h
    # by default covers everything here) is read again, and nothing doubles.
    again = sync_stream(store, settings, "plantdb", Stream.MOVEMENTS)
    assert again.status == "succeeded"
    assert again.cursor_before == run.cursor_after
    with store.connect() as conn:
        assert len(list(conn.execute(select(movements)))) == 18
