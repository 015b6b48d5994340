"""`kind: sap_soap`: stock and goods movements from SAP ECC through SOAP web services.

ECC offers no released stock API: sites expose RFC-enabled function modules
as web services in SOAMANAGER (sap.md §6). This connector calls two such
functions, whose names are configurable (`operations`) and whose interface
is the one the simulator implements:

- stock (`ZMM_STOCK_READ`): IV_WERKS, IV_MATNR, IV_MAX_ROWS, IV_CONTINUE in;
  ET_MARD (per storage location) and ET_MCHB (per batch) rows and the
  continuation key EV_CONTINUE out (empty on the last page);
- movements (`ZMM_GOODSMVT_READ`): IV_WERKS, IV_CPUDT_FROM, IV_CPUTM_FROM,
  IV_MAX_ROWS, IV_CONTINUE in; ET_GOODSMVT (MKPF/MSEG lines entered at or
  after CPUDT/CPUTM, in entry order) and EV_CONTINUE out.

Movements are read incrementally on their entry stamp CPUDT + CPUTM, which
only grows; the posting date BUDAT can be back-dated and is not a cursor.
The cursor keeps the entry stamp of the last line committed, per plant, in
the system's zone (`timezone`: the ABAP system zone), and a pull re-reads
`lookback` before it. Every line of a material document moved stock (ECC
has no unposted documents); a reversal is its own line naming the cancelled
one (SMBLN/SMBLP/SJAHR) and is emitted as kind `reversal`.

Units are SAP's internal codes (ST, KG, KAR: the `sap` vocabulary). Material
numbers are emitted in SAP's external form, without the zero padding of
purely numeric MATNRs (see `sap_soap_rows`), so they meet the same material
from S/4HANA OData or an MES without a mapping rule.
"""

from __future__ import annotations

import base64
import json
import time as clock
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr

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
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy
from stockbridge.connectors.sap_soap_rows import (
    Row,
    entry_stamp,
    movement_record,
    stock_records,
    table_rows,
)
from stockbridge.connectors.soap import SoapClient, SoapSourceSettings
from stockbridge.mapping.errors import UnknownTimeZoneError
from stockbridge.mapping.model import SourceRecord
from stockbridge.mapping.timezones import load_zone, to_utc

__all__ = ["SapSoapConnector", "SapSoapOperations", "SapSoapSettings"]

MAX_ROWS = 10_000
"""What one call may ask for (the function modules cap IV_MAX_ROWS here)."""
_CHECK_RETRY = RetryPolicy(attempts=1)


class SapSoapOperations(BaseModel):
    """The function modules' names as the site published them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stock: str = Field(default="ZMM_STOCK_READ", min_length=1)
    movements: str = Field(default="ZMM_GOODSMVT_READ", min_length=1)


class SapSoapSettings(SoapSourceSettings):
    """The keys of a `kind: sap_soap` source."""

    username: str = Field(min_length=1)
    password: SecretStr
    client: str | None = Field(default=None, pattern=r"^\d{3}$")
    """The ABAP client (`sap-client`); None: the service's default client."""
    plants: tuple[str, ...] = Field(min_length=1)
    """Plants (WERKS) to read: the functions read one plant per call."""
    operations: SapSoapOperations = SapSoapOperations()
    movements_from: date = date(2000, 1, 1)
    """Entry date a first movements pull starts from."""


