"""`kind: file`: CSV and XLSX drops with Chinese headers, read strictly.

Real files in a temporary folder, written the way plants produce them
(UTF-8, UTF-8 with BOM, GB18030, Excel workbooks), read through the
connector and, at the end, through a whole sync into a SQLite store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, select

from stockbridge.config.errors import ConfigError
from stockbridge.config.models import Settings
from stockbridge.connectors.base import CheckState, Page, Stream
from stockbridge.connectors.errors import ProtocolError, SourceConfigError
from stockbridge.connectors.file_drop import FileDropConnector, FileDropSettings
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

STOCK_COLUMNS = {
    "material": "物料编码",
    "quantity": "数量",
    "unit": "单位",
    "warehouse": "仓库",
    "batch": "批号",
    "status": "状态",
}
STOCK_HEADER = "物料编码,数量,单位,仓库,批号,状态"
STOCK_ROWS = [
    "100001,12.5,千克,RM01,B001,合格",
    "100002,3,个,RM01,,待检",
    '100003,"1,234.5",千克,FG01,B7,合格',
]
MOVE_COLUMNS = {
    "document": "单据号",
    "line": "行号",
    "kind": "类型",
    "material": "物料编码",
    "quantity": "数量",
    "unit": "单位",
    "warehouse": "仓库",
    "posted_at": "日期",
}
MOVE_HEADER = "单据号,行号,类型,收发,物料编码,数量,单位,仓库,日期"
OLD = datetime(2026, 3, 1, tzinfo=UTC).timestamp()


def stock_settings(folder: Path, **extra: Any) -> FileDropSettings:
    return FileDropSettings.model_validate(
        {
            "path": str(folder),
            "stream": "stock",
            "columns": STOCK_COLUMNS,
            "status_map": {"合格": "unrestricted", "待检": "quality_inspection"},
            "site": "2000",
            "thousands": ",",
            "min_age": 0,
            **extra,
        }
    )


def move_settings(folder: Path, **extra: Any) -> FileDropSettings:
    return FileDropSettings.model_validate(
        {
            "path": str(folder),
            "stream": "movements",
            "columns": MOVE_COLUMNS,
            "kind_map": {"采购入库": "receipt", "领料": "production_issue"},
            "sign": {"column": "收发", "inbound": ["收"], "outbound": ["发"]},
            "site": "2000",
            "min_age": 0,
            **extra,
        }
    )


def connector(settings: FileDropSettings) -> FileDropConnector:
    return FileDropConnector("plant2", settings, timezone="Asia/Shanghai")


def write(
    path: Path, lines: list[str], encoding: str = "utf-8", mtime: float = OLD
) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    os.utime(path, (mtime, mtime))
    return path


def records(pages: Iterator[Page]) -> list[SourceRecord]:
    return [record for page in pages for record in page.records]


def move_lines(doc: str, count: int, *, day: int = 1) -> list[str]:
    return [
        f"{doc},{n},采购入库,收,10000{n},{n}.5,千克,RM01,2026/3/{day} 8:0{n}"
        for n in range(1, count + 1)
    ]


# --- reading: encodings, Chinese headers, numbers -----------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_each_encoding_reads_chinese_headers_and_exact_numbers(
    tmp_path: Path, encoding: str
) -> None:
    write(tmp_path / "库存.csv", [STOCK_HEADER, *STOCK_ROWS], encoding)
    got = records(connector(stock_settings(tmp_path)).stock())
    assert all(isinstance(r, StockRecord) for r in got), got
    stock = [r for r in got if isinstance(r, StockRecord)]
    assert [
        (r.material, r.quantity, r.unit, r.warehouse, r.batch, r.status) for r in stock
    ] == [
        ("100001", Decimal("12.5"), "千克", "RM01", "B001", "unrestricted"),
        ("100002", Decimal("3"), "个", "RM01", "", "quality_inspection"),
        ("100003", Decimal("1234.5"), "千克", "FG01", "B7", "unrestricted"),
    ]
    assert {r.site for r in stock} == {"2000"}
    assert stock[0].as_of == datetime(2026, 3, 1, tzinfo=UTC)  # the file's mtime
    assert stock[2].raw == {
        "物料编码": "100003",
        "数量": "1,234.5",
        "单位": "千克",
        "仓库": "FG01",
        "批号": "B7",
        "状态": "合格",
        "_file": "库存.csv",
        "_row": 4,
    }


def test_gb18030_characters_outside_gbk_survive(tmp_path: Path) -> None:
    # 𠮷 (U+20BB7) exists only in GB18030's four-byte range, not in GBK/cp936.
    write(
        tmp_path / "库存.csv", [STOCK_HEADER, "100001,1,千克,RM01,𠮷批,合格"], "gb18030"
    )
    (record,) = records(connector(stock_settings(tmp_path)).stock())
    assert isinstance(record, StockRecord)
    assert record.batch == "𠮷批"


def test_header_matching_trims_blanks_and_a_stray_bom(tmp_path: Path) -> None:
    header = " 物料编码 ,数量 , 单位,仓库,批号,状态"
    path = tmp_path / "库存.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (header + "\n" + STOCK_ROWS[0] + "\n").encode())
    os.utime(path, (OLD, OLD))
    # Even with encoding utf-8 (which keeps the BOM), the first header matches.
    (record,) = records(connector(stock_settings(tmp_path, encoding="utf-8")).stock())
    assert isinstance(record, StockRecord)
    assert record.quantity == Decimal("12.5")


def test_xlsx_numbers_dates_and_a_title_row(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "出入库"
    sheet.append(["出入库明细 2026-03"])  # a title row above the headers
    sheet.append(MOVE_HEADER.split(","))
    sheet.append(
        [
            "PO1",
            1,
            "采购入库",
            "收",
            100001,
            12.5,
            "千克",
            "RM01",
            datetime(2026, 3, 1, 8),  # noqa: DTZ001 - Excel times are naive
        ]
    )
    sheet.append(
        ["PO1", 2, "领料", "发", 100002, 0.1 * 3, "个", "RM01", "2026-03-01 09:30"]
    )
    sheet.append([None] * 9)  # an empty row is no record
    sheet.append(
        ["PO1", 3, "采购入库", "收", "100003", 1234567.891, "千克", "RM01", 46082]
    )
    book.create_sheet("其他")
    path = tmp_path / "出入库.xlsx"
    book.save(path)
    book.close()
    os.utime(path, (OLD, OLD))
    settings = move_settings(tmp_path, sheet="出入库", header_row=2)
    got = records(connector(settings).movements(None, lookback=timedelta(hours=2)))
    first, second, third = got
    assert isinstance(first, MovementRecord)
    assert isinstance(second, MovementRecord)
    assert (first.document, first.line, first.material) == ("PO1", "1", "100001")
    assert first.quantity == Decimal("12.5")
    assert first.kind is MovementKind.RECEIPT
    assert first.posted_at == datetime(2026, 3, 1, 0, tzinfo=UTC)  # 08:00 Shanghai
    assert second.quantity == Decimal("-0.3")  # 0.30000000000000004 in the file
    assert second.kind is MovementKind.PRODUCTION_ISSUE
    assert second.posted_at == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    assert second.raw["_row"] == 4
    # A number where a date belongs is a reject naming row and column.
    assert isinstance(third, UnreadableRecord)
    assert (
        third.reason
        == "出入库.xlsx row 6, column 日期: '46082' is a int, not a date or time"
    )
    assert third.raw["数量"] == "1234567.891"


def test_thousands_separators_only_when_configured(tmp_path: Path) -> None:
    write(
        tmp_path / "库存.csv",
        [STOCK_HEADER, STOCK_ROWS[2], '100004,"1,2,3",个,RM01,,合格'],
    )
    loose = records(connector(stock_settings(tmp_path)).stock())
    assert isinstance(loose[0], StockRecord)
    assert loose[0].quantity == Decimal("1234.5")
    assert isinstance(loose[1], UnreadableRecord)
    assert loose[1].reason == "库存.csv row 3, column 数量: '1,2,3' is not a number"
    strict = records(connector(stock_settings(tmp_path, thousands=None)).stock())
    assert isinstance(strict[0], UnreadableRecord)
    assert strict[0].reason == "库存.csv row 2, column 数量: '1,234.5' is not a number"


# --- rejects: a bad number, a wrong header, a wrong encoding ---------------------------------------


def test_bad_number_is_a_reject_with_row_and_reason_and_good_rows_still_load(
    tmp_path: Path,
) -> None:
    rows = [
        *STOCK_ROWS[:2],
        "100009,12,5x,千克,RM01,,合格",
        "100010,NaN,千克,RM01,,合格",
    ]
    write(tmp_path / "库存.csv", [STOCK_HEADER, *rows, "100011,,千克,RM01,,合格"])
    got = records(connector(stock_settings(tmp_path)).stock())
    assert [type(r).__name__ for r in got] == [
        "StockRecord",
        "StockRecord",
        "UnreadableRecord",
        "UnreadableRecord",
        "UnreadableRecord",
    ]
    shifted, nan, empty = got[2:]
    assert isinstance(shifted, UnreadableRecord)
    assert shifted.reason == (
        "库存.csv row 4 has 7 cells but the header has 6: "
        "a delimiter inside an unquoted value?"
    )
    assert shifted.raw["_row"] == 4
    assert shifted.raw["column 7"] == "合格"
    assert isinstance(nan, UnreadableRecord)
    assert nan.reason == "库存.csv row 5, column 数量: 'NaN' is not a number"
    assert isinstance(empty, UnreadableRecord)
    assert empty.reason == "库存.csv row 6, column 数量: '' is empty"


def test_wrong_header_is_one_reject_for_the_file_naming_what_is_missing(
    tmp_path: Path,
) -> None:
    header = MOVE_HEADER.replace("数量", "数量(千克)")
    write(tmp_path / "a.csv", [header, *move_lines("PO1", 3)])
    write(tmp_path / "b.csv", [MOVE_HEADER, *move_lines("PO2", 2)])
    got = records(
        connector(move_settings(tmp_path)).movements(None, lookback=timedelta(0))
    )
    assert len(got) == 3
    reject = got[0]
    assert isinstance(reject, UnreadableRecord)
    assert reject.reason.startswith(
        "a.csv row 1 (the header) has no column '数量' (columns found: "
    )
    assert "'数量(千克)'" in reject.reason
    assert reject.raw["_file"] == "a.csv"
    assert reject.raw["_headers"] == header.split(",")
    assert [r.document for r in got[1:] if isinstance(r, MovementRecord)] == [
        "PO2",
        "PO2",
    ]


def test_wrong_header_in_the_stock_file_fails_instead_of_emptying_the_snapshot(
    tmp_path: Path,
) -> None:
    write(tmp_path / "库存.csv", ["物料,数量,单位,仓库,批号,状态", STOCK_ROWS[0]])
    with pytest.raises(
        ProtocolError, match=r"库存.csv row 1 \(the header\) has no column '物料编码'"
    ):
        records(connector(stock_settings(tmp_path)).stock())


def test_a_file_in_no_known_encoding_is_one_reject_for_the_file(tmp_path: Path) -> None:
    # Windows-1252 "€" (0x80) after an ASCII letter is invalid in UTF-8 and GB18030 alike.
    path = tmp_path / "moves.csv"
    path.write_bytes(
        (MOVE_HEADER + "\n" + move_lines("PO1", 1)[0] + "\n").encode("utf-8")
        + b"PO1,2,x\x80,,,,,,\n"
    )
    os.utime(path, (OLD, OLD))
    write(tmp_path / "ok.csv", [MOVE_HEADER, *move_lines("PO2", 1)], "gb18030")
    got = records(
        connector(move_settings(tmp_path)).movements(None, lookback=timedelta(0))
    )
    reject = next(r for r in got if isinstance(r, UnreadableRecord))
    assert reject.reason.startswith(
        "moves.csv is in none of UTF-8, UTF-8 with BOM and GB18030: "
    )
    assert "not UTF-8 (byte 0x80 at offset" in reject.reason
    assert "line 3)" in reject.reason
    assert [r.document for r in got if isinstance(r, MovementRecord)] == ["PO2"]


def test_a_declared_encoding_that_does_not_fit_is_one_reject(tmp_path: Path) -> None:
    write(tmp_path / "moves.csv", [MOVE_HEADER, *move_lines("PO1", 2)], "gb18030")
    settings = move_settings(tmp_path, encoding="utf-8")
    (reject,) = records(connector(settings).movements(None, lookback=timedelta(0)))
    assert isinstance(reject, UnreadableRecord)
    assert reject.reason.startswith(
        "moves.csv is not valid utf-8: byte 0xb5 at offset 0, line 1"
    )


def test_utf16_is_refused_as_not_a_text_file(tmp_path: Path) -> None:
    write(tmp_path / "moves.csv", [MOVE_HEADER, *move_lines("PO1", 1)], "utf-16")
    (reject,) = records(
        connector(move_settings(tmp_path)).movements(None, lookback=timedelta(0))
    )
    assert isinstance(reject, UnreadableRecord)
    assert "is not a text file: a NUL byte at line 1" in reject.reason


def test_a_broken_workbook_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "moves.xlsx"
    path.write_bytes(b"this is not a zip file")
    os.utime(path, (OLD, OLD))
    (reject,) = records(
        connector(move_settings(tmp_path)).movements(None, lookback=timedelta(0))
    )
    assert isinstance(reject, UnreadableRecord)
    assert reject.reason.startswith("moves.xlsx is not a readable .xlsx workbook")


# --- each file once -------------------------------------------------------------------------------


def test_each_file_is_processed_once_and_a_changed_file_again(tmp_path: Path) -> None:
    conn = connector(move_settings(tmp_path))
    write(tmp_path / "d1.csv", [MOVE_HEADER, *move_lines("PO1", 2)])
    write(tmp_path / "d2.csv", [MOVE_HEADER, *move_lines("PO2", 2)], "gb18030")
    pages = list(conn.movements(None, lookback=timedelta(0)))
    assert [
        r.document for r in records(iter(pages)) if isinstance(r, MovementRecord)
    ] == [
        "PO1",
        "PO1",
        "PO2",
        "PO2",
    ]
    cursor = pages[-1].cursor
    assert cursor is not None
    assert set(json.loads(cursor)["files"]) == {"d1.csv", "d2.csv"}
    assert list(conn.movements(cursor, lookback=timedelta(0))) == []

    # d2 is re-exported with a correction: only d2 is read again.
    write(tmp_path / "d2.csv", [MOVE_HEADER, *move_lines("PO2", 3)], "gb18030")
    again = list(conn.movements(cursor, lookback=timedelta(0)))
    assert [
        (r.document, r.line)
        for r in records(iter(again))
        if isinstance(r, MovementRecord)
    ] == [("PO2", "1"), ("PO2", "2"), ("PO2", "3")]
    after = again[-1].cursor
    assert after is not None
    assert json.loads(after)["files"]["d2.csv"] != json.loads(cursor)["files"]["d2.csv"]

    # d1 is archived away: it leaves the cursor, nothing is read.
    (tmp_path / "d1.csv").unlink()
    (pruned,) = conn.movements(after, lookback=timedelta(0))
    assert pruned.records == []
    assert pruned.cursor is not None
    assert set(json.loads(pruned.cursor)["files"]) == {"d2.csv"}


def test_page_cursors_only_name_files_whose_rows_are_all_in_or_before_the_page(
    tmp_path: Path,
) -> None:
    conn = connector(move_settings(tmp_path, page_size=2))
    write(tmp_path / "d1.csv", [MOVE_HEADER, *move_lines("PO1", 3)], mtime=OLD)
    write(tmp_path / "d2.csv", [MOVE_HEADER, *move_lines("PO2", 3)], mtime=OLD + 60)
    pages = list(conn.movements(None, lookback=timedelta(0)))
    assert [len(p.records) for p in pages] == [2, 2, 2]
    done = [sorted(json.loads(p.cursor or "{}")["files"]) for p in pages]
    assert done == [[], ["d1.csv"], ["d1.csv", "d2.csv"]]
    # Resume after the first page committed: d1 is read again in full (keys dedup it).
    resumed = records(conn.movements(pages[0].cursor, lookback=timedelta(0)))
    assert len(resumed) == 6


def test_young_files_and_excel_lock_files_wait(tmp_path: Path) -> None:
    now = datetime.now(UTC).timestamp()
    write(tmp_path / "fresh.csv", [MOVE_HEADER, *move_lines("PO1", 1)], mtime=now)
    write(tmp_path / "~$d1.xlsx", ["junk"])
    conn = connector(move_settings(tmp_path, min_age=600))
    assert list(conn.movements(None, lookback=timedelta(0))) == []


def test_stock_reads_the_newest_file(tmp_path: Path) -> None:
    write(tmp_path / "库存_0301.csv", [STOCK_HEADER, STOCK_ROWS[0]], mtime=OLD)
    write(tmp_path / "库存_0302.csv", [STOCK_HEADER, STOCK_ROWS[1]], mtime=OLD + 86400)
    (record,) = records(connector(stock_settings(tmp_path)).stock())
    assert isinstance(record, StockRecord)
    assert record.material == "100002"
    assert record.as_of == datetime(2026, 3, 2, tzinfo=UTC)


def test_stock_from_an_empty_folder_fails_instead_of_emptying_the_snapshot(
    tmp_path: Path,
) -> None:
    with pytest.raises(ProtocolError, match="holds no file matching"):
        records(connector(stock_settings(tmp_path)).stock())


def test_the_other_stream_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(SourceConfigError, match="holds stock, not movements"):
        records(
            connector(stock_settings(tmp_path)).movements(None, lookback=timedelta(0))
        )


# --- check and settings ----------------------------------------------------------------------------


def test_check(tmp_path: Path) -> None:
    settings = stock_settings(tmp_path)
    assert connector(settings).check().state is CheckState.OK
    write(tmp_path / "库存.csv", [STOCK_HEADER, *STOCK_ROWS])
    result = connector(settings).check()
    assert (result.state, result.detail) == (
        CheckState.OK,
        "1 file(s); the newest, 库存.csv, reads",
    )
    write(tmp_path / "库存2.csv", ["物料,数量", "1,2"], mtime=OLD + 1)
    result = connector(settings).check()
    assert result.state is CheckState.PROTOCOL_ERROR
    assert "库存2.csv row 1 (the header) has no column '物料编码'" in result.detail
    gone = connector(stock_settings(tmp_path / "nowhere")).check()
    assert gone.state is CheckState.UNREACHABLE


def test_settings_refuse_an_unmappable_shape(tmp_path: Path) -> None:
    source = {
        "kind": "file",
        "path": str(tmp_path),
        "stream": "movements",
        "columns": {"document": "单据号", "material": "物料", "qty": "数量"},
    }
    settings = Settings.model_validate({"sources": {"drop": source}})
    with pytest.raises(ConfigError) as caught:
        settings.source_settings("drop", FileDropSettings)
    text = str(caught.value)
    for expected in (
        "'qty' is not a movements field",
        "no column is mapped to 'line'",
        "no column is mapped to 'quantity'",
        "map a unit column or give `unit`",
        "map a kind column or give `default_kind`",
    ):
        assert expected in text
    source["columns"] = MOVE_COLUMNS
    source["encoding"] = "gb2312x"
    settings = Settings.model_validate({"sources": {"drop": source}})
    with pytest.raises(ConfigError) as caught:
        settings.source_settings("drop", FileDropSettings)
    assert "sources.drop.encoding: expected a text encoding Python knows" in str(
        caught.value
    )


# --- through sync into a store ---------------------------------------------------------------------


def sync_settings(folder: Path, stream: str, columns: dict[str, str]) -> Settings:
    source: dict[str, Any] = {
        "kind": "file",
        "path": str(folder),
        "stream": stream,
        "columns": columns,
        "site": "2000",
        "min_age": 0,
        "page_size": 2,
    }
    if stream == "stock":
        source["status_map"] = {"合格": "unrestricted"}
    if stream == "movements":
        source["kind_map"] = {"采购入库": "receipt"}
        source["sign"] = {"column": "收发", "inbound": ["收"], "outbound": ["发"]}
    return Settings.model_validate(
        {"timezone": "Asia/Shanghai", "sources": {"plant2": source}}
    )


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Engine]:
    engine = open_store(sqlite_url)
    yield engine
    engine.dispose()


def test_sync_loads_good_rows_and_rejects_bad_ones_with_row_and_reason(
    tmp_path: Path, store: Engine
) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    write(drops / "d1.csv", [MOVE_HEADER, *move_lines("PO1", 3)], "utf-8-sig")
    bad = move_lines("PO2", 3)
    bad[1] = bad[1].replace("2.5", "2.5x")
    write(drops / "d2.csv", [MOVE_HEADER, *bad], "gb18030", mtime=OLD + 1)
    write(
        drops / "d3.csv",
        [MOVE_HEADER.replace("仓库", "库房"), *move_lines("PO3", 2)],
        mtime=OLD + 2,
    )
    settings = sync_settings(drops, "movements", MOVE_COLUMNS)

    run = sync_stream(store, settings, "plant2", Stream.MOVEMENTS)
    assert run.status == "succeeded", run.error
    assert (run.pulled, run.loaded, run.rejected) == (7, 5, 2)
    assert run.pulled == run.loaded + run.rejected
    with store.connect() as conn:
        loaded = {
            (r.document, r.line): (r.quantity, r.unit, r.kind)
            for r in conn.execute(select(movements))
        }
        quarantined = {
            r.reason: json.loads(r.raw) for r in conn.execute(select(rejects))
        }
    assert loaded == {
        ("PO1", "1"): (Decimal("1.5"), "KGM", "receipt"),
        ("PO1", "2"): (Decimal("2.5"), "KGM", "receipt"),
        ("PO1", "3"): (Decimal("3.5"), "KGM", "receipt"),
        ("PO2", "1"): (Decimal("1.5"), "KGM", "receipt"),
        ("PO2", "3"): (Decimal("3.5"), "KGM", "receipt"),
    }
    assert set(quarantined) == {
        "d2.csv row 3, column 数量: '2.5x' is not a number",
        "d3.csv row 1 (the header) has no column '仓库' (columns found: '单据号', '行号', "
        "'类型', '收发', '物料编码', '数量', '单位', '库房', '日期')",
    }
    row = quarantined["d2.csv row 3, column 数量: '2.5x' is not a number"]["raw"]
    assert (row["_file"], row["_row"], row["单据号"], row["数量"]) == (
        "d2.csv",
        3,
        "PO2",
        "2.5x",
    )

    # Nothing changed: nothing is read again.
    again = sync_stream(store, settings, "plant2", Stream.MOVEMENTS)
    assert (again.status, again.pulled) == ("succeeded", 0)

    # d2 is fixed and dropped again: its three lines load, nothing doubles.
    write(
        drops / "d2.csv", [MOVE_HEADER, *move_lines("PO2", 3)], "gb18030", mtime=OLD + 3
    )
    fixed = sync_stream(store, settings, "plant2", Stream.MOVEMENTS)
    assert (fixed.pulled, fixed.loaded, fixed.rejected) == (3, 3, 0)
    with store.connect() as conn:
        total = sum(r.quantity for r in conn.execute(select(movements.c.quantity)))
    assert total == Decimal("1.5") * 2 + Decimal("2.5") * 2 + Decimal("3.5") * 2


def test_sync_stock_snapshot_and_a_broken_drop_keeps_the_last_good_one(
    tmp_path: Path, store: Engine
) -> None:
    drops = tmp_path / "drops"
    drops.mkdir()
    write(
        drops / "库存_0301.csv",
        [STOCK_HEADER, *STOCK_ROWS, "100004,x,个,RM01,,合格"],
        "gb18030",
    )
    settings = sync_settings(drops, "stock", STOCK_COLUMNS)
    # 待检 is in no status map: a mapping reject; 1,234.5 needs `thousands`.
    run = sync_stream(store, settings, "plant2", Stream.STOCK)
    assert run.status == "succeeded", run.error
    assert (run.pulled, run.loaded, run.rejected) == (4, 1, 3)

    with store.connect() as conn:
        snapshot = {
            (r.material, r.quantity, r.unit) for r in conn.execute(select(stock_lines))
        }
        reasons = sorted(r.reason for r in conn.execute(select(rejects)))
    assert snapshot == {("100001", Decimal("12.5"), "KGM")}
    assert "库存_0301.csv row 5, column 数量: 'x' is not a number" in reasons

    write(drops / "库存_0302.csv", ["物料,数量", "100001,1"], mtime=OLD + 86400)
    broken = sync_stream(store, settings, "plant2", Stream.STOCK)
    assert broken.status == "failed"
    assert broken.error is not None
    assert "库存_0302.csv row 1 (the header) has no column '物料编码'" in broken.error
    assert broken.pulled == broken.loaded + broken.rejected == 0
    with store.connect() as conn:
        current = {(r.material, r.quantity) for r in conn.execute(select(stock_lines))}
    assert ("100001", Decimal("12.5")) in current
