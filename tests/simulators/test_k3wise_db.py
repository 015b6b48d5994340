"""The K3 WISE database simulator, read through real ODBC drivers (SQLite ODBC and psqlODBC).

Each test builds site 4000's share of a small generated truth into an SQLite
file and into a PostgreSQL schema, reads it with pyodbc as a connector would,
and checks K3 WISE's stock arithmetic (FTranType direction, red bills,
FSCStockID for 领料, voided and unaudited bills under UPSTOCKWHENSAVE,
money-only bills left out) against ICInventory and against the truth.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from decimal import Decimal
from pathlib import Path

import pyodbc
import pytest

from stockbridge.simulators.k3wise_db import build_k3wise, release_late
from stockbridge.simulators.odbc_targets import (
    PostgresTarget,
    SqliteTarget,
    Target,
    drop_target,
)
from stockbridge.simulators.truth import generate

Key = tuple[str, str, str]  # (material, warehouse, batch) as FNumber codes
RECEIPTS = {1, 2, 3, 5, 10, 40}
ISSUES = {21, 24, 28, 29, 43}
TRANSFER = 41
NOT_MOVED = 3  # truth lines the fixture turns into bills that did not move stock


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated truth with a few K3 WISE lines turned into non-moving ones.

    The generator plans no unaudited K3 WISE voucher; to have voided and
    unaudited bills, some lines become `effective=0` and the closing stock
    loses their effect, as the truth's contract says.
    """
    path = tmp_path_factory.mktemp("k3truth") / "truth.sqlite"
    generate(path, seed=23, materials=12, days=6)
    with closing(sqlite3.connect(path)) as connection:
        chosen = connection.execute(
            "SELECT id, material, warehouse, batch, quantity FROM movements"
            " WHERE system='k3wise' AND kind IN ('production_issue', 'receipt', 'sales_issue')"
            " AND late=0 ORDER BY id LIMIT ?",
            (NOT_MOVED,),
        ).fetchall()
        for ident, material, warehouse, batch, quantity in chosen:
            connection.execute(
                "UPDATE movements SET effective = 0 WHERE id = ?", (ident,)
            )
            (held,) = connection.execute(
                "SELECT quantity FROM stock WHERE system='k3wise' AND material=? AND warehouse=? AND batch=?",
                (material, warehouse, batch),
            ).fetchone()
            connection.execute(
                "UPDATE stock SET quantity = ? WHERE system='k3wise' AND material=? AND warehouse=? AND batch=?",
                (str(Decimal(held) - Decimal(quantity)), material, warehouse, batch),
            )
        connection.commit()
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    built: Target
    if request.param == "sqlite":
        built = SqliteTarget(tmp_path / "k3.sqlite")
    else:
        url: str = request.getfixturevalue("postgres_url")
        schema = f"k3wsim_{os.getpid()}_{uuid.uuid4().hex[:8]}"
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
        (str(m), str(w), str(b)): Decimal(str(q))
        for m, w, b, q in truth_rows(
            truth,
            "SELECT material, warehouse, batch, quantity FROM stock WHERE system='k3wise' AND site='4000'",
        )
    }
    if without_late:
        for m, w, b, q in truth_rows(
            truth,
            "SELECT material, warehouse, batch, quantity FROM movements"
            " WHERE system='k3wise' AND late=1 AND effective=1",
        ):
            stock[str(m), str(w), str(b)] -= Decimal(str(q))
    return stock


def codes(db: pyodbc.Connection) -> tuple[dict[int, str], dict[int, str]]:
    items = {
        int(str(i)): str(n)
        for i, n in rows(db, "SELECT FItemID, FNumber FROM t_ICItem")
    }
    stocks = {
        int(str(i)): str(n) for i, n in rows(db, "SELECT FItemID, FNumber FROM t_Stock")
    }
    return items, stocks


def ic_inventory(db: pyodbc.Connection) -> dict[Key, Decimal]:
    items, stocks = codes(db)
    return {
        (items[int(str(i))], stocks[int(str(s))], str(b)): Decimal(str(q))
        for i, s, b, q in rows(
            db, "SELECT FItemID, FStockID, FBatchNo, FQty FROM ICInventory"
        )
    }


