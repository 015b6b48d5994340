"""`kind: k3wise`: check(), errors, retries, secrets, settings and a sync end to end.

Real drivers throughout: the SQLite ODBC driver and psqlODBC against the
local PostgreSQL. Faults are real too: an unknown login role, a closed port,
a database that is not a K3 WISE account, and a server connection killed
(`pg_terminate_backend`) between two pages of a pull.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

from stockbridge.config.models import Settings
from stockbridge.connectors.base import CheckState, Stream
from stockbridge.connectors.errors import AuthError, ProtocolError, TransientError
from stockbridge.connectors.k3wise import K3WiseConnector, K3WiseSettings
from stockbridge.connectors.registry import connector_class
from stockbridge.mapping.model import MovementRecord
from stockbridge.simulators.k3wise_db import build_k3wise
from stockbridge.simulators.odbc_targets import (
    PostgresTarget,
    SqliteTarget,
    Target,
    drop_target,
)
from stockbridge.simulators.truth import generate
from stockbridge.store.database import open_store
from stockbridge.store.schema import movements, stock_lines
from stockbridge.sync.runner import sync_stream

SECRET = "Sup3r-Secret-Pwd"


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("k3wise_faults") / "truth.sqlite"
    generate(path, seed=23, materials=12, days=6)
    return path


def pg_target(postgres_url: str) -> PostgresTarget:
    return PostgresTarget(
        postgres_url.replace("postgresql+psycopg://", "postgresql://"),
        f"k3wconn_{os.getpid()}_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    built: Target
    if request.param == "sqlite":
        built = SqliteTarget(tmp_path / "k3wise.sqlite")
    else:
        built = pg_target(request.getfixturevalue("postgres_url"))
    yield built
    drop_target(built)


def make(
    odbc: str, sleeps: list[float] | None = None, **options: Any
) -> K3WiseConnector:
    settings = K3WiseSettings.model_validate(
        {"odbc": odbc, "site": "4000", "retry_max_wait": 0.01, **options}
    )
    return K3WiseConnector(
        "k3",
        settings,
        timezone="Asia/Shanghai",
        sleep=(sleeps if sleeps is not None else []).append,
    )


def pg_odbc(postgres_url: str, **parts: str) -> str:
    url = psycopg.conninfo.conninfo_to_dict(
        postgres_url.replace("postgresql+psycopg://", "postgresql://")
    )
    fields = {
        "DRIVER": "{PostgreSQL Unicode}",
        "Server": str(url.get("host", "127.0.0.1")),
        "Port": str(url.get("port", 5432)),
        "Database": str(url["dbname"]),
        "UID": "postgres",
        **parts,
    }
    return ";".join(f"{key}={value}" for key, value in fields.items())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- check and errors ------------------------------------------------------------------


def test_check_is_ok_and_names_the_account_option(truth: Path, target: Target) -> None:
    with make(build_k3wise(truth, target, upstock_when_save=False)) as connector:
        result = connector.check()
    assert result.state is CheckState.OK, result.detail
    assert "UPSTOCKWHENSAVE off" in result.detail


def test_a_database_that_is_not_k3wise_is_a_protocol_error(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE something (id int)")
    sleeps: list[float] = []
    with make(f"DRIVER={{SQLite3}};Database={path}", sleeps) as connector:
        result = connector.check()
        assert result.state is CheckState.PROTOCOL_ERROR
        assert "t_SystemProfile" in result.detail
        with pytest.raises(ProtocolError, match="ICInventory"):
            list(connector.stock())
    assert sleeps == []


def test_a_refused_login_is_auth_failed_never_retried_and_never_shows_the_password(
    postgres_url: str,
) -> None:
    odbc = pg_odbc(postgres_url, UID="k3w_no_such_role", PWD=SECRET)
    sleeps: list[float] = []
    connector = make(odbc, sleeps, retry_attempts=5)
    with connector:
        result = connector.check()
        assert result.state is CheckState.AUTH_FAILED
        with pytest.raises(AuthError) as raised:
            list(connector.movements(None, lookback=timedelta(hours=2)))
    assert SECRET not in connector.redactor.redact(odbc)
    assert sleeps == []
    for text in (result.detail, str(raised.value)):
        assert "k3w_no_such_role" in text
        assert SECRET not in text
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_a_closed_port_is_unreachable_after_the_retries(postgres_url: str) -> None:
    odbc = pg_odbc(postgres_url, Port=str(closed_port()), PWD=SECRET)
    sleeps: list[float] = []
    with make(odbc, sleeps, retry_attempts=3, connect_timeout=2) as connector:
        result = connector.check()
        assert result.state is CheckState.UNREACHABLE
        assert sleeps == []  # check() tries once
        with pytest.raises(TransientError) as raised:
            list(connector.stock())
    assert len(sleeps) == 2
    assert SECRET not in result.detail
    assert SECRET not in str(raised.value)


def test_a_connection_killed_between_pages_is_retried_and_the_pull_stays_exact(
    truth: Path, fresh_postgres_url: str
) -> None:
    target = pg_target(fresh_postgres_url)  # a database of its own: no other sessions
    try:
        odbc = build_k3wise(truth, target)
        with make(odbc, page_size=25) as reference:
            expected = [
                r
                for p in reference.movements(None, lookback=timedelta(0))
                for r in p.records
            ]
        sleeps: list[float] = []
        with make(odbc, sleeps, page_size=25) as connector:
            pages = connector.movements(None, lookback=timedelta(0))
            got = list(next(pages).records)
            with psycopg.connect(target.conninfo, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchall()
            assert killed == [(True,)]
            got += [r for page in pages for r in page.records]
    finally:
        drop_target(target)
    assert sleeps  # the lost connection was retried
    assert got == expected


# --- settings ---------------------------------------------------------------------------


def test_settings_need_a_site_and_refuse_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="site"):
        K3WiseSettings.model_validate({"odbc": "DRIVER={SQLite3};Database=x"})
    with pytest.raises(ValidationError, match="include_virtuals"):
        K3WiseSettings.model_validate(
            {
                "odbc": "DRIVER={SQLite3};Database=x",
                "site": "4000",
                "include_virtuals": True,
            }
        )
    settings = K3WiseSettings.model_validate(
        {"odbc": f"DRIVER={{SQLite3}};Database=x;PWD={SECRET}", "site": "4000"}
    )
    assert SECRET not in repr(settings)
    assert connector_class("k3wise") is K3WiseConnector


# --- sync end to end -----------------------------------------------------------------------


def truth_movement_sums(truth: Path) -> dict[tuple[str, str, str], Decimal]:
    with closing(sqlite3.connect(truth)) as db:
        rows = db.execute(
            "SELECT material, warehouse, batch, quantity FROM movements"
            " WHERE system='k3wise' AND effective=1"
        ).fetchall()
    sums: dict[tuple[str, str, str], Decimal] = {}
    for material, warehouse, batch, quantity in rows:
        key = (material, warehouse, batch)
        sums[key] = sums.get(key, Decimal(0)) + Decimal(quantity)
    return sums


def truth_stock(truth: Path) -> dict[tuple[str, str, str], Decimal]:
    with closing(sqlite3.connect(truth)) as db:
        rows = db.execute(
            "SELECT material, warehouse, batch, quantity FROM stock WHERE system='k3wise'"
        ).fetchall()
    return {(m, w, b): Decimal(q) for m, w, b, q in rows}


def test_sync_loads_every_record_in_base_units(
    truth: Path, target: Target, sqlite_url: str
) -> None:
    odbc = build_k3wise(truth, target)
    settings = Settings.model_validate(
        {
            "timezone": "Asia/Shanghai",
            "sources": {
                "k3": {"kind": "k3wise", "odbc": odbc, "site": "4000", "batch_size": 50}
            },
        }
    )
    engine: Engine = open_store(sqlite_url)
    try:
        for stream in (
            Stream.MATERIALS,
            Stream.UNITS,
            Stream.LOCATIONS,
            Stream.STOCK,
            Stream.MOVEMENTS,
        ):
            run = sync_stream(engine, settings, "k3", stream)
            assert run.status == "succeeded", run.error
            assert run.pulled == run.loaded + run.rejected
            assert run.rejected == 0, stream
            assert run.pulled > 0, stream
        with engine.connect() as conn:
            moved = conn.execute(
                select(
                    movements.c.material,
                    movements.c.warehouse,
                    movements.c.batch,
                    movements.c.unit,
                    func.count(),
                ).group_by(
                    movements.c.material,
                    movements.c.warehouse,
                    movements.c.batch,
                    movements.c.unit,
                )
            ).all()
            rows = conn.execute(
                select(
                    movements.c.material,
                    movements.c.warehouse,
                    movements.c.batch,
                    movements.c.quantity,
                )
            ).all()
            stock = conn.execute(
                select(
                    stock_lines.c.material,
                    stock_lines.c.warehouse,
                    stock_lines.c.batch,
                    stock_lines.c.quantity,
                    stock_lines.c.site,
                )
            ).all()
        assert {unit for *_, unit, _ in moved} <= {"KGM", "H87", "MTR", "LTR"}
        sums: dict[tuple[str, str, str], Decimal] = {}
        for material, warehouse, batch, quantity in rows:
            key = (material, warehouse, batch)
            sums[key] = sums.get(key, Decimal(0)) + quantity
        assert sums == truth_movement_sums(truth)
        assert {(m, w, b): q for m, w, b, q, _ in stock} == truth_stock(truth)
        assert {site for *_, site in stock} == {"4000"}
        again = sync_stream(engine, settings, "k3", Stream.MOVEMENTS)
        assert again.status == "succeeded"
        assert again.cursor_before is not None
        assert again.pulled < run.pulled
    finally:
        engine.dispose()


def test_records_are_movement_records_with_the_configured_site(
    truth: Path, tmp_path: Path
) -> None:
    odbc = build_k3wise(truth, SqliteTarget(tmp_path / "k3.sqlite"))
    with make(odbc, site="4100") as connector:
        found = [
            r
            for p in connector.movements(None, lookback=timedelta(0))
            for r in p.records
        ]
    assert found
    assert all(isinstance(r, MovementRecord) and r.site == "4100" for r in found)
