"""`kind: u8` end to end through real ODBC drivers (SQLite ODBC and psqlODBC).

Each test builds site 2000's share of a generated truth into an SQLite file and
into a PostgreSQL schema (`simulators.u8_db`) and reads it with the connector.
The truth is the oracle: stock per key, every effective movement line, master
data. The database holds the traps U8 has (unaudited, red-ink, transfer
vouchers generated from TransVouch, other modules' openings, 假退料).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from stockbridge.config.models import Settings
from stockbridge.connectors.base import CheckState, Page, Stream
from stockbridge.connectors.u8 import U8Connector, U8Settings
from stockbridge.mapping.model import (
    MovementKind,
    MovementRecord,
    StockRecord,
    UnitRecord,
    UnreadableRecord,
)
from stockbridge.mapping.timezones import to_utc
from stockbridge.simulators.odbc_targets import (
    PostgresTarget,
    SqliteTarget,
    Target,
    drop_target,
)
from stockbridge.simulators.truth import generate
from stockbridge.simulators.truth_share import CHINA, UNIT_NAMES, local_time
from stockbridge.simulators.u8_db import build_u8, release_late
from stockbridge.store.database import open_store
from stockbridge.store.schema import movements as movements_table
from stockbridge.sync.runner import STREAM_ORDER, sync_stream

Key = tuple[str, str, str]
TruthLine = tuple[str, str, str, str, Decimal, datetime, str]
LATE = 5


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("u8conn") / "truth.sqlite"
    generate(path, seed=11, materials=12, days=6)
    return path


@pytest.fixture(scope="module")
def late_truth(truth: Path) -> Path:
    """The truth with the last few U8 lines marked late (already in its stock)."""
    path = truth.with_name("late_truth.sqlite")
    path.write_bytes(truth.read_bytes())
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "UPDATE movements SET late = 1 WHERE id IN (SELECT id FROM movements"
            " WHERE system='u8' AND effective=1 AND kind IN ('production_issue', 'transfer')"
            f" ORDER BY id DESC LIMIT {LATE})"
        )
        conn.commit()
    return path


def pg_conninfo(postgres_url: str) -> str:
    return postgres_url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    built: Target
    if request.param == "sqlite":
        built = SqliteTarget(tmp_path / "u8.sqlite")
    else:
        url = pg_conninfo(request.getfixturevalue("postgres_url"))
        built = PostgresTarget(url, f"u8conn_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    yield built
    drop_target(built)


def connector(connection_string: str, **settings: Any) -> U8Connector:
    values: dict[str, Any] = {
        "odbc": SecretStr(connection_string),
        "site": "2000",
        "timezone": "Asia/Shanghai",
        "retry_max_wait": 0.01,
        "line_side_warehouses": ("LS01",),
        **settings,
    }
    return U8Connector("u8", U8Settings(**values), timezone="UTC")


def records(pages: Iterator[Page]) -> list[Any]:
    return [record for page in pages for record in page.records]


def truth_rows(truth: Path, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(truth)) as conn:
        return conn.execute(query).fetchall()


def posting_day(iso_utc: str) -> datetime:
    """U8 keeps the posting date only: midnight China time of the truth's posting."""
    return to_utc(datetime.combine(local_time(iso_utc).date(), time()), CHINA)


def truth_lines(
    truth: Path, *, late: bool | None = None
) -> dict[tuple[str, int], TruthLine]:
    """Effective U8 lines by (document, line): kind, key, quantity, day, reversed line."""
    where = "" if late is None else f" AND m.late = {int(late)}"
    rows = truth_rows(
        truth,
        "SELECT m.document, m.line, m.kind, m.material, m.warehouse, m.batch, m.quantity,"
        " m.posted_at, COALESCE(r.document || '/' || r.line, '') FROM movements m"
        " LEFT JOIN movements r ON r.id = m.reverses"
        f" WHERE m.system = 'u8' AND m.effective = 1{where}",
    )
    return {
        (doc, line): (kind, mat, wh, batch, Decimal(qty), posting_day(at), rev)
        for doc, line, kind, mat, wh, batch, qty, at, rev in rows
    }