def bill_lines(db: pyodbc.Connection) -> list[tuple[object, ...]]:
    return rows(
        db,
        "SELECT b.FTranType, b.FStatus, b.FCancellation, b.FUpStockWhenSave, b.FROB,"
        " e.FItemID, e.FBatchNo, e.FDCStockID, e.FSCStockID, e.FQty, b.FInterID"
        " FROM ICStockBill b JOIN ICStockBillEntry e ON e.FInterID = b.FInterID",
    )


def k3_arithmetic(db: pyodbc.Connection) -> dict[Key, Decimal]:
    """Opening (ICInvBal of the start period) plus the effect of every bill that moved stock."""
    items, stocks = codes(db)
    profile = dict(
        rows(db, "SELECT FKey, FValue FROM t_SystemProfile WHERE FCategory = 'IC'")
    )
    stock: dict[Key, Decimal] = {}

    def add(item: object, stock_id: object, batch: object, quantity: Decimal) -> None:
        key = (items[int(str(item))], stocks[int(str(stock_id))], str(batch))
        stock[key] = stock.get(key, Decimal(0)) + quantity

    for stock_id, item, batch, quantity in rows(
        db,
        "SELECT FStockID, FItemID, FBatchNo, FBegQty FROM ICInvBal"
        f" WHERE FYear = {profile['StartYear']} AND FPeriod = {profile['StartPeriod']}",
    ):
        add(item, stock_id, batch, Decimal(str(quantity)))
    for (
        tran_type,
        status,
        cancelled,
        on_save,
        _,
        item,
        batch,
        dc,
        sc,
        quantity,
        _,
    ) in bill_lines(db):
        moved = int(str(status)) > 0 or (
            int(str(on_save)) > 0 and int(str(cancelled)) < 1
        )
        if not moved:
            continue
        amount = Decimal(str(quantity))
        if tran_type in RECEIPTS:
            add(item, dc, batch, amount)
        elif tran_type in ISSUES:
            add(item, sc if tran_type == 24 else dc, batch, -amount)
        elif tran_type == TRANSFER:
            add(item, sc, batch, -amount)
            add(item, dc, batch, amount)
    return stock


def nonzero(stock: dict[Key, Decimal]) -> dict[Key, Decimal]:
    return {key: value for key, value in stock.items() if value}


def test_chinese_names_and_blank_batches_survive_the_driver(
    truth: Path, target: Target
) -> None:
    connection_string = build_k3wise(truth, target)
    with odbc(connection_string) as db:
        names = dict(truth_rows(truth, "SELECT material, name FROM materials"))
        assert dict(rows(db, "SELECT FNumber, FName FROM t_ICItem")) == names
        warehouses = dict(
            rows(db, "SELECT FNumber, FName FROM t_Stock WHERE FTypeID = 500")
        )
        assert warehouses == {"FG01": "成品仓", "LS01": "线边仓", "RM01": "原材料仓"}
        assert {"千克", "个", "箱"} <= {
            str(n) for (n,) in rows(db, "SELECT FName FROM t_MeasureUnit")
        }

        batch_managed = {
            str(n): int(str(b))
            for n, b in rows(db, "SELECT FNumber, FBatchManager FROM t_ICItem")
        }
        items, _ = codes(db)
        inventory = rows(db, "SELECT FItemID, FBatchNo FROM ICInventory")
        assert all(batch is not None for _, batch in inventory)
        assert {b for i, b in inventory if not batch_managed[items[int(str(i))]]} == {
            ""
        }
        assert all(line[6] is not None for line in bill_lines(db))


