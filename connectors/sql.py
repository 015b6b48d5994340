"""`kind: sql`: stock and movements from any database, by a query per stream.

For the systems without a connector of their own: a plant's WMS or MES
database, a reporting replica, a view an ERP partner set up. The database is
reached by a SQLAlchemy URL (`postgresql+psycopg://...`, `mssql+pyodbc://...`,
`sqlite:///...`) or an ODBC connection string; each stream is a query the
user writes and a column-to-field mapping (`connectors.row_mapping`):

    streams:
      stock:
        query: SELECT item, wh, lot, qty, uom FROM v_stock
        fields: {material: item, warehouse: wh, batch: lot, quantity: qty, unit: uom}
        site: "1000"
      movements:
        query: >-
          SELECT doc, line, item, qty, uom, io, posted, updated FROM v_moves
          WHERE updated > :since ORDER BY updated, doc, line
        cursor_column: updated          # cursor_type: timestamp | integer | text
        key: {document: doc, line: line}
        fields: {material: item, quantity: qty, unit: uom, posted_at: posted}
        sign: {column: io, inbound: ["1"], outbound: ["0"]}
        default_kind: receipt

Parameters are always bound, never formatted into the SQL: `:cursor` is the
last committed value of `cursor_column` (before the first run:
`initial_cursor`, by default 1900-01-01, the smallest bigint or ''), `:since`
is the same minus the source's `lookback` for timestamps (for integer and
text cursors it equals `:cursor`). The query must order by the cursor
column: a page's cursor is the last value whose rows have all been read, so
resuming with `> :cursor` never skips a row that shares a value with the
last one read. Rows stream from a server-side cursor, `page_size` at a time.

A query whose result lacks a mapped column fails at the first page with a
`ProtocolError` naming it; a row with a bad value becomes an
`UnreadableRecord` whose reason names the row, column and value. Only
connecting and starting a query are retried: a fault in the middle of a
result fails the run, and the next run resumes from the committed cursor.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from stockbridge.connectors.base import (
    CheckResult,
    CheckState,
    Connector,
    Page,
    Stream,
)
from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.odbc import connection_string_secrets
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy, call_with_retry
from stockbridge.connectors.row_mapping import (
    MissingColumnsError,
    RecordShape,
    RowReader,
)
from stockbridge.connectors.row_values import CellError, raw_text
from stockbridge.connectors.sql_backends import (
    OdbcBackend,
    QueryResult,
    SqlAlchemyBackend,
    SqlBackend,
)
from stockbridge.connectors.sql_cursor import (
    INITIAL_CURSOR,
    CursorType,
    CursorValue,
    SqlCursor,
    cursor_value,
    out_of_order,
)
from stockbridge.connectors.sql_settings import (
    SqlMovementStream,
    SqlSettings,
    SqlStockStream,
)
from stockbridge.mapping.errors import UnknownTimeZoneError
from stockbridge.mapping.model import SourceRecord, UnreadableRecord
from stockbridge.mapping.timezones import load_zone

__all__ = ["SqlConnector", "SqlSettings"]

_CHECK_RETRY = RetryPolicy(attempts=1)


class SqlConnector(Connector):
    """Reads stock and movements with the user's own queries."""

    kind = "sql"
    settings_model = SqlSettings
    streams: ClassVar[frozenset[Stream]] = frozenset({Stream.STOCK, Stream.MOVEMENTS})
    unit_vocabularies = ("cn",)
    """Chinese ERP unit names and Latin ones (千克, 个, kg, pcs); other spellings
    (SAP's ST, KAR) go in the source's `mapping.<name>.units` table."""

    settings: SqlSettings

    def __init__(self, name: str, settings: SqlSettings, *, timezone: str) -> None:
        super().__init__(name, settings, timezone=timezone)
        self.redactor = Redactor()
        if settings.url is not None:
            url = settings.url.get_secret_value()
            self.redactor.add(SqlAlchemyBackend.password(url))
        if settings.odbc is not None:
            for secret in connection_string_secrets(settings.odbc.get_secret_value()):
                self.redactor.add(secret)
        self._backend: SqlBackend | None = None

    # --- plumbing ---------------------------------------------------------------

    @property
    def backend(self) -> SqlBackend:
        """The database backend, built on first use (construction does no I/O)."""
        if self._backend is None:
            s = self.settings
            if s.url is not None:
                self._backend = SqlAlchemyBackend(
                    s.url.get_secret_value(),
                    source=self.name,
                    redactor=self.redactor,
                    page_size=s.page_size,
                    connect_timeout=s.connect_timeout,
                    timeout=s.timeout,
                    connect_args=s.connect_args,
                )
            elif s.odbc is not None:
                self._backend = OdbcBackend(
                    s.odbc.get_secret_value(),
                    source=self.name,
                    redactor=self.redactor,
                    page_size=s.page_size,
                    connect_timeout=s.connect_timeout,
                    timeout=s.timeout,
                    char_encoding=s.char_encoding,
                    wchar_encoding=s.wchar_encoding,
                    dialect=s.dialect,
                )
            else:  # the settings refuse this; kept for a hand-built model
                msg = "neither url nor odbc is set"
                raise SourceConfigError(msg, source=self.name)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def _zone(self) -> ZoneInfo:
        try:
            return load_zone(self.timezone)
        except UnknownTimeZoneError as exc:
            raise SourceConfigError(str(exc), source=self.name) from None

    def _open(
        self,
        stream: Stream,
        query: str,
        params: Mapping[str, object],
        policy: RetryPolicy,
    ) -> tuple[ExitStack, QueryResult]:
        """Connect and start `query`, retrying transient faults by `policy`."""

        def attempt() -> tuple[ExitStack, QueryResult]:
            stack = ExitStack()
            try:
                result = stack.enter_context(
                    self.backend.run(query, params, stream=stream.value)
                )
            except BaseException:
                stack.close()
                raise
            return stack, result

        what = f"{self.name}/{stream.value} query"
        return call_with_retry(attempt, policy, what=what)

    def _reader(
        self,
        stream: Stream,
        shape: RecordShape,
        columns: Mapping[str, str],
        result: QueryResult,
        *,
        also: Sequence[str] = (),
        as_of: datetime | None = None,
    ) -> RowReader:
        """The row reader of `result`; a missing column is the query's fault."""
        try:
            return RowReader(
                stream,
                shape,
                columns,
                result.columns,
                self._zone(),
                as_of=as_of,
                also=also,
            )
        except MissingColumnsError as error:
            msg = f"the {stream.value} query's result has {error}"
            raise ProtocolError(msg, source=self.name, stream=stream.value) from None

    def _stock_query(self) -> SqlStockStream:
        configured = self.settings.streams.stock
        if configured is None:
            raise self._not_configured(Stream.STOCK)
        return configured

    def _movement_query(self) -> SqlMovementStream:
        configured = self.settings.streams.movements
        if configured is None:
            raise self._not_configured(Stream.MOVEMENTS)
        return configured

    def _not_configured(self, stream: Stream) -> SourceConfigError:
        msg = (
            f"no streams.{stream.value} query is configured for this source: "
            f"add one, or turn off its {stream.value} schedule"
        )
        return SourceConfigError(msg, source=self.name, stream=stream.value)

    # --- check ------------------------------------------------------------------

    def offered_streams(self) -> frozenset[Stream]:
        configured = self.settings.streams
        return frozenset(
            stream
            for stream, query in (
                (Stream.STOCK, configured.stock),
                (Stream.MOVEMENTS, configured.movements),
            )
            if query is not None
        )

    def check(self) -> CheckResult:
        """Connect once, then start each query and compare its columns to the mapping."""
        try:
            self.backend.ping()
            checked = []
            streams = self.settings.streams
            for stream, configured in (
                (Stream.STOCK, streams.stock),
                (Stream.MOVEMENTS, streams.movements),
            ):
                if configured is not None:
                    self._check_query(stream, configured)
                    checked.append(stream.value)
        except AuthError as exc:
            return CheckResult(CheckState.AUTH_FAILED, str(exc))
        except TransientError as exc:
            return CheckResult(CheckState.UNREACHABLE, str(exc))
        except ProtocolError as exc:
            return CheckResult(CheckState.PROTOCOL_ERROR, str(exc))
        except SourceConfigError as exc:
            return CheckResult(CheckState.CONFIG_ERROR, str(exc))
        return CheckResult(
            CheckState.OK,
            f"connected; {', '.join(checked)}: the query runs and has every mapped column",
        )

    def _check_query(
        self, stream: Stream, configured: SqlStockStream | SqlMovementStream
    ) -> None:
        """Start the query (movements: from now, so it stays cheap) and read its columns."""
        if isinstance(configured, SqlMovementStream):
            value = _check_position(configured.cursor_type, self._zone())
            params: dict[str, object] = {"cursor": value, "since": value}
            columns, also = configured.columns, [configured.cursor_column]
        else:
            params, columns, also = {}, configured.fields, []
        stack, result = self._open(stream, configured.query, params, _CHECK_RETRY)
        with stack:
            self._reader(stream, configured, columns, result, also=also)

    # --- stock ------------------------------------------------------------------

    def stock(self) -> Iterator[Page]:
        """Every row of the stock query, `page_size` records a page."""
        configured = self._stock_query()
        as_of = datetime.now(UTC)
        stack, result = self._open(
            Stream.STOCK, configured.query, {}, self.settings.retry_policy()
        )
        with stack:
            reader = self._reader(
                Stream.STOCK, configured, configured.fields, result, as_of=as_of
            )
            batch: list[SourceRecord] = []
            number = 0
            for chunk in result.chunks:
                for row in chunk:
                    number += 1
                    batch.append(self._record(reader, result.columns, row, number))
                    if len(batch) == self.settings.page_size:
                        yield Page(batch)
                        batch = []
            if batch:
                yield Page(batch)

    def _record(
        self,
        reader: RowReader,
        columns: Sequence[str],
        row: Sequence[object],
        number: int,
    ) -> SourceRecord:
        raw = {
            column: raw_text(value) for column, value in zip(columns, row, strict=False)
        }
        try:
            return reader.record(row, raw)
        except (CellError, ValueError) as error:
            reason = f"{reader.stream.value} row {number}, {error}"
            return UnreadableRecord(raw=raw, reason=reason)

    # --- movements ----------------------------------------------------------------

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        """Rows after `cursor` (the query decides: `> :cursor` or `> :since`), in order."""
        configured = self._movement_query()
        kind = configured.cursor_type
        start = (
            SqlCursor.from_json(cursor, kind, source=self.name).value
            if cursor
            else configured.initial()
        )
        since = start - lookback if isinstance(start, datetime) else start
        stack, result = self._open(
            Stream.MOVEMENTS,
            configured.query,
            {"cursor": start, "since": since},
            self.settings.retry_policy(),
        )
        with stack:
            reader = self._reader(
                Stream.MOVEMENTS,
                configured,
                configured.columns,
                result,
                also=(configured.cursor_column,),
            )
            position = reader.positions[configured.cursor_column]
            yield from self._movement_pages(
                reader, result, position, configured, SqlCursor(kind, start)
            )

    def _movement_pages(
        self,
        reader: RowReader,
        result: QueryResult,
        position: int,
        configured: SqlMovementStream,
        start: SqlCursor,
    ) -> Iterator[Page]:
        """Pages, each with the last cursor value all of whose rows are in it or before.

        Rows re-read by the look-back lie before `start`, which is committed
        already: a page cursor never steps back behind it.
        """
        size = self.settings.page_size
        kind = configured.cursor_type
        done: CursorValue = start.value  # every row up to this value has been read
        last: CursorValue | None = None  # the value of the last row read
        sent = done
        batch: list[SourceRecord] = []
        number = 0
        for chunk in result.chunks:
            for row in chunk:
                number += 1
                record = self._record(reader, result.columns, row, number)
                try:
                    value: CursorValue | None = cursor_value(row[position], kind)
                except ValueError as error:
                    value = None
                    if not isinstance(record, UnreadableRecord):
                        reason = (
                            f"movements row {number}, column "
                            f"{configured.cursor_column}: {raw_text(row[position])!r} {error}"
                        )
                        record = UnreadableRecord(raw=record.raw, reason=reason)
                if value is not None and last is not None and value != last:
                    if out_of_order(value, last):
                        msg = (
                            f"the movements query returned {configured.cursor_column} "
                            f"{raw_text(row[position])!r} after {raw_text(last)!r}: "
                            f"it must ORDER BY {configured.cursor_column}"
                        )
                        raise ProtocolError(msg, source=self.name, stream="movements")
                    if not out_of_order(
                        last, start.value
                    ):  # look-back rows: no step back
                        done = last
                if len(batch) == size:
                    yield Page(batch, SqlCursor(kind, done).to_json())
                    batch, sent = [], done
                batch.append(record)
                if value is not None:
                    last = value
        if last is not None and not out_of_order(last, start.value):
            done = last
        if batch or done != sent:
            yield Page(batch, SqlCursor(kind, done).to_json())


def _check_position(kind: CursorType, zone: ZoneInfo) -> CursorValue:
    """A cursor past every row, so a check's query is cheap."""
    if kind == "timestamp":
        return datetime.now(zone).replace(tzinfo=None)
    if kind == "integer":
        return 2**63 - 1
    return INITIAL_CURSOR["text"]