def by_truth_key(found: list[Any]) -> dict[tuple[str, int], MovementRecord]:
    """Our records by the voucher's code and row number (the truth's document/line)."""
    keyed: dict[tuple[str, int], MovementRecord] = {}
    for record in found:
        assert isinstance(record, MovementRecord), record
        key = (str(record.raw["cCode"]), int(str(record.raw["irowno"])))
        assert key not in keyed
        keyed[key] = record
    return keyed


def as_truth(
    found: dict[tuple[str, int], MovementRecord],
) -> dict[tuple[str, int], TruthLine]:
    keys = {f"{r.document}/{r.line}": code for code, r in found.items()}
    return {
        code: (
            r.kind.value, r.material, r.warehouse, r.batch, r.quantity, r.posted_at,
            "/".join(map(str, keys[r.reverses])) if r.reverses else "",
        )
        for code, r in found.items()
    }  # fmt: skip


def test_stock_equals_the_truth_with_frozen_stock_reserved(
    truth: Path, target: Target
) -> None:
    with connector(build_u8(truth, target), page_size=7) as u8:
        pages = list(u8.stock())
    assert all(len(page.records) <= 7 for page in pages)
    found = records(iter(pages))
    assert all(isinstance(r, StockRecord) for r in found)
    units = {
        m: UNIT_NAMES[u]
        for m, u in truth_rows(truth, "SELECT material, base_unit FROM materials")
    }
    expected = {
        (m, w, b): (Decimal(q), Decimal(r), units[m])
        for m, w, b, q, r in truth_rows(
            truth,
            "SELECT material, warehouse, batch, quantity, reserved FROM stock"
            " WHERE system = 'u8' AND site = '2000' AND status = 'unrestricted'",
        )
    }
    assert {
        (r.material, r.warehouse, r.batch): (r.quantity, r.reserved, r.unit)
        for r in found
    } == expected
    assert len(found) == len(expected)
    assert {(r.site, r.status, r.location, r.special_stock) for r in found} == {
        ("2000", "unrestricted", "", "")
    }
    assert any(r.reserved for r in found)
    assert {"个", "千克"} <= {r.unit for r in found}


def test_movements_equal_the_truths_effective_lines(
    truth: Path, target: Target
) -> None:
    with connector(build_u8(truth, target), page_size=10) as u8:
        pages = list(u8.movements(None, lookback=timedelta(hours=2)))
    found = by_truth_key(records(iter(pages)))
    expected = truth_lines(truth)
    assert as_truth(found) == expected
    orders = {
        (doc, line): order
        for doc, line, order in truth_rows(
            truth,
            "SELECT document, line, order_ref FROM movements WHERE system='u8' AND effective=1",
        )
    }
    assert {key: r.order_ref for key, r in found.items()} == orders
    assert any(orders.values())
    # The traps were there and were handled as U8 does.
    kinds = {line[0] for line in expected.values()}
    assert {"reversal", "transfer", "production_issue", "receipt"} <= kinds
    unaudited = truth_rows(
        truth, "SELECT document, line FROM movements WHERE system='u8' AND effective=0"
    )
    assert unaudited
    assert not {(d, ln) for d, ln in unaudited} & set(found)
    documents = {r.document.split("-", 1)[1] for r in found.values()}
    assert not {"WWQC000001", "JTL0000001"} & documents  # 委外期初, 假退料
    assert {r.document[:2] for r in found.values()} <= {
        "01",
        "08",
        "09",
        "10",
        "11",
        "32",
    }
    transfers = [r for r in found.values() if r.kind is MovementKind.TRANSFER]
    assert {r.document[:2] for r in transfers} == {"08", "09"}
    red = [r for r in found.values() if r.kind is MovementKind.REVERSAL]
    assert red
    assert all(r.quantity < 0 and r.raw["bredvouch"] == "1" for r in red)
    assert all(
        r.entered_at is not None and r.entered_at >= r.posted_at for r in found.values()
    )
    assert pages[-1].cursor is not None
    assert all(len(page.records) <= 10 for page in pages)


