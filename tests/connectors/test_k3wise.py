"""`kind: k3wise` end to end through real ODBC drivers (SQLite ODBC and psqlODBC).

Each test builds site 4000's share of a small generated truth as a K3 WISE
account database (`simulators.k3wise_db`) into an SQLite file and into a
PostgreSQL schema, and reads it through the connector. The oracle is the
truth: its `stock` for K3 WISE, and its effective movements, rendered the way
the connector documents (transfer legs "<FEntryID>-out"/"-in", posting day
only, kinds by FTranType).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from stockbridge.connectors.base import Connector, Page
from stockbridge.connectors.k3wise import K3WiseConnector, K3WiseSettings
from stockbridge.connectors.k3wise_cursor import MovementCursor
from stockbridge.mapping.model import (
    LocationRecord,
    MaterialRecord,
    MovementRecord,
    SourceRecord,
    StockRecord,
    UnitRecord,
    UnreadableRecord,
)
from stockbridge.simulators.k3wise_db import build_k3wise, release_late
from stockbridge.simulators.odbc_targets import (
    PostgresTarget,
    SqliteTarget,
    Target,
    drop_target,
    open_loader,
)
from stockbridge.simulators.truth import generate

CHINA = ZoneInfo("Asia/Shanghai")
NOT_MOVED = 3
MovementKey = tuple[str, str]


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A truth with a few K3 WISE lines made non-moving (voided or unaudited bills).

    The generator plans none; the closing stock loses their effect, as the
    truth's contract says.
    """
    path = tmp_path_factory.mktemp("k3wise") / "truth.sqlite"
    generate(path, seed=23, materials=12, days=6)
    with closing(sqlite3.connect(path)) as db:
        chosen = db.execute(
            "SELECT id, material, warehouse, batch, quantity FROM movements"
            " WHERE system='k3wise' AND kind IN ('production_issue','receipt','sales_issue')"
            " AND late=0 ORDER BY id LIMIT ?",
            (NOT_MOVED,),
        ).fetchall()
        for ident, material, warehouse, batch, quantity in chosen:
            db.execute("UPDATE movements SET effective=0 WHERE id=?", (ident,))
            (held,) = db.execute(
                "SELECT quantity FROM stock WHERE system='k3wise' AND material=?"
                " AND warehouse=? AND batch=?",
                (material, warehouse, batch),
            ).fetchone()
            db.execute(
                "UPDATE stock SET quantity=? WHERE system='k3wise' AND material=?"
                " AND warehouse=? AND batch=?",
                (str(Decimal(held) - Decimal(quantity)), material, warehouse, batch),
            )
        db.commit()
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    built: Target
    if request.param == "sqlite":
        built = SqliteTarget(tmp_path / "k3wise.sqlite")
    else:
        url: str = request.getfixturevalue("postgres_url")
        built = PostgresTarget(
            url.replace("postgresql+psycopg://", "postgresql://"),
            f"k3wconn_{os.getpid()}_{uuid.uuid4().hex[:8]}",
        )
    yield built
    drop_target(built)


def make(odbc: str, **options: Any) -> K3WiseConnector:
    settings = K3WiseSettings.model_validate(
        {"odbc": odbc, "site": "4000", "timezone": "Asia/Shanghai", **options}
    )
    return K3WiseConnector("k3", settings, timezone="UTC")


def records(pages: Iterator[Page]) -> list[SourceRecord]:
    return [record for page in pages for record in page.records]


def movements(
    connector: Connector, cursor: str | None = None
) -> tuple[dict[MovementKey, MovementRecord], str | None]:
    """Every movement of one pull by key (asserting keys are unique), and its last cursor."""
    found: dict[MovementKey, MovementRecord] = {}
    last = cursor
    for page in connector.movements(cursor, lookback=timedelta(0)):
        for record in page.records:
            assert isinstance(record, MovementRecord), record
            key = (record.document, record.line)
            assert key not in found, key
            found[key] = record
        last = page.cursor
    return found, last


def keys(pages: list[Page]) -> set[MovementKey]:
    found = [r for page in pages for r in page.records]
    assert all(isinstance(r, MovementRecord) for r in found)
    return {(r.document, r.line) for r in found if isinstance(r, MovementRecord)}


# --- the oracle -----------------------------------------------------------------------


def truth_rows(truth: Path, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(truth)) as db:
        return db.execute(query).fetchall()


def truth_stock(truth: Path) -> dict[tuple[str, str, str], tuple[Decimal, Decimal]]:
    return {
        (m, w, b): (Decimal(q), Decimal(r))
        for m, w, b, q, r in truth_rows(
            truth,
            "SELECT material, warehouse, batch, quantity, reserved FROM stock"
            " WHERE system='k3wise' AND site='4000'",
        )
    }


