"""The U8 database simulator, read through real ODBC drivers (SQLite ODBC and psqlODBC).

Each test builds site 2000's share of a small generated truth into an SQLite
file and into a PostgreSQL schema, then reads it with pyodbc the way a
connector would, and checks U8's own stock arithmetic against CurrentStock
and against the truth.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyodbc
import pytest

from stockbridge.simulators.odbc_targets import (
    PostgresTarget,
    SqliteTarget,
    Target,
    drop_target,
)
from stockbridge.simulators.truth import generate
from stockbridge.simulators.u8_db import build_u8, release_late

Key = tuple[str, str, str]  # (cInvCode, cWhCode, cBatch)
TYPES = ("01", "08", "09", "10", "11", "32", "34")


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("u8truth") / "truth.sqlite"
    generate(path, seed=11, materials=12, days=6)
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    built: Target
    if request.param == "sqlite":
        built = SqliteTarget(tmp_path / "u8.sqlite")
    else:
        url: str = request.getfixturevalue("postgres_url")
        schema = f"u8sim_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        built = PostgresTarget(
            url.replace("postgresql+psycopg://", "postgresql://"), schema
        )
    yield built
    drop_target(built)


@contextmanager
def odbc(connection_string: str) -> Iterator[pyodbc.Connection]:
    connection = pyodbc.connect(connection_string, autocommit=True)
    try:
        yield connection
    finally:
        connection.close()


def rows(db: pyodbc.Connection, query: str) -> list[tuple[object, ...]]:
    with closing(db.cursor()) as cursor:
        cursor.execute(query)
        return [tuple(row) for row in cursor.fetchall()]


def truth_rows(truth: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(truth)) as connection:
        return connection.execute(query).fetchall()


def truth_stock(truth: Path, *, without_late: bool = False) -> dict[Key, Decimal]:
    stock = {
        (m, w, b): Decimal(q)
        for m, w, b, q in truth_rows(
            truth,
            "SELECT material, warehouse, batch, quantity FROM stock WHERE system='u8' AND site='2000'",
        )
    }
    if without_late:
        for m, w, b, q in truth_rows(
            truth,
            "SELECT material, warehouse, batch, quantity FROM movements"
            " WHERE system='u8' AND site='2000' AND late=1 AND effective=1",
        ):
            stock[m, w, b] -= Decimal(q)
    return stock


def current_stock(db: pyodbc.Connection) -> dict[Key, Decimal]:
    return {
        (str(inv), str(wh), str(batch)): Decimal(str(quantity))
        for inv, wh, batch, quantity in rows(
            db, "SELECT cInvCode, cWhCode, cBatch, iQuantity FROM CurrentStock"
        )
    }


def voucher_lines(db: pyodbc.Connection) -> list[tuple[str, tuple[object, ...]]]:
    """Every voucher line with the header fields that decide whether it counts."""
    lines: list[tuple[str, tuple[object, ...]]] = []
    for voucher_type in TYPES:
        query = (
            "SELECT h.bRdFlag, h.cHandler, h.dVeriDate, h.bOMFirst, h.bpufirst, h.biafirst,"
            " h.cBusType, h.cWhCode, l.cInvCode, l.cBatch, l.iQuantity, h.bredvouch"
            f" FROM RdRecord{voucher_type} h JOIN RdRecords{voucher_type} l ON l.ID = h.ID"
        )
        lines.extend((voucher_type, row) for row in rows(db, query))
    return lines


def u8_arithmetic(db: pyodbc.Connection) -> dict[Key, Decimal]:
    """U8's month-end stock arithmetic (U8-CO PeriodStockSql), summed to now."""
    stock: dict[Key, Decimal] = {}
    for voucher_type, line in voucher_lines(db):
        (
            rd_flag,
            handler,
            verified,
            om_first,
            pu_first,
            ia_first,
            bus_type,
            wh,
            inv,
            batch,
            qty,
            _,
        ) = line
        if not handler or verified is None:
            continue
        if om_first or pu_first or ia_first:
            continue
        if voucher_type == "11" and bus_type == "假退料":
            continue
        key = (str(inv), str(wh), str(batch))
        sign = 1 if rd_flag == 1 else -1
        stock[key] = stock.get(key, Decimal(0)) + sign * Decimal(str(qty))
    return stock


