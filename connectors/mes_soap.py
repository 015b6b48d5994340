"""`kind: mes_soap`: line-side stock, material transactions and materials from an MES's SOAP service.

Each stream is one configured operation (`mes_soap_settings` shows the
keys): the connector calls it once per argument set, follows its page-index
paging, unpacks the result (DataSet DiffGram, XML or JSON in a string:
`mes_soap_results`) and reads each row through the configured fields
(`mes_soap_records`).

Movements are read incrementally by entry time: the movements operation
gets the entry time to read from in `since_arg` (the MES's local time) and
must answer rows in entry order. The cursor keeps, per argument set, the
latest entry time committed (UTC); a pull re-reads `lookback` before it.
An MES transaction log holds posted transactions only, so every row is
emitted; a cancellation is its own row, read as the kind it is given (with
`reverses_document`/`reverses_line` pointing at the cancelled line).
"""

from __future__ import annotations

import base64
import json
import time as clock
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from stockbridge.connectors.base import CheckResult, CheckState, Connector, Page, Stream
from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.mes_soap_records import (
    material_record,
    movement_record,
    stock_record,
)
from stockbridge.connectors.mes_soap_results import ResultError, ResultPage, read_result
from stockbridge.connectors.mes_soap_settings import (
    MesOperation,
    MesSoapSettings,
)
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy
from stockbridge.connectors.soap import SoapClient
from stockbridge.mapping.errors import UnknownTimeZoneError
from stockbridge.mapping.model import MovementRecord, SourceRecord
from stockbridge.mapping.timezones import load_zone

__all__ = ["MesSoapConnector", "MesSoapSettings"]

_CHECK_RETRY = RetryPolicy(attempts=1)
Arguments = Mapping[str, object]