class SapSoapConnector(Connector):
    """Reads one SAP ECC system through its SOAP-published stock functions."""

    kind = "sap_soap"
    settings_model = SapSoapSettings
    streams: ClassVar[frozenset[Stream]] = frozenset({Stream.STOCK, Stream.MOVEMENTS})
    unit_vocabularies = ("sap",)

    settings: SapSoapSettings

    def __init__(
        self,
        name: str,
        settings: SapSoapSettings,
        *,
        timezone: str,
        sleep: Callable[[float], None] = clock.sleep,
    ) -> None:
        super().__init__(name, settings, timezone=timezone)
        self._sleep = sleep
        password = settings.password.get_secret_value()
        basic = f"{settings.username}:{password}".encode()
        self.redactor = Redactor([password, base64.b64encode(basic).decode()])
        self._soap: SoapClient | None = None

    @property
    def soap(self) -> SoapClient:
        """The SOAP client, built on first use (construction does no I/O)."""
        if self._soap is None:
            params = (
                {"sap-client": self.settings.client} if self.settings.client else {}
            )
            self._soap = SoapClient(
                self.settings,
                source=self.name,
                redactor=self.redactor,
                params=params,
                sleep=self._sleep,
            )
        return self._soap

    def close(self) -> None:
        if self._soap is not None:
            self._soap.close()
            self._soap = None

    def _zone(self) -> ZoneInfo:
        try:
            return load_zone(self.timezone)
        except UnknownTimeZoneError as exc:
            raise SourceConfigError(str(exc), source=self.name) from None

    def _max_rows(self) -> int:
        return min(self.settings.page_size, MAX_ROWS)

    # --- check ------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Read one stock row of the first plant, once, without retries."""
        plant = self.settings.plants[0]
        try:
            self.soap.call(
                self.settings.operations.stock,
                {"IV_WERKS": plant, "IV_MAX_ROWS": 1},
                retry=_CHECK_RETRY,
            )
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
            f"{self.settings.operations.stock} answers {self.settings.username} "
            f"for plant {plant}",
        )

    # --- stock ------------------------------------------------------------------

    def stock(self) -> Iterator[Page]:
        """MARD totals of non-batch stock and MCHB rows of batch stock, per plant."""
        as_of = datetime.now(UTC)
        return self._pages(
            record
            for plant in self.settings.plants
            for mard, mchb in self._stock_pages(plant)
            for record in stock_records(mard, mchb, as_of)
        )

    def _stock_pages(self, plant: str) -> Iterator[tuple[list[Row], list[Row]]]:
        operation = self.settings.operations.stock
        for response in self._continued(
            operation, {"IV_WERKS": plant, "IV_MAX_ROWS": self._max_rows()}
        ):
            yield table_rows(response, "ET_MARD"), table_rows(response, "ET_MCHB")

    def _pages(self, records: Iterable[SourceRecord]) -> Iterator[Page]:
        batch: list[SourceRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) >= self.settings.page_size:
                yield Page(batch)
                batch = []
        if batch:
            yield Page(batch)

    # --- movements ----------------------------------------------------------------

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        """Lines entered since `cursor` minus `lookback`, plant by plant, in entry order."""
        stamps = _read_cursor(cursor, source=self.name)
        zone = self._zone()
        return self._movement_pages(stamps, lookback, zone)

    def _movement_pages(
        self, stamps: dict[str, str], lookback: timedelta, zone: ZoneInfo
    ) -> Iterator[Page]:
        size = self.settings.page_size
        for plant in self.settings.plants:
            since = self._since(stamps.get(plant), lookback, zone)
            batch: list[SourceRecord] = []
            for row in self._movement_rows(plant, since):
                record = movement_record(row, zone)
                if record is not None:
                    batch.append(record)
                # an unreadable stamp leaves the cursor; the line's record says why
                with suppress(ValueError):
                    stamp = entry_stamp(row).isoformat()
                    stamps[plant] = max(stamps.get(plant, ""), stamp)
                if len(batch) >= size:
                    yield Page(batch, _cursor_json(stamps))
                    batch = []
            if batch:
                yield Page(batch, _cursor_json(stamps))

    def _since(
        self, stamp: str | None, lookback: timedelta, zone: ZoneInfo
    ) -> datetime:
        """The local entry moment to read from: the cursor minus `lookback`."""
        if stamp is None:
            return datetime.combine(self.settings.movements_from, datetime.min.time())
        since = to_utc(datetime.fromisoformat(stamp), zone) - lookback
        return since.astimezone(zone).replace(tzinfo=None)

    def _movement_rows(self, plant: str, since: datetime) -> Iterator[Row]:
        arguments = {
            "IV_WERKS": plant,
            "IV_CPUDT_FROM": since.date().isoformat(),
            "IV_CPUTM_FROM": since.time().replace(microsecond=0),
            "IV_MAX_ROWS": self._max_rows(),
        }
        for response in self._continued(self.settings.operations.movements, arguments):
            yield from table_rows(response, "ET_GOODSMVT")

    def _continued(self, operation: str, arguments: dict[str, Any]) -> Iterator[Any]:
        """Each response of a paged call, following EV_CONTINUE to its end."""
        key = ""
        while True:
            response = self.soap.call(
                operation, {**arguments, "IV_CONTINUE": key or None}
            )
            yield response
            following = (response.findtext("EV_CONTINUE") or "").strip()
            if not following:
                return
            if following == key:
                msg = f"{operation} returned the same EV_CONTINUE twice ({following!r})"
                raise ProtocolError(msg, source=self.name)
            key = following


def _read_cursor(cursor: str | None, *, source: str) -> dict[str, str]:
    if cursor is None:
        return {}
    try:
        data = json.loads(cursor)
        stamps = data["entered"]
        for stamp in stamps.values():
            datetime.fromisoformat(stamp)
        return {str(plant): str(stamp) for plant, stamp in stamps.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        msg = (
            f"the saved movements cursor {cursor!r} is not one this connector "
            f"wrote ({exc}); run a full sync to start over"
        )
        raise SourceConfigError(msg, source=source, stream="movements") from None


def _cursor_json(stamps: dict[str, str]) -> str:
    return json.dumps({"entered": dict(sorted(stamps.items()))})