def expected_kind(kind: str, quantity: Decimal, paired: bool) -> str:
    """The truth's kind as K3 WISE bill types can say it (see k3wise_rows)."""
    if kind == "transfer":
        return "transfer" if paired else ("receipt" if quantity > 0 else "issue")
    if kind == "scrap":  # 43 盘亏毁损 is a count loss or a write-off: adjustment
        return "adjustment"
    if (kind == "receipt" and quantity < 0) or (
        kind == "production_issue" and quantity > 0
    ):
        return "return"
    return kind


def expected_movements(
    truth: Path, *, late: bool | None = None
) -> dict[MovementKey, dict[str, Any]]:
    """Effective K3 WISE lines keyed as the connector keys them."""
    rows = truth_rows(
        truth,
        "SELECT m.id, m.document, m.line, m.kind, m.material, m.warehouse, m.batch,"
        " m.quantity, m.posted_at, m.entered_at, m.order_ref, m.late,"
        " r.document, r.line, c.id, c.line, c.effective = m.effective AND c.late = m.late"
        " FROM movements m LEFT JOIN movements r ON r.id = m.reverses"
        " LEFT JOIN movements c ON c.id = m.counterpart AND c.system = m.system"
        " WHERE m.system='k3wise' AND m.effective=1",
    )
    expected: dict[MovementKey, dict[str, Any]] = {}
    for (_, document, line, kind, material, warehouse, batch, quantity, posted, entered,
         order_ref, is_late, r_document, r_line, partner, partner_line, same) in rows:  # fmt: skip
        if late is not None and bool(is_late) != late:
            continue
        signed = Decimal(quantity)
        paired = kind == "transfer" and partner is not None and bool(same)
        if paired:
            out_line = line if signed < 0 else partner_line
            key = (document, f"{out_line}-{'out' if signed < 0 else 'in'}")
        else:
            key = (document, str(line))
        expected[key] = {
            "kind": expected_kind(kind, signed, paired),
            "material": material,
            "warehouse": warehouse,
            "batch": batch,
            "quantity": signed,
            "day": datetime.fromisoformat(posted).astimezone(CHINA).date(),
            "entered_at": datetime.fromisoformat(entered),
            "order_ref": order_ref,
            "reverses": "" if r_document is None else f"{r_document}/{r_line}",
        }
    return expected


def as_found(record: MovementRecord) -> dict[str, Any]:
    return {
        "kind": record.kind.value,
        "material": record.material,
        "warehouse": record.warehouse,
        "batch": record.batch,
        "quantity": record.quantity,
        "day": record.posted_at.astimezone(CHINA).date(),
        "entered_at": record.entered_at,
        "order_ref": record.order_ref,
        "reverses": record.reverses,
    }


def assert_movements_equal_truth(
    found: dict[MovementKey, MovementRecord],
    expected: dict[MovementKey, dict[str, Any]],
) -> None:
    assert set(found) == set(expected)
    for key, record in found.items():
        want = dict(expected[key])
        got = as_found(record)
        if record.entered_at is None:  # saved, not audited: K3 has no entry time
            assert record.raw["FStatus"] == 0, key
            want["entered_at"] = None
        assert got == want, key
        assert record.site == "4000"
        assert record.status == "unrestricted"
        assert record.posted_at.tzinfo is UTC


# --- stock and master data --------------------------------------------------------------


def test_stock_equals_the_truths_k3wise_stock(truth: Path, target: Target) -> None:
    with make(build_k3wise(truth, target)) as connector:
        found = records(connector.stock())
    assert all(isinstance(r, StockRecord) for r in found)
    stock = [r for r in found if isinstance(r, StockRecord)]
    by_key = {
        (r.material, r.warehouse, r.batch): (r.quantity, r.reserved) for r in stock
    }
    assert len(by_key) == len(stock)
    assert by_key == truth_stock(truth)
    assert any(reserved for _, reserved in by_key.values())
    assert {r.site for r in stock} == {"4000"}
    assert {r.status for r in stock} == {"unrestricted"}
    assert {r.location for r in stock} == {""}
    assert {r.special_stock for r in stock} == {""}
    assert {r.unit for r in stock} <= {"千克", "个", "米", "升"}
    assert all(isinstance(r.quantity, Decimal) for r in stock)


