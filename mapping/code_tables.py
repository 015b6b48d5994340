"""Loading crosswalk tables from CSV or Excel: the one file-reading module in mapping.

Users keep code tables in spreadsheets, often saved by Chinese Excel or WPS,
so CSV comes as UTF-8, UTF-8 with BOM or GB18030 and headers may be Chinese
(源编码 / 目标编码). Codes are text: an Excel cell holding a number loses its
leading zeros, so a whole-number cell is read as its digits and any other
number is refused rather than guessed at.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

from stockbridge.mapping.errors import CodeTableError

__all__ = ["DEFAULT_SOURCE_COLUMN", "DEFAULT_TARGET_COLUMN", "load_code_table"]

DEFAULT_SOURCE_COLUMN = "source_code"
DEFAULT_TARGET_COLUMN = "canonical_code"
_HEADER_ALIASES = {DEFAULT_SOURCE_COLUMN: "源编码", DEFAULT_TARGET_COLUMN: "目标编码"}

Row = tuple[int, list[object]]
"""A data row with its 1-based row number in the file or sheet."""


def load_code_table(
    path: str | Path,
    *,
    source_column: str = DEFAULT_SOURCE_COLUMN,
    target_column: str = DEFAULT_TARGET_COLUMN,
    sheet: str | None = None,
) -> dict[str, str]:
    """Read a source-code to canonical-code table from a .csv or .xlsx file.

    Blank rows are skipped and cells are trimmed. The same source code twice
    with the same target is fine; with different targets it is an error
    naming the file and both rows. `sheet` picks an Excel sheet (default:
    the first).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
    elif suffix in {".xlsx", ".xlsm"}:
        rows = _xlsx_rows(path, sheet)
    else:
        msg = f"{path}: a code table must be a .csv or .xlsx file"
        raise CodeTableError(msg)
    return _build(path, rows, source_column, target_column)


def _decode(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        msg = f"{path}: not UTF-8 or GB18030 text (byte {exc.start})"
        raise CodeTableError(msg) from exc


def _csv_rows(path: Path) -> list[Row]:
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    return [(reader.line_num, list(cells)) for cells in reader]


def _xlsx_rows(path: Path, sheet: str | None) -> list[Row]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        OSError,
        KeyError,
        ValueError,
    ) as exc:
        msg = f"{path}: cannot open as an Excel workbook: {exc}"
        raise CodeTableError(msg) from exc
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            msg = (
                f"{path}: no sheet {sheet!r} (sheets: {', '.join(workbook.sheetnames)})"
            )
            raise CodeTableError(msg)
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        # Read it all while the file is open: tables are small, and a
        # half-read generator would hold the workbook open past an error.
        rows = worksheet.iter_rows(values_only=True)
        return [(number, list(cells)) for number, cells in enumerate(rows, start=1)]
    finally:
        workbook.close()


def _cell_text(path: Path, number: int, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    msg = (
        f"{path} row {number}: cell {value!r} is not text; "
        "format the code columns as text so codes keep their exact form"
    )
    raise CodeTableError(msg)


def _column(path: Path, header: list[str], wanted: str) -> int:
    names = [wanted]
    if wanted in _HEADER_ALIASES:
        names.append(_HEADER_ALIASES[wanted])
    folded = [h.casefold() for h in header]
    for name in names:
        if name.casefold() in folded:
            return folded.index(name.casefold())
    msg = f"{path}: no column {' or '.join(map(repr, names))} in header {header}"
    raise CodeTableError(msg)


def _build(
    path: Path, rows: Iterable[Row], source_column: str, target_column: str
) -> dict[str, str]:
    table: dict[str, str] = {}
    first_row: dict[str, int] = {}
    header: list[str] | None = None
    source_at = target_at = 0
    for number, cells in rows:
        texts = [_cell_text(path, number, c) for c in cells]
        if not any(texts):
            continue
        if header is None:
            header = texts
            source_at = _column(path, header, source_column)
            target_at = _column(path, header, target_column)
            continue
        source = texts[source_at] if source_at < len(texts) else ""
        target = texts[target_at] if target_at < len(texts) else ""
        if not source or not target:
            empty = source_column if not source else target_column
            msg = f"{path} row {number}: empty {empty}"
            raise CodeTableError(msg)
        known = table.get(source)
        if known is not None and known != target:
            msg = (
                f"{path}: source code {source!r} maps to {known!r} in row "
                f"{first_row[source]} and to {target!r} in row {number}"
            )
            raise CodeTableError(msg)
        table[source] = target
        first_row.setdefault(source, number)
    if header is None:
        msg = f"{path}: the table is empty (expected a header row)"
        raise CodeTableError(msg)
    return table
