from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from stockbridge.mapping.code_tables import load_code_table
from stockbridge.mapping.errors import CodeTableError

ROWS = "source_code,canonical_code\n01,原材料库\n02,成品库\n 03 ,WH-03\n\n"


def write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "wh.csv", ROWS, encoding)
    assert load_code_table(path) == {"01": "原材料库", "02": "成品库", "03": "WH-03"}


def test_gb18030_sample_really_needs_the_fallback() -> None:
    with pytest.raises(UnicodeDecodeError):
        ROWS.encode("gb18030").decode("utf-8")


def test_chinese_headers_and_extra_columns(tmp_path: Path) -> None:
    text = "备注,源编码,目标编码\nx,A1,MAT-1\ny,A2,MAT-2\n"
    path = write(tmp_path / "m.csv", text, "gb18030")
    assert load_code_table(path) == {"A1": "MAT-1", "A2": "MAT-2"}


def test_configured_column_names(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", "U8 Code,Plant Code\nA1,P1\n", "utf-8")
    assert load_code_table(
        path, source_column="u8 code", target_column="Plant Code"
    ) == {"A1": "P1"}
    with pytest.raises(CodeTableError, match="no column 'source_code' or '源编码'"):
        load_code_table(path)


def test_duplicate_source_with_different_targets_names_file_and_rows(
    tmp_path: Path,
) -> None:
    text = "source_code,canonical_code\nA1,M1\nA2,M2\nA1,M1\nA1,M9\n"
    path = write(tmp_path / "dup.csv", text, "utf-8")
    with pytest.raises(CodeTableError) as caught:
        load_code_table(path)
    message = str(caught.value)
    for part in (str(path), "'A1'", "'M1' in row 2", "'M9' in row 5"):
        assert part in message


def test_empty_target_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "source_code,canonical_code\nA1,\n", "utf-8")
    with pytest.raises(CodeTableError, match="row 2: empty canonical_code"):
        load_code_table(path)


def test_undecodable_and_unknown_files(tmp_path: Path) -> None:
    (tmp_path / "bad2.csv").write_bytes(b"source_code,canonical_code\n\xff\xff,A\n")
    with pytest.raises(CodeTableError, match="not UTF-8 or GB18030"):
        load_code_table(tmp_path / "bad2.csv")
    with pytest.raises(CodeTableError, match=r"must be a \.csv or \.xlsx"):
        load_code_table(tmp_path / "table.json")
    with pytest.raises(CodeTableError, match="the table is empty"):
        load_code_table(write(tmp_path / "empty.csv", "\n\n", "utf-8"))


def xlsx(path: Path, rows: list[list[object]], title: str = "Sheet") -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    workbook.close()
    return path


def test_xlsx_table(tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "plants.xlsx",
        [
            ["源编码", "目标编码"],
            ["1710", "PLANT-A"],
            [None, None],
            [1720, "PLANT-B"],
            [" X ", "Y"],
        ],
    )
    assert load_code_table(path) == {"1710": "PLANT-A", "1720": "PLANT-B", "X": "Y"}


def test_xlsx_named_sheet_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "two.xlsx"
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    first.append(["ignored"])
    second = workbook.create_sheet("status")
    for row in [
        ["source_code", "canonical_code"],
        ["01", "unrestricted"],
        ["01", "blocked"],
    ]:
        second.append(row)
    workbook.save(path)
    workbook.close()
    with pytest.raises(
        CodeTableError,
        match=r"'01' maps to 'unrestricted' in row 2 and to 'blocked' in row 3",
    ):
        load_code_table(path, sheet="status")
    with pytest.raises(CodeTableError, match="no sheet 'nope'"):
        load_code_table(path, sheet="nope")


def test_xlsx_non_text_number_is_refused(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "n.xlsx", [["source_code", "canonical_code"], [1.5, "X"]])
    with pytest.raises(CodeTableError, match=r"row 2: cell 1\.5 is not text"):
        load_code_table(path)


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(CodeTableError, match="cannot open as an Excel workbook"):
        load_code_table(path)
