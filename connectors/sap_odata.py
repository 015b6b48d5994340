"""`kind: sap_odata`: stock, goods movements and units from SAP S/4HANA over OData v2.

Stock is `API_MATERIAL_STOCK_SRV/A_MatlStkInAcctMod`, one record per row
of its 11-field key: nothing is aggregated here, the stock type maps to the
canonical status and special stock (consignment, sales-order stock, ...)
stays its own dimension instead of joining own stock. Movements are the
items of `API_MATERIAL_DOCUMENT_SRV` headers, read incrementally on the
header's entry date and time (see `sap_odata_movements`). Units are the
alternative units of `API_PRODUCT_SRV`. No materials stream: `A_Product`
is not read (its texts need another expand, and the simulator does not
serve it); base units arrive with every stock and movement row.

Assumption: CreationDate/CreationTime and PostingDate are written in the
SAP system's time zone (the ABAP system zone, not the user's); `timezone`
must name it. PostingDate has no time: a posting is dated at midnight of
its posting day in that zone.
"""

from __future__ import annotations

import base64
import time as clock
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator

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
from stockbridge.connectors.http import HttpClient
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy
from stockbridge.connectors.sap_odata_client import GatewayClient
from stockbridge.connectors.sap_odata_movements import (
    HEADER_FIELDS,
    ITEM_FIELDS,
    REQUIRED_ITEM_FIELDS,
    ItemReader,
    MovementCursor,
    ParsedHeader,
    parse_header,
)
from stockbridge.connectors.sap_odata_rows import (
    STOCK_FIELDS,
    STOCK_KEY,
    UNIT_FIELDS,
    stock_record,
    unit_record,
)
from stockbridge.connectors.sap_odata_wire import (
    datetime_literal,
    string_literal,
    text_field,
    time_literal,
)
from stockbridge.mapping.errors import UnknownTimeZoneError
from stockbridge.mapping.model import SourceRecord
from stockbridge.mapping.timezones import load_zone, to_utc

__all__ = ["SapODataConnector", "SapODataSettings"]

STOCK_SERVICE = "API_MATERIAL_STOCK_SRV"
DOCUMENT_SERVICE = "API_MATERIAL_DOCUMENT_SRV"
PRODUCT_SERVICE = "API_PRODUCT_SRV"

_DOCUMENT_ORDER = "CreationDate,CreationTime,MaterialDocumentYear,MaterialDocument"
_ITEMS = "to_MaterialDocumentItem"
_CHECK_RETRY = RetryPolicy(attempts=1)


