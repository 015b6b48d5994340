"""Code tables kept in CSV or Excel files beside the config.

IT teams maintain crosswalks (SAP material 000000000000100023 is 100023) in
spreadsheets. They are read when the config loads, so a broken table is
reported by `config check` with its file and row, not halfway through a
sync; mapping then gets a plain dictionary and does no I/O of its own.

The first row names the columns; `source` and `canonical` (or `源编码` and
`目标编码`, as Chinese IT teams name them) are required and any others
(descriptions, notes) are ignored. A CSV with no declared encoding is read
as UTF-8 (with or without Excel's byte-order mark) or else GB18030, the two
encodings Excel produces on Chinese machines. Cells are taken exactly as
written: a table maps codes after the source's rules (trim, ...) ran.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from stockbridge.config.errors import config_problem

__all__ = ["CodeTable", "check_encoding", "read_code_table"]

_EXPECTED = "a code table with columns source and canonical"
_HEADER_ALIASES = {
    "source_code": "source",
    "源编码": "source",
    "canonical_code": "canonical",
    "目标编码": "canonical",
}


@dataclass(frozen=True, slots=True)
class CodeTable:
    """Source code -> canonical code; `file` is where it was read from, if anywhere."""

    entries: dict[str, str] = field(default_factory=dict)
    file: Path | None = None


def read_code_table(
    file: Path, *, sheet: str | None, encoding: str | None = None
) -> CodeTable:
    """Read a `.csv` (in `encoding`, else detected) or `.xlsx` (its `sheet`, else the first) table.

    Raises a config problem naming the table file and row.
    """
    suffix = file.suffix.lower()
    if suffix not in {".csv", ".xlsx"}:
        raise config_problem(
            "a table file ending in .csv or .xlsx",
            f"{file.name!r}",
            "Save older .xls workbooks as .xlsx.",
        )
    if not file.is_file():
        raise config_problem(_EXPECTED, f"no file at {file}", file=file)
    if suffix == ".csv":
        return CodeTable(entries=_read_csv(file, encoding), file=file)
    return CodeTable(entries=_read_xlsx(file, sheet), file=file)


def check_encoding(name: str | None) -> str | None:
    """`name` if Python knows the text encoding (utf-8, gb18030, ...)."""
    if name is None:
        return None
    try:
        codecs.lookup(name)
    except LookupError:
        raise config_problem(
            "a text encoding such as utf-8 or gb18030", f"{name!r}"
        ) from None
    return name


def _detect_encoding(file: Path) -> str:
    data = file.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def _read_csv(file: Path, encoding: str | None) -> dict[str, str]:
    if encoding is None:
        encoding = _detect_encoding(file)
    # utf-8-sig drops the byte-order mark Excel writes in front of UTF-8 CSV.
    encoding = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        with file.open(encoding=encoding, newline="") as handle:
            return _entries(file, csv.reader(handle))
    except UnicodeDecodeError as error:
        raise config_problem(
            f"text in the {encoding} encoding",
            f"undecodable bytes at offset {error.start}",
            "Set `encoding:` for this table "
            "(Excel in China often saves CSV as gb18030).",
            file=file,
        ) from None
    except (OSError, csv.Error) as error:
        raise config_problem(
            _EXPECTED, f"a file that cannot be read as CSV: {error}", file=file
        ) from None


def _read_xlsx(file: Path, sheet: str | None) -> dict[str, str]:
    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except (OSError, KeyError, zipfile.BadZipFile, InvalidFileException) as error:
        raise config_problem(
            "a readable .xlsx workbook", f"one that is not: {error}", file=file
        ) from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise config_problem(
                "a sheet named one of " + ", ".join(workbook.sheetnames),
                f"sheet {sheet!r}",
                file=file,
            )
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        rows = (
            [_cell_text(file, number, cell) for cell in row]
            for number, row in enumerate(worksheet.iter_rows(values_only=True), 1)
        )
        return _entries(file, rows)
    finally:
        workbook.close()


def _cell_text(file: Path, row: int, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    raise config_problem(
        "codes as text or whole numbers",
        f"{value!r} in row {row}",
        "Format the code columns as text.",
        file=file,
        line=row,
    )


def _entries(file: Path, rows: Iterable[Sequence[str]]) -> dict[str, str]:
    numbered: Iterator[tuple[int, Sequence[str]]] = enumerate(rows, 1)
    header = next(numbered, None)
    if header is None:
        raise config_problem(_EXPECTED, "an empty file", file=file)
    names = [
        _HEADER_ALIASES.get(name.strip().lower(), name.strip().lower())
        for name in header[1]
    ]
    if "source" not in names or "canonical" not in names:
        raise config_problem(
            _EXPECTED,
            "a first row of " + ", ".join(repr(name) for name in header[1]),
            "The first row must name the columns.",
            file=file,
            line=1,
        )
    source_at, canonical_at = names.index("source"), names.index("canonical")
    entries: dict[str, str] = {}
    for number, row in numbered:
        if not any(cell.strip() for cell in row):
            continue
        source = row[source_at] if source_at < len(row) else ""
        canonical = row[canonical_at] if canonical_at < len(row) else ""
        if not source or not canonical:
            raise config_problem(
                "a source and a canonical code in every row",
                f"row {number} with source {source!r} and canonical {canonical!r}",
                file=file,
                line=number,
            )
        if entries.get(source, canonical) != canonical:
            raise config_problem(
                "one canonical code per source code",
                f"{source!r} mapped to both {entries[source]!r} and {canonical!r}",
                file=file,
                line=number,
            )
        entries[source] = canonical
    return entries
