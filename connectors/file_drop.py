"""`kind: file`: stock or movements from a folder of CSV/XLSX drops.

What many plants have instead of an interface: someone exports 库存 or
出入库明细 from the ERP by hand into a shared folder. The config names the
folder, the stream the files hold, and which column holds each canonical
field, in the headers the export uses:

    sources:
      plant_drop:
        kind: file
        path: /srv/drops/plant2
        stream: stock                        # or movements
        columns: {material: 物料编码, quantity: 数量, unit: 单位,
                  warehouse: 仓库, batch: 批号, status: 状态}
        status_map: {合格: unrestricted, 待检: quality_inspection, 冻结: blocked}
        site: "2000"
        thousands: ","                       # accept 1,234.5

Headers match after trimming spaces and byte-order marks. CSV without an
`encoding` is read as UTF-8, UTF-8 with BOM or GB18030, whichever the whole
file decodes in (see `file_reading`); XLSX numbers are read as described in
`row_values`. Rows become records whose `raw` is the row as {header: text}
plus `_file` and `_row` (the row number in the file, the header row
counted), so every reject says where to look: "库存.csv row 7, column 数量:
'12,5x' is not a number". A bad row is a reject; the good rows load.

A file that cannot be read at all (wrong encoding, a mapped column missing
from the header, not a workbook) cannot be mapped row by row: in the
movements stream it is one reject naming the file and the reason (the
headers found, for a wrong header), and no row of it loads; in the stock
stream the run fails with that reason, so the previous snapshot stays
current instead of being replaced by nothing.

Movements: each file is processed once. The cursor is {file name: SHA-256}
of the files done; a file whose checksum changed (a corrected re-export) is
read again, which is harmless because movements upsert on their key, and
files that left the folder drop out of the cursor. `lookback` does not
apply: the checksum already catches every change. Stock: the newest file
(by modification time, then name) is the snapshot, read in full on every
run; `as_of` is its `as_of` column or else the file's modification time.
"""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Generator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, field_validator, model_validator

