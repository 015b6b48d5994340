"""Reading CSV and XLSX drops: which files, what encoding, which rows.

Plants export stock and movements from their ERP by hand into a shared
folder, usually with Excel on a Chinese Windows machine: CSV comes as UTF-8,
UTF-8 with a byte-order mark, or GB18030 (Excel's "CSV" on a Chinese
system), XLSX with number cells as doubles. Each file is scanned once before
it is read: the scan computes its SHA-256 (the identity sync records) and,
for CSV, finds the encoding the whole file decodes in, so a file is never
half read before it turns out to be in the wrong encoding. Both passes
stream: memory does not grow with the file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from stockbridge.connectors.row_values import text_value

__all__ = [
    "DropFile",
    "FileScan",
    "Table",
    "UnreadableFileError",
    "list_drops",
    "open_table",
    "scan_file",
]

_CHUNK = 1 << 20
_BOM = codecs.BOM_UTF8
_DETECTED = ("utf-8", "gb18030")
_NAMES = {"utf-8": "UTF-8", "gb18030": "GB18030"}


class UnreadableFileError(Exception):
    """A file, or the rest of one, that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class DropFile:
    """A file in the drop folder; `name` is its path relative to the folder."""

    path: Path
    name: str
    modified: datetime

    @property
    def is_xlsx(self) -> bool:
        """Excel workbook (else CSV)."""
        return self.path.suffix.lower() in (".xlsx", ".xlsm")


@dataclass(frozen=True, slots=True)
class FileScan:
    """What one pass over a file found: its checksum, and its text encoding."""

    sha256: str
    encoding: str | None
    """The encoding to read a CSV in; None for a workbook or an unreadable file."""
    problem: str | None = None
    """Why the file cannot be read as text, if it cannot."""


@dataclass
class Table:
    """An open file: the header row and the data rows after it."""

    header_row: int
    header: list[str]
    rows: Iterator[tuple[int, Sequence[Any]]]
    """(row number counting from 1 at the top of the file, cells)."""


def list_drops(
    folder: Path, patterns: Sequence[str], *, min_age: float, now: datetime
) -> list[DropFile]:
    """Files matching `patterns`, oldest first (then by name).

    Files modified within `min_age` seconds are left for the next run (an
    export may still be writing them), and so are Excel's lock files
    (`~$name.xlsx`) and hidden files.
    """
    found: dict[Path, DropFile] = {}
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path in found or path.name.startswith(("~$", ".")) or not path.is_file():
                continue
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            if (now - modified).total_seconds() < min_age:
                continue
            found[path] = DropFile(path, path.relative_to(folder).as_posix(), modified)
    return sorted(found.values(), key=lambda drop: (drop.modified, drop.name))


def scan_file(drop: DropFile, encoding: str | None) -> FileScan:
    """Checksum `drop` and, for CSV, settle its encoding (given, or detected)."""
    digest = hashlib.sha256()
    if drop.is_xlsx:
        with drop.path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        return FileScan(digest.hexdigest(), None)
    candidates = (encoding,) if encoding else _DETECTED
    decoders = {name: _Decoder(name) for name in candidates}
    has_bom = False
    nul_line: int | None = None
    with drop.path.open("rb") as handle:
        first = True
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if first:
                has_bom, first = chunk.startswith(_BOM), False
            if nul_line is None and b"\0" in chunk:
                nul_line = decoders[candidates[0]].line_of(chunk, chunk.index(b"\0"))
            for decoder in decoders.values():
                decoder.feed(chunk)
    for decoder in decoders.values():
        decoder.finish()
    sha = digest.hexdigest()
    if nul_line is not None:
        problem = (
            f"is not a text file: a NUL byte at line {nul_line} (UTF-16? save as UTF-8)"
        )
        return FileScan(sha, None, problem)
    for name in candidates:
        if decoders[name].error is None:
            chosen = (
                "utf-8-sig" if has_bom and codecs.lookup(name).name == "utf-8" else name
            )
            return FileScan(sha, chosen)
    if encoding:
        problem = (
            f"is not valid {encoding}: {decoders[encoding].error}; "
            "set `encoding:` to the file's encoding"
        )
    else:
        tried = "; ".join(f"not {_NAMES[n]} ({decoders[n].error})" for n in candidates)
        problem = f"is in none of UTF-8, UTF-8 with BOM and GB18030: {tried}"
    return FileScan(sha, None, problem)