def test_opening_plus_movements_is_current_stock(truth: Path, target: Target) -> None:
    """The ledger check: what the movements add to the opening is CurrentStock."""
    with connector(build_u8(truth, target)) as u8:
        stock = {
            (r.material, r.warehouse, r.batch): r.quantity for r in records(u8.stock())
        }
        moved = records(u8.movements(None, lookback=timedelta(0)))
    ledger: dict[Key, Decimal] = defaultdict(Decimal)
    for m, w, b, q in truth_rows(
        truth,
        "SELECT material, warehouse, batch, quantity FROM opening_stock WHERE system='u8'",
    ):
        ledger[m, w, b] += Decimal(q)
    for r in moved:
        ledger[r.material, r.warehouse, r.batch] += r.quantity
    assert {k: v for k, v in ledger.items() if v} == {
        k: v for k, v in stock.items() if v
    }


def test_incremental_pull_by_ufts_after_late_postings(
    late_truth: Path, target: Target
) -> None:
    with connector(build_u8(late_truth, target, hold_late=True)) as u8:
        first = list(u8.movements(None, lookback=timedelta(hours=2)))
        cursor = first[-1].cursor
        assert cursor is not None
        on_time = by_truth_key(records(iter(first)))
        assert as_truth(on_time) == truth_lines(late_truth, late=False)

        assert release_late(late_truth, target) == LATE
        again = list(u8.movements(cursor, lookback=timedelta(0)))
        newer = by_truth_key(records(iter(again)))
        late = truth_lines(late_truth, late=True)
        assert set(late) <= set(newer)
        overlap = set(newer) - set(late)
        assert len(overlap) < len(on_time) // 4  # only the look-back edge is re-read
        merged = {**on_time, **newer}
        assert as_truth(merged) == truth_lines(late_truth)

        settled = again[-1].cursor
        assert settled is not None
        quiet = by_truth_key(records(u8.movements(settled, lookback=timedelta(0))))
        stamp = json.loads(settled)["stamp"]  # nothing changed: only the edge again
        assert quiet
        assert all(
            max(r.raw["dnverifytime"], r.raw["dnmodifytime"]) >= stamp
            for r in quiet.values()
        )
        wide = by_truth_key(records(u8.movements(settled, lookback=timedelta(days=30))))
        assert set(wide) == set(merged)


def test_a_pull_resumes_from_a_cursor_saved_mid_pass(
    truth: Path, target: Target
) -> None:
    with connector(build_u8(truth, target), page_size=7) as u8:
        pages = list(u8.movements(None, lookback=timedelta(hours=2)))
        assert len(pages) > 6
        saved = pages[3].cursor
        resumed = list(u8.movements(saved, lookback=timedelta(hours=2)))
    keys = [[(r.document, r.line) for r in page.records] for page in pages[4:]]
    assert [[(r.document, r.line) for r in page.records] for page in resumed] == keys
    assert resumed[-1].cursor == pages[-1].cursor


def test_master_data_streams(truth: Path, target: Target) -> None:
    with connector(build_u8(truth, target), page_size=5) as u8:
        materials = records(u8.materials())
        locations = records(u8.locations())
        units = records(u8.units())
    expected = {
        m: (name, UNIT_NAMES[unit], bool(batch))
        for m, name, unit, batch in truth_rows(
            truth, "SELECT material, name, base_unit, batch_managed FROM materials"
        )
    }
    assert {
        r.material: (r.name, r.base_unit, r.batch_managed) for r in materials
    } == expected
    assert {(r.site, r.warehouse, r.name, r.line_side) for r in locations} == {
        ("2000", w, name, kind == "line_side")
        for w, name, kind in truth_rows(
            truth, "SELECT warehouse, name, kind FROM warehouses WHERE site = '2000'"
        )
    }
    assert all(isinstance(r, UnitRecord) for r in units)
    assert {(r.material, r.unit, r.base_unit, r.factor) for r in units} == {
        (m, UNIT_NAMES[alt], UNIT_NAMES[base], Fraction(factor))
        for m, base, alt, factor in truth_rows(
            truth,
            "SELECT material, base_unit, alt_unit, alt_factor FROM materials WHERE alt_unit <> ''",
        )
    }


