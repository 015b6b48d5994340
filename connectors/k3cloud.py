"""`kind: k3cloud`: stock and goods movements from Kingdee K3 Cloud (金蝶云星空) over its WebAPI.

Stock is STK_Inventory (即时库存), one record per row: FBaseQty on hand in
the base unit, FBaseLockQty reserved (FBaseAVBQty, the available part, stays
in `raw`), K3's system stock statuses mapped to the canonical ones. Movements
are the audited, not voided entries of the bill forms that move stock
(`k3cloud_forms`), read incrementally on the audit time (`k3cloud_movements`).
No master-data streams: quantities are read in the base unit already.

Login (`auth`): `sign` (LoginBySign, the default with app_id + app_secret),
`app_secret` (LoginByAppSecret), `password` (ValidateUser, on-premises; the
default when only a password is given) or `signed_headers` (the SDK 8.x HMAC
headers on every call, no login). The session cookie is kept and a lost
session is logged in again once per call (`k3cloud_client`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Self
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator

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
from stockbridge.connectors.k3cloud_client import Identity, LoginMode, WebApiClient
from stockbridge.connectors.k3cloud_forms import INVENTORY_FORM, INVENTORY_KEYS
from stockbridge.connectors.k3cloud_movements import MovementCursor, MovementReader
from stockbridge.connectors.k3cloud_query import BillQuery, OrderKey, read_pages
from stockbridge.connectors.k3cloud_rows import stock_record
from stockbridge.connectors.k3cloud_sign import client_secret
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy
from stockbridge.mapping.errors import UnknownTimeZoneError
from stockbridge.mapping.model import SourceRecord
from stockbridge.mapping.timezones import load_zone

__all__ = ["K3CloudConnector", "K3CloudSettings"]

_CHECK_RETRY = RetryPolicy(attempts=1)
_SECRET_MODES = (LoginMode.SIGN, LoginMode.APP_SECRET, LoginMode.SIGNED_HEADERS)


class K3CloudSettings(ConnectorSettings):
    """The keys of a `kind: k3cloud` source."""

    url: str = Field(min_length=8)
    """The server root, e.g. `https://erp.example.com/k3cloud`."""
    acct_id: str = Field(min_length=1)
    """The data centre (账套) id."""
    username: str = Field(min_length=1)
    auth: LoginMode | None = None
    """How to log in; None: `sign` with app_secret, `password` with password."""
    app_id: str | None = None
    app_secret: SecretStr | None = None
    password: SecretStr | None = None
    lcid: int = 2052
    """Language of the session (2052 Simplified Chinese)."""
    org: str | None = Field(default=None, min_length=1)
    """Stock organisation number to read; None: every organisation the user may see."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            msg = "must be the http(s):// URL of the K3 Cloud server, e.g. https://host/k3cloud"
            raise ValueError(msg)
        return value.rstrip("/")

    @property
    def login_mode(self) -> LoginMode:
        """`auth`, or the mode the given credentials imply."""
        if self.auth is not None:
            return self.auth
        if self.app_secret is not None and self.password is None:
            return LoginMode.SIGN
        return LoginMode.PASSWORD

    @model_validator(mode="after")
    def _credentials_for_mode(self) -> Self:
        mode = self.login_mode
        if (
            self.auth is None
            and self.app_secret is not None
            and self.password is not None
        ):
            msg = "both app_secret and password are set: choose one with auth"
            raise ValueError(msg)
        if mode is LoginMode.PASSWORD and self.password is None:
            msg = "password is required (auth: password); or give app_id and app_secret"
            raise ValueError(msg)
        if mode in _SECRET_MODES:
            for key in ("app_id", "app_secret"):
                if getattr(self, key) is None:
                    msg = f"{key} is required for auth: {mode.value}"
                    raise ValueError(msg)
        if mode is LoginMode.SIGNED_HEADERS:
            try:
                client_secret(self.app_id or "")
            except ValueError as exc:
                raise ValueError(str(exc)) from None
        return self