from stockbridge.connectors.base import (
    CheckResult,
    CheckState,
    Connector,
    ConnectorSettings,
    Page,
    Stream,
)
from stockbridge.connectors.errors import (
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.file_reading import (
    DropFile,
    FileScan,
    UnreadableFileError,
    list_drops,
    open_table,
    scan_file,
)
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import call_with_retry
from stockbridge.connectors.row_mapping import (
    MissingColumnsError,
    RecordShape,
    RowReader,
)
from stockbridge.connectors.row_values import CellError, raw_text
from stockbridge.mapping.errors import UnknownTimeZoneError
from stockbridge.mapping.model import SourceRecord, UnreadableRecord
from stockbridge.mapping.timezones import load_zone

__all__ = ["FileDropConnector", "FileDropSettings"]

log = logging.getLogger("stockbridge.connectors")


class FileDropSettings(ConnectorSettings, RecordShape):
    """The keys of a `kind: file` source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1)
    """The drop folder."""
    pattern: tuple[str, ...] = ("*.csv", "*.xlsx")
    """Glob patterns of the files to read, relative to the folder."""
    stream: Literal["stock", "movements"]
    """What the files hold."""
    columns: dict[str, str]
    """Canonical field -> header in the file (物料编码, 数量, ...)."""
    encoding: str | None = None
    """The CSV text encoding; None: detect UTF-8, UTF-8 with BOM or GB18030."""
    sheet: str | None = None
    """The XLSX sheet to read; None: the first."""
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header_row: int = Field(default=1, ge=1)
    """The row holding the headers (exports often put a title above them)."""
    min_age: float = Field(default=10.0, ge=0)
    """Seconds since a file's last change before it is read (it may still be written)."""

    @field_validator("pattern", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                msg = "a text encoding Python knows (utf-8, utf-8-sig, gb18030, ...)"
                raise ValueError(msg) from None
        return value

    @model_validator(mode="after")
    def _valid_columns(self) -> FileDropSettings:
        problems = self.shape_problems(Stream(self.stream), self.columns)
        if problems:
            msg = f"columns that make {self.stream} records: {'; '.join(problems)}"
            raise ValueError(msg)
        return self


class FileCursor:
    """The files done: relative name -> SHA-256 of the content that was read."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def to_json(self) -> str:
        """The cursor as sync stores it."""
        return json.dumps({"files": self.files}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None, *, source: str) -> FileCursor:
        """Read a stored cursor (None: nothing done yet)."""
        if not text:
            return cls({})
        try:
            files = json.loads(text)["files"]
        except (ValueError, KeyError, TypeError):
            files = None
        if not isinstance(files, dict):
            msg = f"stored movements cursor {text[:200]!r} is not a file cursor"
            raise SourceConfigError(msg, source=source, stream="movements")
        return cls({str(name): str(sha) for name, sha in files.items()})


class _FileProblemError(Exception):
    """A whole file (or the rest of it) that cannot be read; `raw` says which."""

    def __init__(self, reason: str, raw: dict[str, object]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


class FileDropConnector(Connector):
    """Reads stock or movements from the files dropped into one folder."""

    kind = "file"
    settings_model = FileDropSettings
    streams: ClassVar[frozenset[Stream]] = frozenset({Stream.STOCK, Stream.MOVEMENTS})
    unit_vocabularies = ("cn",)
    """Chinese ERP unit names and Latin ones (千克, 个, kg, pcs); other spellings
    (SAP's ST, KAR) go in the source's `mapping.<name>.units` table."""

    settings: FileDropSettings

    def __init__(self, name: str, settings: FileDropSettings, *, timezone: str) -> None:
        super().__init__(name, settings, timezone=timezone)
        self.redactor = Redactor()
        self.folder = Path(settings.path)

    # --- plumbing ---------------------------------------------------------------

    def _zone(self) -> ZoneInfo:
        try:
            return load_zone(self.timezone)
        except UnknownTimeZoneError as exc:
            raise SourceConfigError(str(exc), source=self.name) from None

    def offered_streams(self) -> frozenset[Stream]:
        return frozenset({Stream(self.settings.stream)})

    def _require(self, stream: Stream) -> None:
        if self.settings.stream != stream.value:
            msg = (
                f"this folder holds {self.settings.stream}, not {stream.value}: "
                f"turn off its {stream.value} schedule"
            )
            raise SourceConfigError(msg, source=self.name, stream=stream.value)

    def _list(self, stream: Stream) -> list[DropFile]:
        """The files to consider, retrying a folder that is not there (an unmounted share)."""

        def attempt() -> list[DropFile]:
            if not self.folder.is_dir():
                what = "is not a folder" if self.folder.exists() else "does not exist"
                msg = f"drop folder {self.folder} {what} or cannot be reached"
                raise TransientError(msg, source=self.name, stream=stream.value)
            try:
                return list_drops(
                    self.folder,
                    self.settings.pattern,
                    min_age=self.settings.min_age,
                    now=datetime.now(UTC),
                )
            except OSError as error:
                msg = f"cannot list drop folder {self.folder}: {error}"
                raise TransientError(
                    msg, source=self.name, stream=stream.value
                ) from None

        return call_with_retry(
            attempt, self.settings.retry_policy(), what=f"{self.name} folder listing"
        )

    def _records(
        self, drop: DropFile, scan: FileScan, stream: Stream
    ) -> Generator[SourceRecord]:
        """The records of one file; `_FileProblemError` when it cannot be read (on)."""
        s = self.settings
        base: dict[str, object] = {"_file": drop.name, "_sha256": scan.sha256}
        if scan.problem is not None:
            raise _FileProblemError(f"{drop.name} {scan.problem}", base)
        try:
            with open_table(
                drop,
                encoding=scan.encoding,
                sheet=s.sheet,
                delimiter=s.delimiter,
                header_row=s.header_row,
            ) as table:
                try:
                    reader = RowReader(
                        stream,
                        s,
                        s.columns,
                        table.header,
                        self._zone(),
                        as_of=drop.modified,
                    )
                except MissingColumnsError as error:
                    reason = (
                        f"{drop.name} row {table.header_row} (the header) has {error}"
                    )
                    raise _FileProblemError(
                        reason,
                        {**base, "_row": table.header_row, "_headers": table.header},
                    ) from None
                width = len(table.header)
                keys = [h or f"column {i}" for i, h in enumerate(table.header, 1)]
                for number, cells in table.rows:
                    raw = _raw(keys, cells)
                    raw["_file"], raw["_row"] = drop.name, number
                    if not drop.is_xlsx and _overflows(cells, width):
                        reason = (
                            f"{drop.name} row {number} has {len(cells)} cells but the "
                            f"header has {width}: a delimiter inside an unquoted value?"
                        )
                        yield UnreadableRecord(raw, reason)
                        continue
                    try:
                        yield reader.record(cells, raw)
                    except (CellError, ValueError) as error:
                        yield UnreadableRecord(
                            raw, f"{drop.name} row {number}, {error}"
                        )
        except UnreadableFileError as error:
            raise _FileProblemError(f"{drop.name} {error}", base) from None

    # --- check ------------------------------------------------------------------

    def check(self) -> CheckResult:
        """The folder is there, and the newest file reads with the configured columns."""
        if self.folder.exists() and not self.folder.is_dir():
            return CheckResult(
                CheckState.CONFIG_ERROR, f"{self.folder} is not a folder"
            )
        if not self.folder.is_dir():
            detail = f"drop folder {self.folder} does not exist or cannot be reached"
            return CheckResult(CheckState.UNREACHABLE, detail)
        try:
            drops = list_drops(
                self.folder, self.settings.pattern, min_age=0, now=datetime.now(UTC)
            )
            if not drops:
                patterns = ", ".join(self.settings.pattern)
                return CheckResult(
                    CheckState.OK,
                    f"{self.folder} holds no file matching {patterns} yet",
                )
            newest = drops[-1]
            records = self._records(
                newest,
                scan_file(newest, self.settings.encoding),
                Stream(self.settings.stream),
            )
            next(records, None)
            records.close()
        except OSError as error:
            return CheckResult(CheckState.UNREACHABLE, f"{self.folder}: {error}")
        except _FileProblemError as problem:
            return CheckResult(CheckState.PROTOCOL_ERROR, problem.reason)
        return CheckResult(
            CheckState.OK, f"{len(drops)} file(s); the newest, {newest.name}, reads"
        )

    # --- stock ------------------------------------------------------------------

    def stock(self) -> Iterator[Page]:
        """The newest file as the snapshot; a file that cannot be read fails the run."""
        self._require(Stream.STOCK)
        drops = self._list(Stream.STOCK)
        if not drops:
            msg = (
                f"drop folder {self.folder} holds no file matching "
                f"{', '.join(self.settings.pattern)}: no snapshot to read"
            )
            raise ProtocolError(msg, source=self.name, stream="stock")
        newest = drops[-1]
        batch: list[SourceRecord] = []
        try:
            scan = scan_file(newest, self.settings.encoding)
            for record in self._records(newest, scan, Stream.STOCK):
                batch.append(record)
                if len(batch) == self.settings.page_size:
                    yield Page(batch)
                    batch = []
        except _FileProblemError as problem:
            raise ProtocolError(
                problem.reason, source=self.name, stream="stock"
            ) from None
        except OSError as error:
            msg = f"cannot read {newest.name}: {error}"
            raise TransientError(msg, source=self.name, stream="stock") from None
        if batch:
            yield Page(batch)

    # --- movements ----------------------------------------------------------------

    def movements(
        self,
        cursor: str | None,
        *,
        lookback: timedelta,  # noqa: ARG002 - checksums catch every change
    ) -> Iterator[Page]:
        """Every file not done yet (or changed since), each page with the files done."""
        self._require(Stream.MOVEMENTS)
        done = FileCursor.from_json(cursor, source=self.name).files
        drops = self._list(Stream.MOVEMENTS)
        present = {drop.name for drop in drops}
        committed = {name: sha for name, sha in done.items() if name in present}
        sent = dict(done)
        size = self.settings.page_size
        batch: list[SourceRecord] = []
        failed: list[str] = []
        for drop in drops:
            try:
                scan = scan_file(drop, self.settings.encoding)
                if done.get(drop.name) == scan.sha256:
                    continue
                for record in self._file_movements(drop, scan):
                    if len(batch) == size:
                        yield Page(batch, FileCursor(committed).to_json())
                        batch, sent = [], dict(committed)
                    batch.append(record)
            except OSError as error:
                # Locked or vanished mid-read: not recorded, so the next run reads it.
                log.warning("%s: cannot read %s: %s", self.name, drop.name, error)
                failed.append(f"{drop.name}: {error}")
                continue
            committed[drop.name] = scan.sha256
        if batch or committed != sent:
            yield Page(batch, FileCursor(committed).to_json())
        if failed:
            msg = "files left for the next run: " + "; ".join(failed)
            raise TransientError(msg, source=self.name, stream="movements")

    def _file_movements(self, drop: DropFile, scan: FileScan) -> Iterator[SourceRecord]:
        try:
            yield from self._records(drop, scan, Stream.MOVEMENTS)
        except _FileProblemError as problem:
            yield UnreadableRecord(problem.raw, problem.reason)


def _raw(keys: list[str], cells: Sequence[object]) -> dict[str, object]:
    """The row as {header: text}; cells beyond the header keyed by position."""
    raw: dict[str, object] = {}
    for index, cell in enumerate(cells):
        key = keys[index] if index < len(keys) else f"column {index + 1}"
        raw[key] = raw_text(cell)
    return raw


def _overflows(cells: Sequence[object], width: int) -> bool:
    """A CSV row with values beyond the header: its cells are shifted."""
    return len(cells) > width and any(raw_text(c).strip() for c in cells[width:])