def test_check_verdicts(truth: Path, target: Target, tmp_path: Path) -> None:
    connection_string = build_u8(truth, target)
    with connector(connection_string) as u8:
        result = u8.check()
    assert result.state is CheckState.OK, result.detail
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    with connector(f"DRIVER={{SQLite3}};Database={empty}") as u8:
        assert u8.check().state is CheckState.PROTOCOL_ERROR
    with connector("DRIVER={No Such Driver};Server=x") as u8:
        assert u8.check().state is CheckState.CONFIG_ERROR


def test_check_on_postgres_login_refused_and_closed_port(postgres_url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg_conninfo(postgres_url))
    secret = "hunter2-u8-pw"
    refused = (
        "DRIVER={PostgreSQL Unicode};Server=127.0.0.1;"
        f"Port={info.get('port', 5432)};Database={info['dbname']};"
        f"UID=nobody_{uuid.uuid4().hex[:6]};PWD={secret}"
    )
    with connector(refused) as u8:
        result = u8.check()
        assert result.state is CheckState.AUTH_FAILED
        assert secret not in result.detail
        assert secret not in u8.redactor.redact(f"{refused} failed")
        assert secret not in repr(u8.settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"DRIVER={{PostgreSQL Unicode}};Server=127.0.0.1;Port={port};Database=x;UID=postgres"
    with connector(closed) as u8:
        assert u8.check().state is CheckState.UNREACHABLE


def test_a_connection_lost_mid_pull_still_ends_exact(
    truth: Path, postgres_url: str
) -> None:
    target = PostgresTarget(pg_conninfo(postgres_url), f"u8conn_{uuid.uuid4().hex[:8]}")
    try:
        with connector(build_u8(truth, target), page_size=10) as u8:
            pull = u8.movements(None, lookback=timedelta(0))
            found = list(next(pull).records)
            backend = u8.client.rows("SELECT pg_backend_pid()")[0][0]
            with psycopg.connect(target.conninfo, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
            found += records(pull)
        assert as_truth(by_truth_key(found)) == truth_lines(truth)
    finally:
        drop_target(target)


def test_sync_end_to_end_loads_everything_in_base_units(
    truth: Path, target: Target, sqlite_url: str
) -> None:
    settings = Settings.model_validate(
        {
            "store": sqlite_url,
            "timezone": "Asia/Shanghai",
            "sources": {
                "u8": {"kind": "u8", "odbc": build_u8(truth, target), "site": "2000"}
            },
        }
    )
    engine = open_store(sqlite_url)
    try:
        for stream in STREAM_ORDER:
            run = sync_stream(engine, settings, "u8", stream)
            assert run.error is None, run.error
            assert run.pulled == run.loaded + run.rejected
            assert run.rejected == 0, stream
        assert run.stream == Stream.MOVEMENTS.value
        with engine.connect() as conn:
            loaded = {
                (m, w, b, u): Decimal(str(q))
                for m, w, b, u, q in conn.execute(
                    select(
                        movements_table.c.material, movements_table.c.warehouse,
                        movements_table.c.batch, movements_table.c.unit,
                        func.sum(movements_table.c.quantity),
                    ).group_by(
                        movements_table.c.material, movements_table.c.warehouse,
                        movements_table.c.batch, movements_table.c.unit,
                    )
                )
            }  # fmt: skip
    finally:
        engine.dispose()
    base = dict(truth_rows(truth, "SELECT material, base_unit FROM materials"))
    expected: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for m, w, b, q in truth_rows(
        truth,
        "SELECT material, warehouse, batch, quantity FROM movements WHERE system='u8' AND effective=1",
    ):
        expected[m, w, b, base[m]] += Decimal(q)
    assert loaded == expected


def test_extra_stock_dimensions_and_frozen_rows(truth: Path, tmp_path: Path) -> None:
    """Free items, VMI and demand-tracked stock stay apart; a stopped row is all reserved."""
    target = SqliteTarget(tmp_path / "u8.sqlite")
    connection_string = build_u8(truth, target)
    with closing(sqlite3.connect(target.path)) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT AutoID FROM CurrentStock ORDER BY AutoID LIMIT 4"
            )
        ]
        conn.execute(
            "UPDATE CurrentStock SET cFree1 = '红色', cFree3 = 'XL' WHERE AutoID = ?",
            (ids[0],),
        )
        conn.execute(
            "UPDATE CurrentStock SET cVMIVenCode = 'V001' WHERE AutoID = ?", (ids[1],)
        )
        conn.execute(
            "UPDATE CurrentStock SET iSoType = 1, iSodid = '88' WHERE AutoID = ?",
            (ids[2],),
        )
        conn.execute(
            "UPDATE CurrentStock SET bStopFlag = 1, iQuantity = '12.5000000000' WHERE AutoID = ?",
            (ids[3],),
        )
        conn.commit()
    with connector(connection_string) as u8:
        found = {int(str(r.raw["AutoID"])): r for r in records(u8.stock())}
    first = found[ids[0]]
    assert first.batch == f"{first.raw['cBatch']}|红色||XL"
    assert found[ids[1]].special_stock == "K"
    assert found[ids[2]].special_stock == "E"
    assert (found[ids[3]].quantity, found[ids[3]].reserved) == (
        Decimal("12.5"),
        Decimal("12.5"),
    )
    assert all(r.special_stock == "" for key, r in found.items() if key not in ids[1:3])


