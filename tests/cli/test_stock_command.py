"""`stockbridge stock` on a real SQLite store: JSON contract, CSV, XLSX, filters."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from stockbridge.cli import stock_xlsx
from stockbridge.cli.app import app
from stockbridge.cli.stock_commands import CSV_COLUMNS
from stockbridge.config import load_config
from stockbridge.store.database import open_store
from stockbridge.store.schema import (
    current_snapshots,
    materials,
    movements,
    sources,
    stock_lines,
    stock_snapshots,
)
from stockbridge.sync.reconcile import reconcile

NOW = datetime(2026, 3, 31, 0, 0, tzinfo=UTC)
AS_OF = datetime(2026, 3, 30, 22, 0, tzinfo=UTC)
# Excel has no zones: the workbook shows Shanghai wall-clock times.
LOCAL_AS_OF = AS_OF.astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
STATUSES = {"unrestricted", "quality_inspection", "blocked", "in_transit", "restricted"}
CONFIG = """\
store: "{url}"
timezone: Asia/Shanghai
sources:
  sap: {{kind: sap_odata}}
  mes: {{kind: mes_rest}}
reconcile:
  priority: [sap, mes]
  consumption_days: 10
  safety_stock:
    A-100: {{"1000": "80"}}
    B-200: "5"
"""
# (source, material, site, warehouse, batch, status, quantity, reserved)
LINES = [
    ("sap", "A-100", "1000", "RM01", "", "unrestricted", "100", "31"),
    ("sap", "A-100", "1000", "RM01", "", "blocked", "5", "0"),
    ("sap", "A-100", "1000", "LS01", "", "unrestricted", "10", "0"),
    ("mes", "A-100", "1000", "LS01", "", "unrestricted", "12", "0"),
    ("sap", "B-200", "1000", "RM01", "B1", "unrestricted", "50.25", "0"),
    ("sap", "C-300", "1000", "RM01", "X1", "unrestricted", "3", "0"),
    ("sap", "C-300", "1000", "RM01", "X2", "unrestricted", "3", "0"),
    ("sap", "D-400", "2000", "FG01", "", "unrestricted", "1234567890.123456", "0"),
]
NAMES = {"A-100": "深沟球轴承 6204", "B-200": "Bolt M8 hex", "C-300": "Gasket"}
MASTER_SAFETY = {"A-100": "100", "C-300": "5"}


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        for name in ("sap", "mes"):
            conn.execute(
                insert(sources).values(name=name, kind="test", first_seen_at=AS_OF)
            )
            snap = conn.execute(
                insert(stock_snapshots)
                .values(source=name, scope="", started_at=AS_OF, completed_at=AS_OF)
                .returning(stock_snapshots.c.id)
            ).scalar_one()
            conn.execute(
                insert(stock_lines),
                [
                    {
                        "snapshot_id": snap,
                        "material": material,
                        "site": site,
                        "warehouse": warehouse,
                        "location": "",
                        "batch": batch,
                        "status": status,
                        "special_stock": "",
                        "quantity": Decimal(quantity),
                        "reserved": Decimal(reserved),
                        "unit": "H87",
                        "as_of": AS_OF,
                    }
                    for source, material, site, warehouse, batch, status, quantity, reserved in LINES
                    if source == name
                ],
            )
            conn.execute(
                insert(current_snapshots).values(
                    source=name, scope="", snapshot_id=snap, switched_at=AS_OF
                )
            )
        conn.execute(
            insert(materials),
            [
                {
                    "source": "sap",
                    "material": material,
                    "name": name,
                    "base_unit": "H87",
                    "safety_stock": Decimal(MASTER_SAFETY[material])
                    if material in MASTER_SAFETY
                    else None,
                    "updated_at": AS_OF,
                }
                for material, name in NAMES.items()
            ],
        )
        conn.execute(
            insert(movements),
            [
                {
                    "source": "sap",
                    "document": document,
                    "line": "1",
                    "year": "2026",
                    "kind": "production_issue",
                    "material": "A-100",
                    "site": "1000",
                    "warehouse": "LS01",
                    "location": "",
                    "batch": "",
                    "status": "unrestricted",
                    "quantity": Decimal(-20),
                    "unit": "H87",
                    "original_quantity": Decimal(-20),
                    "original_unit": "H87",
                    "posted_at": NOW - timedelta(days=days),
                    "loaded_at": NOW,
                }
                for document, days in (("4900000001", 1), ("4900000002", 5))
            ],
        )


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A consolidated SQLite store and the config that points at it."""
    directory = tmp_path_factory.mktemp("stock")
    url = f"sqlite:///{directory / 'store.db'}"
    path = directory / "stockbridge.yaml"
    path.write_text(CONFIG.format(url=url), encoding="utf-8")
    engine = open_store(url)
    try:
        _seed(engine)
        reconcile(engine, load_config(path, environ={}), clock=lambda: NOW)
    finally:
        engine.dispose()
    return path