def test_virtual_warehouses_only_when_asked(truth: Path, target: Target) -> None:
    odbc = build_k3wise(truth, target)
    with make(odbc, include_virtual=True, page_size=7) as connector:
        pages = list(connector.stock())
        locations = records(connector.locations())
    assert all(len(page.records) <= 7 for page in pages)
    stock = [r for page in pages for r in page.records if isinstance(r, StockRecord)]
    virtual = [r for r in stock if r.warehouse == "VM01"]
    assert sorted(r.quantity for r in virtual) == [Decimal(50), Decimal(100)]
    assert {r.special_stock for r in virtual} == {"virtual:503"}
    assert len(stock) == len(truth_stock(truth)) + 2
    assert {getattr(r, "warehouse", None) for r in locations} == {
        "FG01",
        "LS01",
        "RM01",
        "VM01",
    }


def test_materials_locations_and_units_carry_chinese_names(
    truth: Path, target: Target
) -> None:
    with make(build_k3wise(truth, target)) as connector:
        materials = records(connector.materials())
        locations = records(connector.locations())
        units = records(connector.units())
    names = dict(truth_rows(truth, "SELECT material, name FROM materials"))
    assert {
        r.material: r.name for r in materials if isinstance(r, MaterialRecord)
    } == names
    batch_managed = dict(
        truth_rows(truth, "SELECT material, batch_managed FROM materials")
    )
    assert {
        r.material: int(r.batch_managed)
        for r in materials
        if isinstance(r, MaterialRecord)
    } == batch_managed
    assert {
        (r.warehouse, r.name) for r in locations if isinstance(r, LocationRecord)
    } == {
        ("FG01", "成品仓"), ("LS01", "线边仓"), ("RM01", "原材料仓"),
    }  # fmt: skip
    factors = {
        (material, {"CT": "箱", "BX": "盒"}[unit], Decimal(factor))
        for material, unit, factor in truth_rows(
            truth,
            "SELECT material, alt_unit, alt_factor FROM materials WHERE alt_unit <> ''",
        )
    }
    assert factors
    assert {
        (r.material, r.unit, Decimal(r.factor.numerator) / r.factor.denominator)
        for r in units
        if isinstance(r, UnitRecord)
    } == factors
    assert not [
        r for r in (*materials, *locations, *units) if isinstance(r, UnreadableRecord)
    ]


# --- movements ---------------------------------------------------------------------------


@pytest.mark.parametrize("upstock_when_save", [True, False])
def test_movements_equal_the_truth(
    truth: Path, target: Target, upstock_when_save: bool
) -> None:
    odbc = build_k3wise(truth, target, upstock_when_save=upstock_when_save)
    with make(odbc, page_size=10) as connector:
        found, cursor = movements(connector)
    assert_movements_equal_truth(found, expected_movements(truth))
    assert cursor is not None
    # The traps the comparison covers, present in this data:
    raw = [r.raw for r in found.values()]
    assert {"JTZ000001", "ZGBC000001"}.isdisjoint(d for d, _ in found)  # money-only
    assert any(r["FROB"] == -1 for r in raw)  # red bills
    picks = [r for r in raw if r["FTranType"] == 24]
    assert picks
    assert all(r["FDCStockID"] == 0 for r in picks)  # 24 moves FSCStockID
    saved_only = [r for r in raw if r["FStatus"] == 0]  # moved on save, not audited
    assert bool(saved_only) == upstock_when_save
    assert any(k.line.endswith("-out") for k in found.values())


def test_bills_that_did_not_move_stock_are_not_emitted(
    truth: Path, target: Target
) -> None:
    odbc = build_k3wise(truth, target)
    with open_loader(target) as loader:
        states = loader.query(
            "SELECT FStatus, FCancellation, FUpStockWhenSave, COUNT(*) FROM ICStockBill"
            " WHERE FTranType NOT IN (100, 101) AND FStatus = 0"
            " GROUP BY FStatus, FCancellation, FUpStockWhenSave"
        )
    kinds = {(int(str(s)), int(str(c)), int(str(u))) for s, c, u, _ in states}
    assert {(0, 1, 1), (0, 0, 0), (0, 0, 1)} <= kinds  # voided, unaudited, saved-moved
    not_moved = {
        (d, str(n))
        for d, n in truth_rows(
            truth,
            "SELECT document, line FROM movements WHERE system='k3wise' AND effective=0",
        )
    }
    assert len(not_moved) == NOT_MOVED
    with make(odbc) as connector:
        found, _ = movements(connector)
    assert not not_moved & set(found)


