"""`kind: mes_rest`: stock and material transactions from an MES's REST/JSON API.

Nothing about a particular MES is in this code: endpoints, envelope, paging,
auth and field paths are the source's settings (`mes_rest_settings`), so a
plant describes its MES in YAML. Stock is a snapshot listing, one record
per row. Transactions are read incrementally on an entry-time field: the
pull asks for rows from the saved position minus the look-back (the MES's
naive local time, written in the source's zone), pages through them, and
every page carries the position of its last row. An inclusive `since`
hands the boundary rows back; they are emitted again and sync dedups them
by key, while the server's own paging guarantees the pull ends.

A fan-out (`fan_out: {param: factoryCode, values: [...]}`) reads one
listing per value, for APIs that want the factory on every call.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar, TypeVar
from zoneinfo import ZoneInfo

from stockbridge.connectors.base import (
    CheckResult,
    CheckState,
    Connector,
    ConnectorSettings,
    Page,
    Stream,
)
from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.mes_rest_client import MesClient, auth_secrets
from stockbridge.connectors.mes_rest_cursor import MovementCursor, Position
from stockbridge.connectors.mes_rest_paging import Listing, pages
from stockbridge.connectors.mes_rest_records import MovementReader, StockReader
from stockbridge.connectors.mes_rest_settings import MesRestSettings
from stockbridge.connectors.mes_rest_streams import (
    MovementStreamSettings,
    StockStreamSettings,
)
from stockbridge.connectors.mes_rest_values import format_time
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy
from stockbridge.mapping.errors import UnknownTimeZoneError
from stockbridge.mapping.model import SourceRecord
from stockbridge.mapping.timezones import load_zone

__all__ = ["MesRestConnector", "MesRestSettings"]

_CHECK_RETRY = RetryPolicy(attempts=1)
_StreamT = TypeVar("_StreamT", StockStreamSettings, MovementStreamSettings)


class MesRestConnector(Connector):
    """Reads one MES through the REST API its settings describe."""

    kind = "mes_rest"
    settings_model: ClassVar[type[ConnectorSettings]] = MesRestSettings
    streams: ClassVar[frozenset[Stream]] = frozenset({Stream.STOCK, Stream.MOVEMENTS})
    unit_vocabularies = ("cn",)
    """MES unit codes (PCS, KG, M) and Chinese names (个, 千克) both resolve here."""

    settings: MesRestSettings

    def __init__(self, name: str, settings: MesRestSettings, *, timezone: str) -> None:
        super().__init__(name, settings, timezone=timezone)
        self.redactor = Redactor(auth_secrets(settings.auth))
        self._client: MesClient | None = None

    @property
    def client(self) -> MesClient:
        """The API client, built on first use (construction does no I/O)."""
        if self._client is None:
            self._client = MesClient(
                self.settings, source=self.name, redactor=self.redactor
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def offered_streams(self) -> frozenset[Stream]:
        configured = self.settings.streams
        return self.streams & frozenset(
            stream
            for stream, block in (
                (Stream.STOCK, configured.stock),
                (Stream.MOVEMENTS, configured.movements),
            )
            if block is not None
        )

    # --- check ------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Ask for one row of the first configured stream, once, without retries."""
        streams = self.settings.streams
        stream: StockStreamSettings | MovementStreamSettings = (
            streams.stock
            if streams.stock is not None
            else self._configured(streams.movements, Stream.MOVEMENTS)
        )
        listing = self._listings(stream)[0]
        try:
            walk = pages(self.client, listing, size=1, retry=_CHECK_RETRY)
            try:
                next(walk, None)
            finally:
                walk.close()
        except AuthError as exc:
            return CheckResult(CheckState.AUTH_FAILED, str(exc))
        except TransientError as exc:
            return CheckResult(CheckState.UNREACHABLE, str(exc))
        except ProtocolError as exc:
            return CheckResult(CheckState.PROTOCOL_ERROR, str(exc))
        return CheckResult(CheckState.OK, f"{stream.path} answers")

    # --- stock ------------------------------------------------------------------

    def stock(self) -> Iterator[Page]:
        """Every row of the stock listing(s), in pages of at most `page_size` records."""
        settings = self._configured(self.settings.streams.stock, Stream.STOCK)
        reader = StockReader(settings, self._zone(), datetime.now(UTC))
        batch: list[SourceRecord] = []
        for listing in self._listings(settings):
            for rows in pages(self.client, listing):
                for row in rows:
                    batch.append(reader.read(row))
                    if len(batch) == self.settings.page_size:
                        yield Page(batch)
                        batch = []
        if batch:
            yield Page(batch)

    # --- movements ----------------------------------------------------------------

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        """Transactions from `cursor` minus `lookback` on, each page with its cursor."""
        settings = self._configured(self.settings.streams.movements, Stream.MOVEMENTS)
        zone = self._zone()
        reader = MovementReader(settings, zone)
        state = (
            MovementCursor.from_json(cursor, source=self.name)
            if cursor
            else MovementCursor({})
        )
        sent = state
        batch: list[SourceRecord] = []
        for listing in self._listings(settings):
            previous: Position | None = None
            for rows in pages(
                self.client, self._since(listing, settings, state, lookback, zone)
            ):
                for row in rows:
                    read = reader.read(row)
                    if read.at is not None:
                        if previous is not None and read.at < previous.at:
                            raise self._disorder(
                                settings, listing, previous, read.value
                            )
                        previous = Position(read.at, read.key, read.value)
                        state = state.advanced(listing.label, previous)
                    batch.append(read.record)
                    if len(batch) == self.settings.page_size:
                        yield Page(batch, _cursor_json(settings, state))
                        batch, sent = [], state
        if batch or state != sent:
            yield Page(batch, _cursor_json(settings, state))

    def _since(
        self,
        listing: Listing,
        settings: MovementStreamSettings,
        state: MovementCursor,
        lookback: timedelta,
        zone: ZoneInfo,
    ) -> Listing:
        position = state.positions.get(listing.label)
        if position is None or settings.cursor_param is None:
            return listing
        since = format_time(position.at - lookback, settings.cursor_time_format, zone)
        return listing.with_params(**{settings.cursor_param: since})

    def _disorder(
        self,
        settings: MovementStreamSettings,
        listing: Listing,
        previous: Position,
        value: str,
    ) -> ProtocolError:
        where = f" ({listing.label})" if listing.label else ""
        msg = (
            f"{settings.path}{where} served {settings.cursor_field} {value!r} after "
            f"{previous.value!r}: rows are not in {settings.cursor_field} order, so a "
            "cursor on it could skip rows; set cursor_field to the field the API sorts by"
        )
        return ProtocolError(msg, source=self.name, stream=Stream.MOVEMENTS.value)

    # --- plumbing ---------------------------------------------------------------

    def _configured(self, configured: _StreamT | None, stream: Stream) -> _StreamT:
        if configured is None:
            msg = (
                f"no streams.{stream.value} is configured for this source: add it, or "
                f"turn off its {stream.value} schedule"
            )
            raise SourceConfigError(msg, source=self.name, stream=stream.value)
        return configured

    def _listings(
        self, stream: StockStreamSettings | MovementStreamSettings
    ) -> list[Listing]:
        pagination = self.settings.pagination_of(stream)
        base = Listing("", stream.method, stream.path, pagination, dict(stream.params))
        fan_out = stream.fan_out
        if fan_out is None:
            return [base]
        return [
            Listing(
                f"{fan_out.param}={value}",
                stream.method,
                stream.path,
                pagination,
                {**stream.params, fan_out.param: value},
            )
            for value in fan_out.values
        ]

    def _zone(self) -> ZoneInfo:
        try:
            return load_zone(self.timezone)
        except UnknownTimeZoneError as exc:
            raise SourceConfigError(str(exc), source=self.name) from None


def _cursor_json(settings: MovementStreamSettings, state: MovementCursor) -> str | None:
    return state.to_json() if settings.cursor_field is not None else None