def test_k3_arithmetic_equals_icinventory_and_truth(
    truth: Path, target: Target
) -> None:
    connection_string = build_k3wise(truth, target)
    with odbc(connection_string) as db:
        inventory = ic_inventory(db)
        assert nonzero(k3_arithmetic(db)) == nonzero(inventory)
        assert inventory == truth_stock(truth)

        lines = bill_lines(db)
        picks = [line for line in lines if line[0] == 24]
        assert picks
        assert all(line[7] == 0 and int(str(line[8])) > 0 for line in picks)
        others = [line for line in lines if line[0] not in (24, TRANSFER)]
        assert all(int(str(line[7])) > 0 and line[8] == 0 for line in others)
        red = [line for line in lines if line[4] == -1]
        assert red
        assert all(Decimal(str(line[9])) < 0 for line in red)
        money_only = [line for line in lines if line[0] in (100, 101, 102)]
        assert {line[0] for line in money_only} == {100, 101}
        assert all(Decimal(str(line[9])) != 0 for line in money_only)
        # The save-time trap: bills with FStatus 0 that moved stock, and ones that did not.
        assert any(line[1] == 0 and line[3] == 1 and line[2] == 0 for line in lines)
        assert any(line[2] == 1 for line in lines)
        assert any(line[1] == 0 and line[3] == 0 and line[2] == 0 for line in lines)
        profile = rows(
            db,
            "SELECT FValue FROM t_SystemProfile WHERE FCategory='IC' AND FKey='UPSTOCKWHENSAVE'",
        )
        assert profile == [("1",)]
        virtual = rows(db, "SELECT FQty, FStockTypeID FROM POInventory")
        assert virtual
        assert all(Decimal(str(q)) > 0 for q, _ in virtual)


def test_stock_moving_only_on_audit_gives_the_same_stock(
    truth: Path, target: Target
) -> None:
    connection_string = build_k3wise(truth, target, upstock_when_save=False)
    with odbc(connection_string) as db:
        inventory = ic_inventory(db)
        assert nonzero(k3_arithmetic(db)) == nonzero(inventory)
        assert inventory == truth_stock(truth)
        lines = bill_lines(db)
        assert not any(line[3] for line in lines)
        unaudited = [line for line in lines if line[1] == 0]
        assert len({line[10] for line in unaudited}) == NOT_MOVED


def test_transfers_are_one_41_entry_from_source_to_destination(
    truth: Path, target: Target
) -> None:
    connection_string = build_k3wise(truth, target)
    legs = truth_rows(
        truth,
        "SELECT o.document, o.line, o.warehouse, i.warehouse, o.quantity FROM movements o"
        " JOIN movements i ON i.id = o.counterpart"
        " WHERE o.system='k3wise' AND o.kind='transfer' AND o.quantity LIKE '-%'",
    )
    assert legs
    with odbc(connection_string) as db:
        _, stocks = codes(db)
        entries = rows(
            db,
            "SELECT b.FBillNo, e.FEntryID, e.FSCStockID, e.FDCStockID, e.FQty FROM ICStockBill b"
            " JOIN ICStockBillEntry e ON e.FInterID = b.FInterID WHERE b.FTranType = 41",
        )
    found = {
        (
            str(bill),
            int(str(entry)),
            stocks[int(str(sc))],
            stocks[int(str(dc))],
            Decimal(str(q)),
        )
        for bill, entry, sc, dc, q in entries
    }
    assert found == {
        (d, n, source, to, -Decimal(str(q))) for d, n, source, to, q in legs
    }


def test_release_late_adds_bills_with_higher_interids(
    truth: Path, target: Target
) -> None:
    late = truth_rows(
        truth, "SELECT count(*) FROM movements WHERE system='k3wise' AND late=1"
    )[0][0]
    assert late, "the generator plans a late K3 WISE posting"
    connection_string = build_k3wise(truth, target, hold_late=True)
    with odbc(connection_string) as db:
        held = ic_inventory(db)
        assert held == truth_stock(truth, without_late=True)
        assert held != truth_stock(truth)
        assert nonzero(k3_arithmetic(db)) == nonzero(held)
        before = int(str(rows(db, "SELECT MAX(FInterID) FROM ICStockBill")[0][0]))

        assert release_late(truth, target) == late

        new = rows(db, f"SELECT FBillNo FROM ICStockBill WHERE FInterID > {before}")
        documents = {
            str(d)
            for (d,) in truth_rows(
                truth, "SELECT document FROM movements WHERE system='k3wise' AND late=1"
            )
        }
        assert {str(b) for (b,) in new} == documents
        released = ic_inventory(db)
        assert released == truth_stock(truth)
        assert nonzero(k3_arithmetic(db)) == nonzero(released)