def run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(
        app, ["--config", str(config), "stock", *args], env={"STOCKBRIDGE_CONFIG": None}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def as_json(config: Path, *args: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(run(config, "--format", "json", *args))
    return rows


def keys(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(r["material"], r["warehouse"], r["batch"], r["status"]) for r in rows]


def test_json_follows_the_contract_exactly(config_path: Path) -> None:
    rows = as_json(config_path)

    assert len(rows) == 7
    for row in rows:
        for field in ("material", "site", "warehouse", "location", "batch", "unit"):
            assert isinstance(row[field], str), field
        assert row["status"] in STATUSES
        assert isinstance(row["quantity"], str)
        Decimal(row["quantity"])
        assert isinstance(row["sources"], dict)
        for source, value in row["sources"].items():
            assert isinstance(source, str)
            assert isinstance(value, str)
            Decimal(value)
        assert type(row["conflict"]) is bool
        assert isinstance(row["as_of"], str)
        assert row["as_of"].endswith("Z")
        assert datetime.fromisoformat(row["as_of"]) == AS_OF
        for field in (
            "available",
            "reserved",
            "safety_stock",
            "consumption_per_day",
            "days_of_cover",
            "stockout_date",
        ):
            assert isinstance(row[field], str), field
    first = rows[0]
    assert keys([first]) == [("A-100", "LS01", "", "unrestricted")]
    assert first["location"] == ""
    assert first["conflict"] is True
    assert {k: Decimal(v) for k, v in first["sources"].items()} == {
        "sap": Decimal(10),
        "mes": Decimal(12),
    }
    assert keys(rows[1:3]) == [
        ("A-100", "RM01", "", "blocked"),
        ("A-100", "RM01", "", "unrestricted"),
    ]
    rm01 = rows[2]
    assert rm01["conflict"] is False
    numbers = ("quantity", "reserved", "available", "safety_stock")
    assert [Decimal(rm01[f]) for f in numbers] == [100, 31, 69, 80]
    # 40 issued over 10 days: 4 a day; (69 + 10) / 4 = 19.75 -> 19.8 (half up)
    assert Decimal(rm01["consumption_per_day"]) == 4
    assert rm01["days_of_cover"] == "19.8"
    assert rm01["stockout_date"] == "2026-04-19T17:12:00Z"
    no_consumption = next(r for r in rows if r["material"] == "B-200")
    assert Decimal(no_consumption["safety_stock"]) == 5
    assert no_consumption["batch"] == "B1"
    assert [no_consumption[f] for f in ("consumption_per_day", "days_of_cover")] == [
        "",
        "",
    ]
    assert no_consumption["stockout_date"] == ""
    d400 = next(r for r in rows if r["material"] == "D-400")
    assert d400["safety_stock"] == ""
    assert Decimal(d400["quantity"]) == Decimal("1234567890.123456")


def test_csv_carries_the_same_figures(config_path: Path) -> None:
    reader = csv.reader(io.StringIO(run(config_path, "--format", "csv")))
    header, *lines = list(reader)
    assert tuple(header) == CSV_COLUMNS
    as_dicts = [dict(zip(header, line, strict=True)) for line in lines]
    expected = as_json(config_path)
    assert len(as_dicts) == len(expected)
    for got, want in zip(as_dicts, expected, strict=True):
        assert got == {column: str(want[column]) for column in CSV_COLUMNS}
    assert as_dicts[2]["days_of_cover"] == "19.8"


def test_xlsx_in_chinese_has_a_frozen_header_formats_and_exact_values(
    config_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "库存.xlsx"
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(config_path),
            "stock",
            "-f",
            "xlsx",
            "-o",
            str(path),
            "--lang",
            "zh",
        ],
        env={"STOCKBRIDGE_CONFIG": None},
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 7 rows" in result.stderr

    book = load_workbook(path)
    try:
        assert book.sheetnames == ["库存"]
        sheet = book["库存"]
        assert sheet.freeze_panes == "A2"
        rows = list(sheet.iter_rows(values_only=True))
        cells = list(sheet.iter_rows(min_row=2))
    finally:
        book.close()
    header = list(rows[0])
    assert header == [
        "物料",
        "工厂",
        "仓库",
        "库位",
        "批次",
        "状态",
        "数量",
        "单位",
        "预留",
        "可用",
        "安全库存",
        "日均消耗",
        "可用天数",
        "预计缺货日 (Asia/Shanghai)",
        "冲突",
        "采用来源",
        "规则",
        "截至 (Asia/Shanghai)",
        "来源 mes",
        "来源 sap",
    ]
    assert len(rows) == 8
    column = {name: n for n, name in enumerate(header)}
    ls01, blocked, rm01 = rows[1], rows[2], rows[3]
    assert ls01[column["状态"]] == "非限制"
    assert ls01[column["冲突"]] == "是"
    assert ls01[column["规则"]] == "优先级"
    assert (ls01[column["来源 mes"]], ls01[column["来源 sap"]]) == (12, 10)
    assert blocked[column["状态"]] == "冻结"
    assert blocked[column["冲突"]] is None
    assert rm01[column["数量"]] == 100
    assert rm01[column["可用"]] == 69
    assert rm01[column["安全库存"]] == 80
    assert rm01[column["日均消耗"]] == 4
    assert rm01[column["可用天数"]] == 19.8
    # 2026-04-19T17:12Z is already the 20th in Shanghai.
    stockout = rm01[column["预计缺货日 (Asia/Shanghai)"]]
    assert isinstance(stockout, datetime)
    assert (stockout.date(), stockout.time()) == (date(2026, 4, 20), time(0))
    assert rm01[column["截至 (Asia/Shanghai)"]] == LOCAL_AS_OF
    assert rm01[column["来源 mes"]] is None
    formats = {header[n]: cell.number_format for n, cell in enumerate(cells[2])}
    assert formats["数量"] == "#,##0"
    assert formats["可用天数"] == "0.0"
    assert formats["预计缺货日 (Asia/Shanghai)"] == "yyyy-mm-dd"
    assert formats["截至 (Asia/Shanghai)"] == "yyyy-mm-dd hh:mm:ss"
    b200 = next(row for row in rows if row[0] == "B-200")
    b200_cells = next(row for row in cells if row[0].value == "B-200")
    assert isinstance(b200[column["数量"]], float)
    assert Decimal(repr(b200[column["数量"]])) == Decimal("50.25")
    assert b200_cells[column["数量"]].number_format == "#,##0.######"
    # 16 significant digits: more than Excel keeps, so exact text instead.
    d400 = next(row for row in rows if row[0] == "D-400")
    assert d400[column["数量"]] == "1234567890.123456"
    assert d400[column["可用天数"]] is None


def test_xlsx_in_english_to_stock_xlsx_by_default(
    config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run(config_path, "--format", "xlsx", "--status", "blocked")
    book = load_workbook(tmp_path / "stock.xlsx", read_only=True)
    try:
        rows = [list(row) for row in book["stock"].iter_rows(values_only=True)]
    finally:
        book.close()
    assert rows[0][:6] == [
        "material",
        "site",
        "warehouse",
        "location",
        "batch",
        "status",
    ]
    assert rows[0][13] == "stock-out date (Asia/Shanghai)"
    assert [row[:6] for row in rows[1:]] == [
        ["A-100", "1000", "RM01", None, None, "blocked"]
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--material", "C-300"], [("C-300", "RM01", "X1"), ("C-300", "RM01", "X2")]),
        (["--name", "轴承"], [("A-100", "LS01", ""), ("A-100", "RM01", "")]),
        (["--name", "bolt"], [("B-200", "RM01", "B1")]),
        (["--name", "%"], []),
        (["--site", "2000"], [("D-400", "FG01", "")]),
        (["--warehouse", "LS01"], [("A-100", "LS01", "")]),
        (["--conflicts"], [("A-100", "LS01", "")]),
    ],
)
def test_filters(
    config_path: Path, args: list[str], expected: list[tuple[str, ...]]
) -> None:
    rows = as_json(config_path, *args)
    got = sorted({(r["material"], r["warehouse"], r["batch"]) for r in rows})
    assert got == sorted(set(expected))


def test_status_filter(config_path: Path) -> None:
    rows = as_json(config_path, "--status", "blocked")
    assert keys(rows) == [("A-100", "RM01", "", "blocked")]


def test_below_safety_compares_each_sites_available_with_its_safety_stock(
    config_path: Path,
) -> None:
    # A-100 at 1000: 69 + 10 available < 80. C-300: each batch 3 < 5, but the
    # site's 6 is not. B-200: 50.25 >= 5. D-400: no safety stock.
    rows = as_json(config_path, "--below-safety")
    assert keys(rows) == [
        ("A-100", "LS01", "", "unrestricted"),
        ("A-100", "RM01", "", "blocked"),
        ("A-100", "RM01", "", "unrestricted"),
    ]


def test_rows_past_a_sheets_limit_go_on_in_another_sheet(
    config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stock_xlsx, "MAX_DATA_ROWS", 3)
    path = tmp_path / "split.xlsx"
    run(config_path, "--format", "xlsx", "--output", str(path))
    book = load_workbook(path)
    try:
        assert book.sheetnames == ["stock", "stock 2", "stock 3"]
        sheets = [book[name] for name in book.sheetnames]
        rows = [list(sheet.iter_rows(values_only=True)) for sheet in sheets]
        panes = [sheet.freeze_panes for sheet in sheets]
        filters = [sheet.auto_filter.ref for sheet in sheets]
    finally:
        book.close()
    assert [len(sheet) for sheet in rows] == [4, 4, 2]
    assert all(sheet[0] == rows[0][0] for sheet in rows)
    assert [row[0] for sheet in rows for row in sheet[1:]] == [
        "A-100",
        "A-100",
        "A-100",
        "B-200",
        "C-300",
        "C-300",
        "D-400",
    ]
    assert panes == ["A2", "A2", "A2"]
    assert filters == ["A1:T4", "A1:T4", "A1:T2"]
