"""K3 WISE rows to records, on hand-made rows: the odd cases the simulator has none of.

Rows are labelled as `k3wise_sql` labels them and carry values as the drivers
deliver them (SQLite: quantities as text; psqlODBC and SQL Server: Decimal).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from stockbridge.connectors.errors import SourceConfigError
from stockbridge.connectors.k3wise_cursor import MovementCursor
from stockbridge.connectors.k3wise_rows import (
    movement_records,
    stock_record,
    unit_record,
)
from stockbridge.connectors.k3wise_sql import BILLS, INVENTORY
from stockbridge.mapping.model import (
    MovementKind,
    MovementRecord,
    SourceRecord,
    StockRecord,
    UnitRecord,
    UnreadableRecord,
)

CHINA = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """A naive China-local time, as K3 stores them."""
    return datetime.fromisoformat(text)


def bill(**values: Any) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(BILLS.labels)
    row.update(
        FInterID=1001, FEntryID=1, FBillNo="WIN000001", FTranType=1,
        FDate=local("2026-03-26 00:00:00"), FCheckDate=local("2026-03-26 10:13:38"),
        FROB=1, FStatus=1, FCancellation=0, FUpStockWhenSave=1, FQty="12.5000000000",
        FBatchNo="", FItemID=1001, FDCStockID=203, FSCStockID=0,
        **{"item.FNumber": "100001", "unit.FName": "千克", "dc.FNumber": "RM01"},
    )  # fmt: skip
    row.update(values)
    return row


def read(row: dict[str, object]) -> list[SourceRecord]:
    return movement_records(row, site="4000", zone=CHINA)


def one(row: dict[str, object]) -> MovementRecord:
    (record,) = read(row)
    assert isinstance(record, MovementRecord), record
    return record


def unreadable(row: dict[str, object]) -> str:
    (record,) = read(row)
    assert isinstance(record, UnreadableRecord), record
    return record.reason


def test_a_blue_receipt_adds_to_the_destination_warehouse() -> None:
    record = one(bill())
    assert (record.document, record.line, record.kind) == (
        "WIN000001",
        "1",
        MovementKind.RECEIPT,
    )
    assert (record.warehouse, record.quantity, record.unit) == (
        "RM01",
        Decimal("12.5"),
        "千克",
    )
    assert record.posted_at == datetime(2026, 3, 25, 16, tzinfo=UTC)
    assert record.entered_at == datetime(2026, 3, 26, 2, 13, 38, tzinfo=UTC)
    assert record.raw["FQty"] == "12.5000000000"
    assert record.raw["FDate"] == "2026-03-26T00:00:00"


def test_red_purchase_receipt_without_a_source_is_a_return_to_the_vendor() -> None:
    record = one(bill(FROB=-1, FQty=Decimal("-4.000")))
    assert (record.kind, record.quantity, record.reverses) == (
        MovementKind.RETURN, Decimal("-4.000"), "",
    )  # fmt: skip


def test_red_production_issue_is_a_return_from_production_into_fscstockid() -> None:
    record = one(
        bill(FTranType=24, FROB=-1, FQty=Decimal(-3), FDCStockID=0, FSCStockID=202,
             **{"dc.FNumber": None, "sc.FNumber": "LS01"})
    )  # fmt: skip
    assert (record.kind, record.warehouse, record.quantity) == (
        MovementKind.RETURN, "LS01", Decimal(3),
    )  # fmt: skip


def test_red_sales_issue_keeps_its_kind_and_comes_back_in() -> None:
    record = one(bill(FTranType=21, FROB=-1, FQty="-2"))
    assert (record.kind, record.quantity) == (MovementKind.SALES_ISSUE, Decimal(2))


def test_a_red_bill_naming_a_source_of_its_own_type_reverses_that_line() -> None:
    record = one(
        bill(
            FROB=-1,
            FQty="-4",
            FSourceTranType=1,
            FSourceBillNo="WIN000000",
            FSourceEntryID=3,
        )
    )
    assert (record.kind, record.reverses) == (MovementKind.REVERSAL, "WIN000000/3")
    other = one(
        bill(
            FROB=-1,
            FQty="-4",
            FSourceTranType=72,
            FSourceBillNo="TL000001",
            FSourceEntryID=1,
        )
    )
    assert (other.kind, other.reverses) == (MovementKind.RETURN, "")


def test_a_transfer_is_two_legs_and_a_red_one_reverses_each_leg() -> None:
    row = bill(FTranType=41, FBillNo="CHG000001", FQty="7", FDCStockID=202, FSCStockID=203,
               **{"dc.FNumber": "LS01", "sc.FNumber": "RM01"})  # fmt: skip
    out, into = read(row)
    assert isinstance(out, MovementRecord)
    assert isinstance(into, MovementRecord)
    assert [(r.line, r.warehouse, r.quantity, r.kind) for r in (out, into)] == [
        ("1-out", "RM01", Decimal(-7), MovementKind.TRANSFER),
        ("1-in", "LS01", Decimal(7), MovementKind.TRANSFER),
    ]
    red = {**row, "FBillNo": "CHG000002", "FROB": -1, "FQty": "-7", "FSourceTranType": 41,
           "FSourceBillNo": "CHG000001", "FSourceEntryID": 1}  # fmt: skip
    legs = read(red)
    assert [
        (r.line, r.quantity, r.reverses) for r in legs if isinstance(r, MovementRecord)
    ] == [
        ("1-out", Decimal(7), "CHG000001/1-out"),
        ("1-in", Decimal(-7), "CHG000001/1-in"),
    ]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"FROB": -1, "FQty": "5"}, "red bill"),
        ({"FQty": "-5"}, "blue bill"),
        ({"FTranType": 99}, "FTranType 99"),
        ({"item.FNumber": None, "FItemID": 4711}, "FItemID 4711 is not in t_ICItem"),
        ({"FTranType": 24, "sc.FNumber": None}, "FSCStockID 0 is not in t_Stock"),
        ({"unit.FName": None}, "no base unit"),
        ({"FQty": "abc"}, "FQty 'abc' is not a number"),
        ({"FQty": None}, "FQty None is not a number"),
        ({"FDate": "yesterday"}, "FDate 'yesterday'"),
        ({"FBillNo": ""}, "FBillNo is empty"),
    ],
)
def test_rows_that_cannot_be_read_are_kept_with_the_reason(
    values: dict[str, object], reason: str
) -> None:
    assert reason in unreadable(bill(**values))


def test_times_may_arrive_as_text() -> None:
    record = one(bill(FDate="2026-03-26 00:00:00", FCheckDate=None, FStatus=0))
    assert record.posted_at == datetime(2026, 3, 25, 16, tzinfo=UTC)
    assert record.entered_at is None


def test_a_virtual_warehouse_row_is_special_stock_and_a_null_lock_is_zero() -> None:
    row: dict[str, object] = dict.fromkeys(INVENTORY.labels)
    row.update(
        {"item.FNumber": "100001", "stock.FNumber": "VM01", "FQty": Decimal("50.0000000000"),
         "unit.FName": "千克", "FStockTypeID": 503, "FBatchNo": "B1", "FItemID": 1001}
    )  # fmt: skip
    record = stock_record(row, site="4000", as_of=datetime(2026, 4, 1, tzinfo=UTC))
    assert isinstance(record, StockRecord)
    assert (record.special_stock, record.reserved, record.location) == (
        "virtual:503",
        Decimal(0),
        "",
    )
    assert record.quantity == Decimal(50)


def test_unit_factors_are_exact_and_must_be_positive() -> None:
    row = {
        "FItemID": 1002, "unit.FMeasureUnitID": 103, "item.FNumber": "100002",
        "unit.FName": "箱", "unit.FCoefficient": "24.0000000000",
        "base.FName": "个", "base.FCoefficient": Decimal("1.0000000000"),
    }  # fmt: skip
    record = unit_record(row)
    assert isinstance(record, UnitRecord)
    assert (record.unit, record.base_unit, record.factor) == ("箱", "个", Fraction(24))
    bad = unit_record({**row, "unit.FCoefficient": "0"})
    assert isinstance(bad, UnreadableRecord)
    assert "not positive" in bad.reason


def test_the_cursor_survives_json_and_refuses_what_it_did_not_write() -> None:
    cursor = MovementCursor(1234, local("2026-03-31 22:00:00"))
    assert MovementCursor.from_json(cursor.to_json(), source="k3") == cursor
    assert (
        MovementCursor.from_json(
            MovementCursor(5, None).to_json(), source="k3"
        ).checked_at
        is None
    )
    for text in ("", "[]", '{"inter_id": "12", "checked_at": null}', '{"inter_id": 1}'):
        with pytest.raises(SourceConfigError, match="full sync"):
            MovementCursor.from_json(text, source="k3")


def test_keyset_statements_resume_after_the_whole_key() -> None:
    sql, params = BILLS.statement(["b.FTranType <> ?"], [100], after=(1005, 3))
    assert sql.endswith(
        "WHERE b.FTranType <> ? AND (b.FInterID >= ? AND ((b.FInterID > ?)"
        " OR (b.FInterID = ? AND e.FEntryID > ?))) ORDER BY b.FInterID, e.FEntryID"
    )
    assert params == (100, 1005, 1005, 1005, 3)