def test_unreadable_rows_are_kept_with_a_reason(truth: Path, tmp_path: Path) -> None:
    target = SqliteTarget(tmp_path / "u8.sqlite")
    connection_string = build_u8(truth, target)
    with closing(sqlite3.connect(target.path)) as conn:
        line = conn.execute(
            "SELECT l.AutoID FROM RdRecords32 l JOIN RdRecord32 h ON h.ID = l.ID"
            " WHERE h.cHandler <> '' ORDER BY l.AutoID LIMIT 1"
        ).fetchone()[0]
        conn.execute(
            "UPDATE RdRecords32 SET iQuantity = 'lots' WHERE AutoID = ?", (line,)
        )
        material = conn.execute(
            "SELECT cInvCode FROM CurrentStock ORDER BY AutoID LIMIT 1"
        ).fetchone()[0]
        conn.execute(
            "UPDATE Inventory SET cComUnitCode = 'gone' WHERE cInvCode = ?", (material,)
        )
        conn.commit()
    with connector(connection_string) as u8:
        stock = records(u8.stock())
        moved = records(u8.movements(None, lookback=timedelta(0)))
        materials = records(u8.materials())
    bad_stock = [r for r in stock if not isinstance(r, StockRecord)]
    assert bad_stock
    assert all(
        "has no main unit" in r.reason and r.raw["cInvCode"] == material
        for r in bad_stock
    )
    assert len(stock) == len(truth_rows(truth, "SELECT 1 FROM stock WHERE system='u8'"))
    unreadable = [r for r in moved if not isinstance(r, MovementRecord)]
    assert {r.reason for r in unreadable if r.raw["AutoID"] == str(line)} == {
        "iQuantity 'lots' is not a number"
    }
    assert len(moved) == len(truth_lines(truth))
    assert [
        r.raw["cInvCode"] for r in materials if isinstance(r, UnreadableRecord)
    ] == [material]