def nonzero(stock: dict[Key, Decimal]) -> dict[Key, Decimal]:
    return {key: value for key, value in stock.items() if value}


def test_chinese_names_and_blank_batches_survive_the_driver(
    truth: Path, target: Target
) -> None:
    connection_string = build_u8(truth, target)
    with odbc(connection_string) as db:
        names = dict(truth_rows(truth, "SELECT material, name FROM materials"))
        assert dict(rows(db, "SELECT cInvCode, cInvName FROM Inventory")) == names
        assert any("\u4e00" <= ch <= "\u9fff" for name in names.values() for ch in name)
        warehouses = dict(rows(db, "SELECT cWhCode, cWhName FROM Warehouse"))
        assert warehouses == {"FG01": "成品仓", "LS01": "线边仓", "RM01": "原材料仓"}
        units = {
            name for (name,) in rows(db, "SELECT cComUnitName FROM ComputationUnit")
        }
        assert {"个", "箱"} <= units

        batch_managed = dict(
            truth_rows(truth, "SELECT material, batch_managed FROM materials")
        )
        stock_rows = rows(
            db, "SELECT cInvCode, cBatch, cFree1, cFree10 FROM CurrentStock"
        )
        assert all(
            batch is not None and free1 == "" and free10 == ""
            for _, batch, free1, free10 in stock_rows
        )
        assert {batch for inv, batch, _, _ in stock_rows if not batch_managed[inv]} == {
            ""
        }
        lines = voucher_lines(db)
        assert all(line[9] is not None for _, line in lines)
        assert any(line[9] == "" for _, line in lines)


def test_u8_arithmetic_over_vouchers_equals_current_stock_and_truth(
    truth: Path, target: Target
) -> None:
    connection_string = build_u8(truth, target)
    with odbc(connection_string) as db:
        arithmetic = u8_arithmetic(db)
        stock = current_stock(db)
        assert nonzero(arithmetic) == nonzero(stock)
        assert stock == truth_stock(truth)

        # The traps are really there: counting unaudited, planted opening and
        # 假退料 vouchers, or ignoring bRdFlag, gives another answer.
        lines = voucher_lines(db)
        assert any(not line[1] for _, line in lines)  # unaudited (cHandler '')
        assert any(line[3] == 1 for _, line in lines)  # bOMFirst
        assert any(t == "11" and line[6] == "假退料" for t, line in lines)
        red = [line for _, line in lines if line[11] == 1]
        assert red
        assert all(Decimal(str(line[10])) < 0 for line in red)
        naive: dict[Key, Decimal] = {}
        for _, line in lines:
            key = (str(line[8]), str(line[7]), str(line[9]))
            naive[key] = naive.get(key, Decimal(0)) + (
                1 if line[0] == 1 else -1
            ) * Decimal(str(line[10]))
        assert nonzero(naive) != nonzero(stock)


def test_transfers_are_transvouch_plus_generated_08_09(
    truth: Path, target: Target
) -> None:
    connection_string = build_u8(truth, target)
    with odbc(connection_string) as db:
        transfers = rows(
            db,
            "SELECT t.cTVCode, t.cOWhCode, t.cIWhCode, t.cVerifyPerson, s.cInvCode, s.iTVQuantity"
            " FROM TransVouch t JOIN TransVouchs s ON s.ID = t.ID",
        )
        assert transfers
        generated = rows(
            db,
            "SELECT h.cBusCode, h.cWhCode, l.cInvCode, l.iQuantity FROM RdRecord09 h"
            " JOIN RdRecords09 l ON l.ID = h.ID WHERE h.cSource = '调拨'",
        )
        audited = sorted(
            (code, source, inv, Decimal(str(q)))
            for code, source, _, verifier, inv, q in transfers
            if verifier
        )
        assert sorted((c, w, i, Decimal(str(q))) for c, w, i, q in generated) == audited


