"""The ground truth checked against itself: every figure in it must add up.

Each invariant is recomputed independently from the rows (with `Decimal`),
never by calling the generator's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from stockbridge.simulators.truth import generate as generate_truth
from stockbridge.simulators.truth import main
from stockbridge.simulators.truth_faults import FAULT_KINDS
from stockbridge.simulators.truth_reader import Movement, StockKey, TruthReader
from stockbridge.simulators.truth_schema import SYSTEMS

ERPS = ("sap", "ecc", "u8", "k3cloud", "k3wise")
MES_SITES = {"1000": "sap", "2000": "u8", "3000": "k3cloud", "4000": "k3wise"}
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"seed": 7, "materials": 6, "days": 2, "movements_per_day": 80},
    "small": {"seed": 42, "materials": 20, "days": 15, "movements_per_day": 600},
    "other-seed": {"seed": 2026, "materials": 12, "days": 8, "movements_per_day": 300},
}
DOCUMENT_FORMS = {
    "sap": r"(49|50)\d{8}",
    "ecc": r"(49|50)\d{8}",
    "u8": r"\d{10}",
    "k3cloud": r"[A-Z]{2,5}\d{5}",
    "k3wise": r"[A-Z]{2,4}\d{6}",
    "mes": r"MES-[A-Z]{2}-\d{6}",
}


@pytest.fixture(scope="module", params=sorted(SIZES))
def truth(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("truth") / "truth.sqlite"
    generate_truth(path, **SIZES[request.param])
    return path


@pytest.fixture
def reader(truth: Path) -> Iterator[TruthReader]:
    with TruthReader(truth) as opened:
        yield opened


def all_movements(reader: TruthReader) -> list[Movement]:
    return [m for system in SYSTEMS for m in reader.movements(system)]


def stock_of(reader: TruthReader, system: str) -> dict[StockKey, Decimal]:
    return {row.key: row.quantity for row in reader.stock(system)}


def rows_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with sqlite3.connect(path) as conn:
        for table in ("meta", "materials", "sites", "warehouses", "movements",
                      "opening_stock", "stock", "discrepancies"):  # fmt: skip
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid"):
                digest.update(repr(row).encode())
    conn.close()
    return digest.hexdigest()


def test_the_same_seed_gives_the_same_rows(tmp_path: Path) -> None:
    size: dict[str, Any] = {"materials": 10, "days": 6, "movements_per_day": 200}
    generate_truth(tmp_path / "a.sqlite", seed=5, **size)
    generate_truth(tmp_path / "b.sqlite", seed=5, **size)
    generate_truth(tmp_path / "c.sqlite", seed=6, **size)
    assert rows_digest(tmp_path / "a.sqlite") == rows_digest(tmp_path / "b.sqlite")
    assert rows_digest(tmp_path / "a.sqlite") != rows_digest(tmp_path / "c.sqlite")


def test_a_small_truth_generates_in_under_a_second(tmp_path: Path) -> None:
    started = time.perf_counter()
    summary = generate_truth(
        tmp_path / "t.sqlite", materials=20, days=10, movements_per_day=500
    )
    assert time.perf_counter() - started < 1.0
    assert summary.movements >= 5_000


def test_generating_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    path.write_text("not a database")
    summary = generate_truth(path, materials=8, days=3, movements_per_day=50)
    with TruthReader(path) as reader:
        assert reader.meta().movements == summary.movements
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.sqlite"]


def test_target_movements_sets_the_size(tmp_path: Path) -> None:
    summary = generate_truth(
        tmp_path / "t.sqlite", materials=8, days=10, target_movements=5_000
    )
    assert 5_000 <= summary.movements < 5_100


def test_meta_and_master_data_describe_the_group(reader: TruthReader) -> None:
    meta = reader.meta()
    assert meta.now_at == datetime(2026, 3, 31, 16, tzinfo=UTC)
    assert meta.start_at == datetime(2026, 3, 31, tzinfo=UTC) - timedelta(
        days=meta.days - 1
    )
    assert meta.movements == len(all_movements(reader))
    assert [(s.site, s.erp) for s in reader.sites()] == [
        ("1000", "sap"), ("1100", "ecc"), ("2000", "u8"), ("3000", "k3cloud"), ("4000", "k3wise"),
    ]  # fmt: skip
    line_side = {
        w.site: w.systems for w in reader.warehouses() if w.warehouse == "LS01"
    }
    assert line_side == {
        "1000": ("sap", "mes"), "1100": ("ecc",), "2000": ("u8", "mes"),
        "3000": ("k3cloud", "mes"), "4000": ("k3wise", "mes"),
    }  # fmt: skip
    assert {(w.site, w.warehouse) for w in reader.warehouses("mes")} == {
        (site, "LS01") for site in MES_SITES
    }
    materials = list(reader.materials())
    assert len(materials) == meta.materials
    assert [m.material for m in materials][:2] == ["100001", "100002"]
    assert {m.base_unit for m in materials} >= {"KGM", "H87", "MTR"}
    assert {(m.alt_unit, m.alt_factor) for m in materials} >= {("CT", 24), ("BX", 10)}
    assert {m.batch_managed for m in materials} == {True, False}


def test_stock_is_opening_plus_effective_movements(reader: TruthReader) -> None:
    for system in SYSTEMS:
        expected: dict[StockKey, Decimal] = defaultdict(Decimal)
        for row in reader.opening_stock(system):
            expected[row.key] += row.quantity
        for movement in reader.movements(system):
            if movement.effective:
                expected[movement.key] += movement.quantity
        stock = stock_of(reader, system)
        if system == "mes":  # the MES keeps no rows at zero
            expected = {key: qty for key, qty in expected.items() if qty}
        assert stock == dict(expected), system


def test_transfer_legs_name_each_other_and_cancel_out(reader: TruthReader) -> None:
    movements = {m.id: m for m in all_movements(reader)}
    legs = [m for m in movements.values() if m.counterpart is not None]
    assert legs
    for leg in legs:
        other = movements[leg.counterpart]  # type: ignore[index]
        assert other.counterpart == leg.id
        assert (other.event, other.system, other.document, other.kind) == (
            leg.event, leg.system, leg.document, "transfer",
        )  # fmt: skip
        assert leg.quantity + other.quantity == 0
    per_event: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for leg in legs:
        per_event[leg.event, leg.system] += leg.quantity
    assert set(per_event.values()) == {Decimal(0)}
    # the MES records the receipt leg into LS01 as its own line of the same event
    erp_receipts = {(m.event, m.quantity) for m in legs if m.warehouse == "LS01"}
    mes_transfers = [
        m for m in movements.values() if m.system == "mes" and m.kind == "transfer"
    ]
    assert mes_transfers
    assert all(
        (m.event, m.quantity) in erp_receipts and m.counterpart is None
        for m in mes_transfers
    )


def test_reversals_cancel_a_real_line_of_their_system(reader: TruthReader) -> None:
    movements = {m.id: m for m in all_movements(reader)}
    reversals = [m for m in movements.values() if m.reverses is not None]
    assert reversals
    assert {m.kind for m in reversals} == {"reversal"}
    assert len({m.reverses for m in reversals}) == len(reversals), (
        "a line reversed twice"
    )
    for reversal in reversals:
        original = movements[reversal.reverses]  # type: ignore[index]
        assert original.kind != "reversal"
        assert (original.system, original.key) == (reversal.system, reversal.key)
        assert reversal.quantity == -original.quantity
        assert (reversal.entry_unit, reversal.entry_quantity) == (
            original.entry_unit,
            original.entry_quantity,
        )
        assert reversal.posted_at >= original.posted_at


def test_every_discrepancy_kind_is_injected(reader: TruthReader) -> None:
    listed = Counter((d.kind, d.system) for d in reader.discrepancies())
    assert {kind for kind, _ in listed} == set(FAULT_KINDS)
    for d in reader.discrepancies():
        assert (d.difference == 0) == (d.kind in ("late_posting", "red_ink_reversal"))
        assert d.description
    assert listed["mes_only_issue", "sap"] == listed["mes_only_issue", "u8"] == 1
    assert {system for kind, system in listed if kind in ("unaudited_voucher", "red_ink_reversal")} <= {
        "u8", "k3cloud", "k3wise",
    }  # fmt: skip


def test_line_side_erp_minus_mes_is_exactly_the_listed_difference(
    reader: TruthReader,
) -> None:
    listed: dict[tuple[str, StockKey], Decimal] = defaultdict(Decimal)
    for d in reader.discrepancies():
        listed[d.system, d.key] += d.difference
    mes = stock_of(reader, "mes")
    checked = set()
    for site, erp in MES_SITES.items():
        erp_stock = {
            k: q for k, q in stock_of(reader, erp).items() if k[1:3] == (site, "LS01")
        }
        for key in erp_stock.keys() | {k for k in mes if k[1] == site}:
            assert (
                erp_stock.get(key, Decimal(0)) - mes.get(key, Decimal(0))
                == listed[erp, key]
            ), (erp, key)
            checked.add((erp, key))
    assert {(system, key) for system, key in listed if key[2] == "LS01"} <= checked


def test_a_late_posting_hides_exactly_its_line(reader: TruthReader) -> None:
    meta = reader.meta()
    late = [d for d in reader.discrepancies() if d.kind == "late_posting"]
    assert late
    for d in late:
        line = reader.movement(d.movement)
        assert (line.system, line.late, d.difference) == (d.system, True, Decimal(0))
        assert (
            timedelta(days=1) <= line.entered_at - line.posted_at <= timedelta(days=5)
        )
        assert line.entered_at <= meta.now_at
        mes = [
            m for m in reader.movements("mes", site=line.site) if m.event == line.event
        ]
        assert [(m.quantity, m.entered_at) for m in mes] == [
            (line.quantity, line.posted_at)
        ]
        visible = Decimal(0)
        for m in reader.movements(d.system, include_late=False):
            visible += m.quantity if m.key == d.key and m.effective else 0
        opening = sum(
            (r.quantity for r in reader.opening_stock(d.system) if r.key == d.key),
            Decimal(0),
        )
        assert stock_of(reader, d.system)[d.key] - (opening + visible) == line.quantity
    late_lines = [m for m in all_movements(reader) if m.late]
    assert sorted(m.id for m in late_lines) == sorted(d.movement for d in late)


def test_a_unit_slip_books_grams_as_kilograms(reader: TruthReader) -> None:
    for d in (d for d in reader.discrepancies() if d.kind == "unit_slip"):
        line = reader.movement(d.movement)
        assert (line.entry_unit, line.quantity) == ("GRM", -line.entry_quantity / 1000)
        mes = [m for m in reader.movements("mes") if m.event == line.event]
        assert [(m.entry_unit, m.quantity) for m in mes] == [
            ("KGM", -line.entry_quantity)
        ]
        assert d.difference == line.quantity - mes[0].quantity


def test_a_duplicate_posting_repeats_one_transfer(reader: TruthReader) -> None:
    duplicates = [d for d in reader.discrepancies() if d.kind == "duplicate_posting"]
    assert sorted(d.warehouse for d in duplicates) == ["LS01", "RM01"]
    for d in duplicates:
        line = reader.movement(d.movement)
        same_event = [m for m in reader.movements(d.system) if m.event == line.event]
        assert len({m.document for m in same_event}) == 2
        twins = [m for m in same_event if m.key == line.key]
        assert len(twins) == 2
        assert twins[0].quantity == twins[1].quantity == d.difference
        mes = [m for m in reader.movements("mes") if m.event == line.event]
        assert len(mes) == 1


def test_an_unaudited_voucher_does_not_move_stock(reader: TruthReader) -> None:
    unaudited = [d for d in reader.discrepancies() if d.kind == "unaudited_voucher"]
    assert unaudited
    for d in unaudited:
        line = reader.movement(d.movement)
        assert not line.effective
        mes = [m for m in reader.movements("mes") if m.event == line.event]
        assert [(m.effective, m.quantity) for m in mes] == [(True, line.quantity)]
        assert d.difference == -line.quantity
    assert sorted(m.id for m in all_movements(reader) if not m.effective) == sorted(
        d.movement for d in unaudited
    )


def test_a_red_ink_reversal_nets_out_a_receipt(reader: TruthReader) -> None:
    red = [d for d in reader.discrepancies() if d.kind == "red_ink_reversal"]
    assert {d.system for d in red} == {"u8", "k3wise"}
    for d in red:
        line = reader.movement(d.movement)
        original = reader.movement(line.reverses)  # type: ignore[arg-type]
        assert (original.kind, line.kind, d.difference) == (
            "receipt",
            "reversal",
            Decimal(0),
        )
        assert original.quantity + line.quantity == 0
        assert line.quantity < 0


def test_no_warehouse_ever_goes_negative(reader: TruthReader) -> None:
    for system in SYSTEMS:
        balance: dict[StockKey, Decimal] = defaultdict(Decimal)
        for row in reader.opening_stock(system):
            balance[row.key] = row.quantity
        lines = sorted(reader.movements(system), key=lambda m: (m.posted_at, m.id))
        for m in lines:
            if m.effective:
                balance[m.key] += m.quantity
                assert balance[m.key] >= 0, (system, m)


def test_documents_are_unique_and_look_like_their_system(reader: TruthReader) -> None:
    lines: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for m in all_movements(reader):
        assert re.fullmatch(DOCUMENT_FORMS[m.system], m.document), m
        assert m.year == ("2026" if m.system in ("sap", "ecc") else "")
        lines[m.system, m.document, m.year].append(m.line)
    for numbers in lines.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))


def test_entries_match_quantities_and_units(reader: TruthReader) -> None:
    materials = {m.material: m for m in reader.materials()}
    meta = reader.meta()
    alt_entries = 0
    for m in all_movements(reader):
        material = materials[m.material]
        assert meta.start_at <= m.posted_at <= m.entered_at <= meta.now_at
        assert (m.batch != "") == material.batch_managed
        assert m.batch == "" or re.fullmatch(r"\d{10}", m.batch)
        if material.base_unit == "H87":
            assert m.quantity == m.quantity.to_integral_value()
        assert m.quantity == m.quantity.quantize(Decimal("0.001"))
        if m.entry_unit == material.alt_unit:
            alt_entries += 1
            assert abs(m.quantity) == m.entry_quantity * material.alt_factor  # type: ignore[operator]
        elif m.entry_unit == material.base_unit:
            assert abs(m.quantity) == m.entry_quantity
        else:
            assert m.entry_unit == "GRM"
    assert alt_entries


def test_statuses_and_reserved_quantities_fit_each_system(reader: TruthReader) -> None:
    for system in SYSTEMS:
        movements = list(reader.movements(system))
        statuses = {m.status for m in movements}
        if system in ("u8", "k3wise", "mes"):  # no stock status there
            assert statuses == {"unrestricted"}
        rows = list(reader.stock(system))
        assert all(Decimal(0) <= row.reserved <= row.quantity for row in rows)
        reserved = [row for row in rows if row.reserved]
        assert bool(reserved) == (system in ("u8", "k3cloud", "k3wise")), system
    assert any(
        m.status == "quality_inspection"
        for s in ("sap", "ecc", "k3cloud")
        for m in reader.movements(s)
    )


def test_the_reader_streams_a_system_in_entry_order(reader: TruthReader) -> None:
    for system in SYSTEMS:
        lines = list(reader.movements(system))
        assert lines
        assert {m.system for m in lines} == {system}
        assert [(m.entered_at, m.id) for m in lines] == sorted(
            (m.entered_at, m.id) for m in lines
        )
        assert all(isinstance(m.quantity, Decimal) for m in lines)
        assert all(m.entered_at.tzinfo == UTC for m in lines)
        on_time = list(reader.movements(system, include_late=False))
        assert len(on_time) == len(lines) - sum(m.late for m in lines)
        at_site = list(reader.movements(system, site="2000"))
        assert at_site == [m for m in lines if m.site == "2000"]
    assert reader.movement(1).id == 1
    with pytest.raises(KeyError, match="no movement 0"):
        reader.movement(0)


def test_the_module_runs_as_a_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.sqlite"
    main(
        [
            "--out",
            str(out),
            "--seed",
            "3",
            "--materials",
            "8",
            "--days",
            "5",
            "--movements",
            "2000",
        ]
    )
    printed = capsys.readouterr().out
    with TruthReader(out) as reader:
        count = reader.meta().movements
    assert count >= 2000
    assert f"{count:,} movements" in printed
    assert "movements/s" in printed


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"days": 1}, "days must be at least 2"),
        ({"materials": 5}, "materials must be at least 6"),
        ({"movements_per_day": 10, "target_movements": 100}, "not both"),
        ({"now": datetime(2026, 3, 31, 16)}, "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_bad_sizes_are_refused(
    tmp_path: Path, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        generate_truth(tmp_path / "t.sqlite", **arguments)  # type: ignore[arg-type]