class _Decoder:
    """One candidate encoding, fed the whole file; remembers the first bad byte."""

    def __init__(self, encoding: str) -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._offset = 0  # bytes fed before the current chunk
        self._lines = 1  # line number at the start of the current chunk
        self.error: str | None = None

    def line_of(self, chunk: bytes, index: int) -> int:
        return self._lines + chunk.count(b"\n", 0, max(index, 0))

    def feed(self, chunk: bytes) -> None:
        if self.error is None:
            pending = len(self._decoder.getstate()[0])
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError as error:
                index = error.start - pending
                byte = error.object[error.start : error.start + 1].hex()
                self.error = (
                    f"byte 0x{byte} at offset {self._offset + index}, "
                    f"line {self.line_of(chunk, index)}"
                )
        self._offset += len(chunk)
        self._lines += chunk.count(b"\n")

    def finish(self) -> None:
        if self.error is None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.error = f"the file ends inside a character, line {self._lines}"


@contextmanager
def open_table(
    drop: DropFile,
    *,
    encoding: str | None,
    sheet: str | None,
    delimiter: str,
    header_row: int,
) -> Iterator[Table]:
    """Open `drop` and position it after its header row.

    Raises `UnreadableFileError` when the file cannot be opened or has no
    header row; iterating `rows` raises it when the rest of the file cannot
    be read.
    """
    if drop.is_xlsx:
        with _open_xlsx(drop, sheet) as rows:
            yield _table(rows, header_row)
        return
    if encoding is None:
        msg = "no encoding was settled for the file"
        raise UnreadableFileError(msg)
    with drop.path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        yield _table(_csv_rows(reader), header_row)


def _csv_rows(reader: Any) -> Iterator[Sequence[Any]]:
    try:
        yield from reader
    except (csv.Error, UnicodeDecodeError) as error:
        msg = f"cannot be read as CSV after line {reader.line_num}: {error}"
        raise UnreadableFileError(msg) from None


def _table(rows: Iterator[Sequence[Any]], header_row: int) -> Table:
    numbered = enumerate(rows, 1)
    for number, cells in numbered:
        if number == header_row:
            header = [text_value(cell) for cell in cells]
            return Table(number, header, _data_rows(numbered))
    msg = f"has no header row {header_row}"
    raise UnreadableFileError(msg)


def _data_rows(
    numbered: Iterator[tuple[int, Sequence[Any]]],
) -> Iterator[tuple[int, Sequence[Any]]]:
    for number, cells in numbered:
        if any(cell is not None and str(cell).strip() for cell in cells):
            yield number, cells


@contextmanager
def _open_xlsx(drop: DropFile, sheet: str | None) -> Iterator[Iterator[Sequence[Any]]]:
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it ignores; data is unaffected.
            warnings.simplefilter("ignore", UserWarning)
            workbook = openpyxl.load_workbook(drop.path, read_only=True, data_only=True)
    except (
        OSError,
        KeyError,
        ValueError,
        zipfile.BadZipFile,
        InvalidFileException,
    ) as error:
        msg = f"is not a readable .xlsx workbook: {error}"
        raise UnreadableFileError(msg) from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            msg = f"has no sheet {sheet!r} (sheets: {', '.join(workbook.sheetnames)})"
            raise UnreadableFileError(msg)
        worksheet: Any = (
            workbook[sheet] if sheet is not None else workbook.worksheets[0]
        )
        # Exporters often write a wrong <dimension>; read every row there is.
        worksheet.reset_dimensions()
        yield _xlsx_rows(worksheet)
    finally:
        workbook.close()


def _xlsx_rows(worksheet: Any) -> Iterator[Sequence[Any]]:
    try:
        yield from worksheet.iter_rows(values_only=True)
    except (OSError, KeyError, ValueError, ParseError, zipfile.BadZipFile) as error:
        msg = f"cannot be read further: {error}"
        raise UnreadableFileError(msg) from None