def test_times_are_china_local_and_vouchers_keep_the_truth_numbers(
    truth: Path, target: Target
) -> None:
    connection_string = build_u8(truth, target)
    with odbc(connection_string) as db:
        document, line, posted, entered = truth_rows(
            truth,
            "SELECT document, line, posted_at, entered_at FROM movements"
            " WHERE system='u8' AND kind='sales_issue' AND effective=1 ORDER BY id LIMIT 1",
        )[0]
        found = rows(
            db,
            "SELECT h.dDate, h.dnmaketime, h.dVeriDate, l.irowno FROM RdRecord32 h"
            f" JOIN RdRecords32 l ON l.ID = h.ID WHERE h.cCode = '{document}'",
        )
        china = timedelta(hours=8)
        made = datetime.fromisoformat(str(entered)).replace(tzinfo=None) + china
        day = (datetime.fromisoformat(str(posted)).replace(tzinfo=None) + china).date()
        assert found == [
            (
                datetime.combine(day, datetime.min.time()),
                made,
                datetime.combine(made.date(), datetime.min.time()),
                line,
            )
        ]


@pytest.fixture(scope="module")
def late_truth(truth: Path) -> Path:
    """The truth with a few U8 lines marked late (the generator plans none for U8).

    A late line is in the closing stock already, so only the flag changes.
    """
    path = truth.with_name("late_truth.sqlite")
    path.write_bytes(truth.read_bytes())
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(
            "UPDATE movements SET late = 1 WHERE id IN (SELECT id FROM movements"
            " WHERE system='u8' AND effective=1 AND kind IN ('production_issue', 'transfer')"
            " ORDER BY id DESC LIMIT 5)"
        )
        connection.commit()
    return path


def test_release_late_posts_the_held_lines_with_higher_ufts(
    late_truth: Path, target: Target
) -> None:
    truth = late_truth
    connection_string = build_u8(truth, target, hold_late=True)
    with odbc(connection_string) as db:
        late = truth_rows(
            truth, "SELECT count(*) FROM movements WHERE system='u8' AND late=1"
        )[0][0]
        assert late == 5

        held = current_stock(db)
        assert held == truth_stock(truth, without_late=True)
        assert nonzero(u8_arithmetic(db)) == nonzero(held)
        before = max(int(str(v)) for (v,) in rows(db, "SELECT ufts FROM CurrentStock"))
        lines_before = len(voucher_lines(db))

        assert release_late(truth, target) == late

        assert len(voucher_lines(db)) > lines_before
        new = []
        for voucher_type in TYPES:
            new += rows(
                db, f"SELECT ufts FROM RdRecord{voucher_type} WHERE ufts > {before}"
            )
        assert new
        released = current_stock(db)
        assert released == truth_stock(truth)
        assert nonzero(u8_arithmetic(db)) == nonzero(released)
        changed = {key for key in released if released[key] != held[key]}
        assert changed
        newer = rows(
            db,
            f"SELECT cInvCode, cWhCode, cBatch FROM CurrentStock WHERE ufts > {before}",
        )
        assert {(str(i), str(w), str(b)) for i, w, b in newer} >= changed


def test_psqlodbc_connection_string_sets_schema_and_server_cursor(
    truth: Path, postgres_url: str
) -> None:
    target = PostgresTarget(
        postgres_url.replace("postgresql+psycopg://", "postgresql://"),
        f"u8sim_{uuid.uuid4().hex[:8]}",
    )
    try:
        connection_string = build_u8(truth, target)
        assert "UseDeclareFetch=1" in connection_string
        with odbc(connection_string) as connection:
            big = connection.cursor()
            big.execute("SELECT * FROM CurrentStock")
            assert big.fetchone() is not None
            probe = connection.cursor()
            probe.execute("SELECT statement FROM pg_cursors")
            statements = [str(statement) for (statement,) in probe.fetchall()]
            probe.close()
            big.close()
        assert any(
            "SELECT * FROM CurrentStock".lower() in s.lower() for s in statements
        )
    finally:
        drop_target(target)