class MesSoapConnector(Connector):
    """Reads an MES through the SOAP operations its settings describe."""

    kind = "mes_soap"
    settings_model = MesSoapSettings
    streams: ClassVar[frozenset[Stream]] = frozenset(
        {Stream.STOCK, Stream.MOVEMENTS, Stream.MATERIALS}
    )

    settings: MesSoapSettings

    def __init__(
        self,
        name: str,
        settings: MesSoapSettings,
        *,
        timezone: str,
        sleep: Callable[[float], None] = clock.sleep,
    ) -> None:
        super().__init__(name, settings, timezone=timezone)
        self._sleep = sleep
        self.redactor = Redactor()
        password = settings.secret()
        if password is not None:
            self.redactor.add(password)
            basic = f"{settings.username or ''}:{password}".encode()
            self.redactor.add(base64.b64encode(basic).decode())
        self._soap: SoapClient | None = None

    @property
    def soap(self) -> SoapClient:
        """The SOAP client, built on first use (construction does no I/O)."""
        if self._soap is None:
            self._soap = SoapClient(
                self.settings,
                source=self.name,
                redactor=self.redactor,
                sleep=self._sleep,
            )
        return self._soap

    def close(self) -> None:
        if self._soap is not None:
            self._soap.close()
            self._soap = None

    def offered_streams(self) -> frozenset[Stream]:
        """Stock and movements, and materials when its operation is configured."""
        if self.settings.operations.materials is None:
            return self.streams - {Stream.MATERIALS}
        return self.streams

    def _zone(self) -> ZoneInfo:
        try:
            return load_zone(self.timezone)
        except UnknownTimeZoneError as exc:
            raise SourceConfigError(str(exc), source=self.name) from None

    # --- check ------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Ask for transactions entered from now on (none, cheaply), once."""
        operation = self.settings.operations.movements
        now = datetime.now(self._zone()).replace(tzinfo=None, microsecond=0)
        arguments = {**operation.args[0], operation.since_arg: now}
        if operation.paging is not None:
            arguments[operation.paging.index_arg] = operation.paging.first_index
            arguments[operation.paging.size_arg] = 1
        try:
            self._page(operation, arguments, retry=_CHECK_RETRY)
        except AuthError as exc:
            return CheckResult(CheckState.AUTH_FAILED, str(exc))
        except TransientError as exc:
            return CheckResult(CheckState.UNREACHABLE, str(exc))
        except ProtocolError as exc:
            return CheckResult(CheckState.PROTOCOL_ERROR, str(exc))
        except SourceConfigError as exc:
            return CheckResult(CheckState.CONFIG_ERROR, str(exc))
        return CheckResult(CheckState.OK, f"{operation.name} answers")

    # --- calls ------------------------------------------------------------------

    def _page(
        self,
        operation: MesOperation,
        arguments: Arguments,
        *,
        retry: RetryPolicy | None = None,
    ) -> ResultPage:
        response = self.soap.call(operation.name, arguments, retry=retry)
        try:
            return read_result(response, operation)
        except ResultError as exc:
            raise ProtocolError(
                self.redactor.redact(str(exc)), source=self.name
            ) from None

    def _rows(
        self, operation: MesOperation, arguments: Arguments
    ) -> Iterator[dict[str, str]]:
        """Every row of one argument set, page after page."""
        paging = operation.paging
        if paging is None:
            yield from self._page(operation, arguments).rows
            return
        index, seen = paging.first_index, 0
        while True:
            page = self._page(
                operation,
                {**arguments, paging.index_arg: index, paging.size_arg: paging.size},
            )
            yield from page.rows
            seen += len(page.rows)
            if len(page.rows) < paging.size or (
                page.total is not None and seen >= page.total
            ):
                return
            index += 1

    def _pages(self, records: Iterable[SourceRecord]) -> Iterator[Page]:
        batch: list[SourceRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) >= self.settings.page_size:
                yield Page(batch)
                batch = []
        if batch:
            yield Page(batch)

    # --- streams ----------------------------------------------------------------

    def stock(self) -> Iterator[Page]:
        """Every row of every configured stock call."""
        operation = self.settings.operations.stock
        as_of = datetime.now(UTC)
        return self._pages(
            stock_record(row, operation, as_of)
            for arguments in operation.args
            for row in self._rows(operation, arguments)
        )

    def materials(self) -> Iterator[Page]:
        """Material master rows, when a materials operation is configured."""
        operation = self.settings.operations.materials
        if operation is None:
            msg = (
                "no operations.materials is configured for this source: add it, "
                "or turn off its materials schedule"
            )
            raise SourceConfigError(
                msg, source=self.name, stream=Stream.MATERIALS.value
            )
        return self._pages(
            material_record(row, operation)
            for arguments in operation.args
            for row in self._rows(operation, arguments)
        )

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        """Transactions entered since `cursor` minus `lookback`, in entry order."""
        marks = _read_cursor(cursor, source=self.name)
        return self._movement_pages(marks, lookback, self._zone())

    def _movement_pages(
        self, marks: dict[str, datetime], lookback: timedelta, zone: ZoneInfo
    ) -> Iterator[Page]:
        operation = self.settings.operations.movements
        size = self.settings.page_size
        for arguments in operation.args:
            label = _label(arguments)
            since = self._since(marks.get(label), lookback, zone)
            batch: list[SourceRecord] = []
            for row in self._rows(operation, {**arguments, operation.since_arg: since}):
                record = movement_record(row, operation, zone)
                batch.append(record)
                if isinstance(record, MovementRecord) and record.entered_at is not None:
                    mark = marks.get(label)
                    marks[label] = (
                        record.entered_at
                        if mark is None
                        else max(mark, record.entered_at)
                    )
                if len(batch) >= size:
                    yield Page(batch, _cursor_json(marks))
                    batch = []
            if batch:
                yield Page(batch, _cursor_json(marks))

    def _since(
        self, mark: datetime | None, lookback: timedelta, zone: ZoneInfo
    ) -> datetime:
        """The MES-local entry time to read from: the cursor minus `lookback`."""
        if mark is None:
            return self.settings.movements_from
        return (mark - lookback).astimezone(zone).replace(tzinfo=None)


def _label(arguments: Mapping[str, Any]) -> str:
    """A stable name for one argument set, keying its place in the cursor."""
    return json.dumps(dict(arguments), sort_keys=True, ensure_ascii=False)


def _read_cursor(cursor: str | None, *, source: str) -> dict[str, datetime]:
    if cursor is None:
        return {}
    try:
        marks = json.loads(cursor)["entered"]
        parsed = {str(label): _aware(text) for label, text in marks.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        msg = (
            f"the saved movements cursor {cursor!r} is not one this connector "
            f"wrote ({exc}); run a full sync to start over"
        )
        raise SourceConfigError(msg, source=source, stream="movements") from None
    return parsed


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        msg = f"{text!r} has no UTC offset"
        raise ValueError(msg)
    return moment


def _cursor_json(marks: Mapping[str, datetime]) -> str:
    return json.dumps(
        {"entered": {label: mark.isoformat() for label, mark in sorted(marks.items())}},
        ensure_ascii=False,
    )