def test_the_account_option_decides_bills_without_their_own_flag(
    truth: Path, target: Target
) -> None:
    """FUpStockWhenSave NULL: the bill follows t_SystemProfile's UPSTOCKWHENSAVE."""
    odbc = build_k3wise(truth, target)
    with open_loader(target) as loader:
        loader.execute(
            "UPDATE ICStockBill SET FUpStockWhenSave = NULL"
            " WHERE FStatus = 0 AND FCancellation = 0 AND FUpStockWhenSave = 1"
        )
    with make(odbc) as connector:
        on, _ = movements(connector)
    assert_movements_equal_truth(on, expected_movements(truth))
    with open_loader(target) as loader:
        loader.execute(
            "UPDATE t_SystemProfile SET FValue = '0' WHERE FCategory = 'IC' AND FKey = 'UPSTOCKWHENSAVE'"
        )
    with make(odbc) as connector:
        off, _ = movements(connector)
    saved_only = {key for key, record in on.items() if record.raw["FStatus"] == 0}
    assert saved_only
    assert set(off) == set(on) - saved_only


# --- incremental ----------------------------------------------------------------------------


def test_incremental_pull_returns_late_bills_and_the_rescan_overlap(
    truth: Path, target: Target
) -> None:
    odbc = build_k3wise(truth, target, hold_late=True)
    with make(odbc) as connector:
        first, cursor = movements(connector)
        assert_movements_equal_truth(first, expected_movements(truth, late=False))
        assert cursor is not None
        saved = MovementCursor.from_json(cursor, source="k3")
        assert saved.checked_at is not None
        assert saved.inter_id == max(
            int(str(r.raw["FInterID"])) for r in first.values()
        )

        assert release_late(truth, target) > 0
        second, after = movements(connector, cursor)
    late = expected_movements(truth, late=True)
    assert late
    assert set(late) <= set(second)
    assert_movements_equal_truth({k: second[k] for k in late}, late)
    since = saved.checked_at.date()
    overlap = set(second) - set(late)
    assert len(overlap) < len(first) / 2
    for (
        key
    ) in overlap:  # re-read because they were posted or audited on the re-scan day
        record = second[key]
        assert record == first[key]
        local_days = {record.posted_at.astimezone(CHINA).date()}
        if record.entered_at is not None:
            local_days.add(record.entered_at.astimezone(CHINA).date())
        assert max(local_days) >= since
    assert after is not None
    assert MovementCursor.from_json(after, source="k3").inter_id > saved.inter_id


def test_a_late_audit_of_an_old_bill_is_caught(truth: Path, target: Target) -> None:
    odbc = build_k3wise(truth, target)
    with make(odbc) as connector:
        first, cursor = movements(connector)
        assert cursor is not None
        saved = MovementCursor.from_json(cursor, source="k3")
        assert saved.checked_at is not None
        with open_loader(target) as loader:
            (inter_id,) = loader.query(
                "SELECT MIN(FInterID) FROM ICStockBill WHERE FStatus = 0"
                " AND FCancellation = 0 AND FUpStockWhenSave = 0"
            )[0]
            audited_at = saved.checked_at + timedelta(hours=1)
            loader.execute(
                "UPDATE ICStockBill SET FStatus = 1, FCheckerID = 16395, FCheckDate = ?"
                " WHERE FInterID = ?",
                (audited_at.isoformat(" "), int(str(inter_id))),
            )
        assert int(str(inter_id)) < saved.inter_id
        second, after = movements(connector, cursor)
    caught = {k for k, r in second.items() if r.raw["FInterID"] == int(str(inter_id))}
    assert caught
    assert not caught & set(first)
    for key in caught:
        assert second[key].entered_at == audited_at.replace(tzinfo=CHINA).astimezone(
            UTC
        )
    assert after is not None
    assert MovementCursor.from_json(after, source="k3").checked_at == audited_at


def test_resume_from_a_cursor_saved_mid_way(truth: Path, target: Target) -> None:
    odbc = build_k3wise(truth, target)
    with make(odbc, page_size=9) as connector:
        pages = list(connector.movements(None, lookback=timedelta(hours=2)))
        assert len(pages) > 4
        assert all(len(page.records) <= 9 for page in pages)
        full = keys(pages)
        for index, page in enumerate(pages[:-1]):
            assert page.cursor is not None
            mark = MovementCursor.from_json(page.cursor, source="k3")
            later = [r for p in pages[index + 1 :] for r in p.records]
            assert all(int(str(r.raw["FInterID"])) > mark.inter_id for r in later)
        middle = pages[3].cursor
        assert middle is not None
        before = keys(pages[:4])
        resumed, _ = movements(connector, middle)
    assert set(resumed) | before == full
    mark = MovementCursor.from_json(middle, source="k3")
    assert all(int(str(r.raw["FInterID"])) > mark.inter_id for r in resumed.values())