class K3CloudConnector(Connector):
    """Reads one K3 Cloud data centre through the WebAPI."""

    kind = "k3cloud"
    settings_model = K3CloudSettings
    streams: ClassVar[frozenset[Stream]] = frozenset({Stream.STOCK, Stream.MOVEMENTS})
    unit_vocabularies = ("cn",)

    settings: K3CloudSettings

    def __init__(self, name: str, settings: K3CloudSettings, *, timezone: str) -> None:
        super().__init__(name, settings, timezone=timezone)
        secrets = (settings.app_secret, settings.password)
        self.redactor = Redactor(s.get_secret_value() for s in secrets if s is not None)
        self._client: WebApiClient | None = None
        self._reader: MovementReader | None = None

    # --- plumbing ---------------------------------------------------------------

    @property
    def client(self) -> WebApiClient:
        """The WebAPI client, built on first use (construction does no I/O)."""
        if self._client is None:
            s = self.settings
            http = HttpClient(
                source=self.name,
                redactor=self.redactor,
                timeout=(s.connect_timeout, s.timeout),
                retry=RetryPolicy(attempts=1),  # WebApiClient retries whole calls
                rate_per_second=s.rate_per_second,
            )
            identity = Identity(
                url=s.url,
                acct_id=s.acct_id,
                username=s.username,
                lcid=s.lcid,
                mode=s.login_mode,
                app_id=s.app_id or "",
                app_secret=s.app_secret.get_secret_value() if s.app_secret else "",
                password=s.password.get_secret_value() if s.password else "",
                org=s.org or "",
            )
            self._client = WebApiClient(identity, http, retry=s.retry_policy())
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.http.close()
            self._client = None
            self._reader = None

    def _zone(self) -> ZoneInfo:
        try:
            return load_zone(self.timezone)
        except UnknownTimeZoneError as exc:
            raise SourceConfigError(str(exc), source=self.name) from None

    # --- check ------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Log in (not in signed-header mode), read one STK_Inventory row; no retries."""
        client = self.client
        saved, client.retry = client.retry, _CHECK_RETRY
        try:
            client.login()
            client.execute_bill_query(
                {"FormId": INVENTORY_FORM, "FieldKeys": "FID", "Limit": 1}
            )
        except AuthError as exc:
            return CheckResult(CheckState.AUTH_FAILED, str(exc))
        except TransientError as exc:
            return CheckResult(CheckState.UNREACHABLE, str(exc))
        except ProtocolError as exc:
            return CheckResult(CheckState.PROTOCOL_ERROR, str(exc))
        finally:
            client.retry = saved
        s = self.settings
        return CheckResult(
            CheckState.OK,
            f"{INVENTORY_FORM} answers {s.username} on account {s.acct_id} "
            f"({s.login_mode.value})",
        )

    # --- stock ------------------------------------------------------------------

    def stock(self) -> Iterator[Page]:
        """Every STK_Inventory row (zero rows included, as K3 keeps them)."""
        as_of = datetime.now(UTC)
        query = BillQuery(
            INVENTORY_FORM,
            INVENTORY_KEYS,
            self._org_filter(),
            (OrderKey("FID", "text"),),
        )
        rows = (
            row
            for page in read_pages(self.client, query, limit=self.settings.page_size)
            for row in page
        )
        return self._pages(stock_record(row, as_of) for row in rows)

    def _org_filter(self) -> str:
        org = self.settings.org
        return (
            ""
            if org is None
            else "FStockOrgId.FNumber = '" + org.replace("'", "''") + "'"
        )

    def _pages(self, records: Iterator[SourceRecord]) -> Iterator[Page]:
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
        """Audited bill entries since `cursor` (less `lookback`), form by form."""
        start = MovementCursor.from_json(cursor, source=self.name)
        if self._reader is None:
            self._reader = MovementReader(
                self.client,
                zone=self._zone(),
                limit=self.settings.page_size,
                org=self.settings.org,
            )
        return self._reader.pages(
            start, lookback=lookback, page_size=self.settings.page_size
        )