class SapODataSettings(ConnectorSettings):
    """The keys of a `kind: sap_odata` source."""

    url: str = Field(min_length=8)
    """The OData root, `https://host:port/sap/opu/odata/sap`."""
    client: str | None = Field(default=None, pattern=r"^\d{3}$")
    """The ABAP client (`sap-client`); None: the system's default client."""
    language: str = Field(default="EN", pattern=r"^[A-Za-z]{1,2}$")
    """Logon language (`sap-language`): it decides the unit codes SAP answers in."""
    username: str = Field(min_length=1)
    password: SecretStr
    plants: tuple[str, ...] = ()
    """Plants to read; empty: every plant the user may see."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            msg = "must be an http:// or https:// URL ending in /sap/opu/odata/sap"
            raise ValueError(msg)
        return value.rstrip("/")


class SapODataConnector(Connector):
    """Reads one S/4HANA system through its released OData v2 APIs."""

    kind = "sap_odata"
    settings_model = SapODataSettings
    streams: ClassVar[frozenset[Stream]] = frozenset(
        {Stream.STOCK, Stream.MOVEMENTS, Stream.UNITS}
    )
    unit_vocabularies = ("sap",)

    settings: SapODataSettings

    def __init__(
        self,
        name: str,
        settings: SapODataSettings,
        *,
        timezone: str,
        sleep: Callable[[float], None] = clock.sleep,
    ) -> None:
        super().__init__(name, settings, timezone=timezone)
        self._sleep = sleep
        password = settings.password.get_secret_value()
        basic = f"{settings.username}:{password}".encode()
        self.redactor = Redactor([password, base64.b64encode(basic).decode()])
        self._gateway: GatewayClient | None = None
        self._item_fields: tuple[str, ...] | None = None

    # --- plumbing ---------------------------------------------------------------

    @property
    def gateway(self) -> GatewayClient:
        """The Gateway client, built on first use (construction does no I/O)."""
        if self._gateway is None:
            s = self.settings
            http = HttpClient(
                source=self.name,
                redactor=self.redactor,
                timeout=(s.connect_timeout, s.timeout),
                retry=RetryPolicy(attempts=1),  # GatewayClient retries whole reads
                rate_per_second=s.rate_per_second,
                sleep=self._sleep,
            )
            http.session.auth = (s.username, s.password.get_secret_value())
            params = {"sap-language": s.language.upper()}
            if s.client:
                params["sap-client"] = s.client
            self._gateway = GatewayClient(
                http,
                root=s.url,
                system_params=params,
                retry=s.retry_policy(),
                sleep=self._sleep,
            )
        return self._gateway

    def close(self) -> None:
        if self._gateway is not None:
            self._gateway.http.close()
            self._gateway = None

    def _zone(self) -> ZoneInfo:
        try:
            return load_zone(self.timezone)
        except UnknownTimeZoneError as exc:
            raise SourceConfigError(str(exc), source=self.name) from None

    def _pages(self, records: Iterator[SourceRecord | None]) -> Iterator[Page]:
        batch: list[SourceRecord] = []
        for record in records:
            if record is None:
                continue
            batch.append(record)
            if len(batch) >= self.settings.page_size:
                yield Page(batch)
                batch = []
        if batch:
            yield Page(batch)

    # --- check ------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Read the stock service's `$metadata` with our logon, once, without retries."""
        try:
            types = self.gateway.metadata(STOCK_SERVICE, retry=_CHECK_RETRY)
        except AuthError as exc:
            return CheckResult(CheckState.AUTH_FAILED, str(exc))
        except TransientError as exc:
            return CheckResult(CheckState.UNREACHABLE, str(exc))
        except ProtocolError as exc:
            return CheckResult(CheckState.PROTOCOL_ERROR, str(exc))
        if "A_MatlStkInAcctModType" not in types:
            detail = f"{STOCK_SERVICE}/$metadata declares no A_MatlStkInAcctModType"
            return CheckResult(CheckState.PROTOCOL_ERROR, detail)
        client = f", client {self.settings.client}" if self.settings.client else ""
        return CheckResult(
            CheckState.OK, f"{STOCK_SERVICE} answers {self.settings.username}{client}"
        )

    # --- stock ------------------------------------------------------------------

    def stock(self) -> Iterator[Page]:
        """Every stock row of the configured plants, as SAP keys it."""
        as_of = datetime.now(UTC)
        options = {"$select": ",".join(STOCK_FIELDS), "$orderby": ",".join(STOCK_KEY)}
        if self.settings.plants:
            options["$filter"] = " or ".join(
                f"Plant eq {string_literal(p)}" for p in self.settings.plants
            )
        pages = self.gateway.collection(
            f"{STOCK_SERVICE}/A_MatlStkInAcctMod", options, top=self.settings.page_size
        )
        return self._pages(stock_record(r, as_of) for rows in pages for r in rows)

    # --- units ------------------------------------------------------------------

    def units(self) -> Iterator[Page]:
        """Material-specific alternative units and their factors to the base unit."""
        options = {
            "$select": ",".join(UNIT_FIELDS),
            "$orderby": "Product,AlternativeUnit",
        }
        pages = self.gateway.collection(
            f"{PRODUCT_SERVICE}/A_ProductUnitsOfMeasure",
            options,
            top=self.settings.page_size,
        )
        return self._pages(unit_record(r) for rows in pages for r in rows)

    # --- movements ----------------------------------------------------------------

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        """Items of documents entered since `cursor` minus `lookback`, in entry order.

        Lazy like every stream: nothing is read before the first page is asked for.
        """
        start = MovementCursor.from_json(cursor, source=self.name) if cursor else None
        zone = self._zone()
        fields = self._document_item_fields()
        reader = ItemReader(
            has_indicator="DebitCreditCode" in fields,
            plants=frozenset(self.settings.plants),
            original_item=self._original_item,
        )
        select = [*HEADER_FIELDS, *(f"{_ITEMS}/{f}" for f in fields)]
        options = {
            "$select": ",".join(select),
            "$expand": _ITEMS,
            "$orderby": _DOCUMENT_ORDER,
        }
        if start is not None:
            options["$filter"] = _entered_since(start, lookback, zone)
        pages = self.gateway.collection(
            f"{DOCUMENT_SERVICE}/A_MaterialDocumentHeader",
            options,
            top=self.settings.page_size,
        )
        yield from self._movement_pages(pages, reader, zone, start)

    def _movement_pages(
        self,
        pages: Iterator[list[dict[str, Any]]],
        reader: ItemReader,
        zone: ZoneInfo,
        start: MovementCursor | None,
    ) -> Iterator[Page]:
        """Pages of at most page_size records, each with the cursor of the last
        document whose items are all in it or before it."""
        size = self.settings.page_size
        committed, sent = start, start
        batch: list[SourceRecord] = []
        for rows in pages:
            for header in rows:
                parsed = parse_header(header, zone)
                for item in self._items(header):
                    record = reader.record(parsed, item)
                    if record is None:
                        continue
                    if len(batch) == size:
                        yield Page(batch, _cursor_json(committed))
                        batch, sent = [], committed
                    batch.append(record)
                committed = _later(committed, parsed)
        if batch or committed != sent:
            yield Page(batch, _cursor_json(committed))

    def _items(self, header: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        expanded = header.get(_ITEMS)
        if isinstance(expanded, dict) and "results" in expanded:
            if expanded.get("__next"):
                msg = (
                    f"the server paged the items of document "
                    f"{text_field(header, 'MaterialDocument')} inside $expand; lower page_size"
                )
                raise ProtocolError(msg, source=self.name, stream="movements")
            expanded = expanded["results"]
        if not isinstance(expanded, list):
            msg = (
                f"the server did not expand {_ITEMS} of document "
                f"{text_field(header, 'MaterialDocument')}: {str(expanded)[:200]}"
            )
            raise ProtocolError(msg, source=self.name, stream="movements")
        if not all(isinstance(i, dict) for i in expanded):
            msg = (
                f"the items of document {text_field(header, 'MaterialDocument')} "
                "are not all entities"
            )
            raise ProtocolError(msg, source=self.name, stream="movements")
        return expanded

    def _document_item_fields(self) -> tuple[str, ...]:
        """The item fields this system's service version has, from `$metadata` (once)."""
        if self._item_fields is None:
            types = self.gateway.metadata(DOCUMENT_SERVICE)
            declared = types.get("A_MaterialDocumentItemType", frozenset())
            missing = [f for f in REQUIRED_ITEM_FIELDS if f not in declared]
            if missing:
                msg = (
                    f"{DOCUMENT_SERVICE} items lack {', '.join(missing)}: "
                    "not a material document service this connector can read"
                )
                raise ProtocolError(msg, source=self.name, stream="movements")
            self._item_fields = tuple(f for f in ITEM_FIELDS if f in declared)
        return self._item_fields

    def _original_item(
        self, year: str, document: str, item: str
    ) -> Mapping[str, Any] | None:
        """The item a reversal cancels, read by key; None when SAP cannot say."""
        key = (
            f"MaterialDocumentYear={string_literal(year)},"
            f"MaterialDocument={string_literal(document)},"
            f"MaterialDocumentItem={string_literal(item)}"
        )
        url = self.gateway.url(
            f"{DOCUMENT_SERVICE}/A_MaterialDocumentItem({key})",
            {"$select": ",".join(self._document_item_fields())},
        )
        try:
            body = self.gateway.get_json(url)
        except ProtocolError:
            return None
        entity = body.get("d") if isinstance(body, dict) else None
        return entity if isinstance(entity, dict) else None


def _entered_since(start: MovementCursor, lookback: timedelta, zone: ZoneInfo) -> str:
    """`$filter` for documents entered at or after `start` minus `lookback`."""
    since = to_utc(start.local_moment(), zone) - lookback
    local = since.astimezone(zone).replace(tzinfo=None)
    day = datetime_literal(datetime.combine(local.date(), time(0)))
    return (
        f"CreationDate gt {day} or "
        f"(CreationDate eq {day} and CreationTime ge {time_literal(local.time())})"
    )


def _later(
    committed: MovementCursor | None, header: ParsedHeader
) -> MovementCursor | None:
    if header.cursor is None:
        return committed
    if committed is None or header.cursor > committed:
        return header.cursor
    return committed


def _cursor_json(cursor: MovementCursor | None) -> str | None:
    return None if cursor is None else cursor.to_json()
