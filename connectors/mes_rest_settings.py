"""The keys of a `kind: mes_rest` source: a REST/JSON MES described without code.

Every MES installation differs in its endpoints, envelope, paging, auth and
field names, so all of that is configuration, validated here in full: a
typo is a config error at its key path, never a silently empty stream.
Paths into JSON are dotted (`data.accessToken`, `material.code`); numbers
are never floats (a YAML float is refused where a number is allowed);
credentials are `SecretStr`.

    auth:       {type: token, token_url: /api/auth/token, body: {appKey: .., appSecret: ..},
                 token_path: data.accessToken}      # or bearer / basic / api_key / none
    envelope:   {success_path: code, success_values: [0], message_path: msg, data_path: data}
    pagination: {style: page, page_param: pageNo, size_param: pageSize, items_path: records,
                 total_path: total}                 # or offset / cursor / link / after_id / none
    streams:
      stock:     {path: .., fields: {material: materialCode, ...}, status_map: {OK: unrestricted}}
      movements: {path: .., cursor_param: since, cursor_field: createTime, fields: {...},
                  id_pattern: '^(?P<document>.+)-(?P<line>\\d+)$',
                  direction: {field: direction, in: IN, out: OUT}, kinds: {CONSUME: production_issue}}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from stockbridge.connectors.base import ConnectorSettings
from stockbridge.connectors.mes_rest_streams import (
    FieldPathText,
    MovementStreamSettings,
    PaginationSettings,
    ParamName,
    Scalar,
    SettingsBlock,
    StockStreamSettings,
    StreamsSettings,
    api_location,
    check_keys,
)

__all__ = ["AuthSettings", "EnvelopeSettings", "MesRestSettings"]

# --- auth -----------------------------------------------------------------------

_AUTH_KEYS = {
    "none": frozenset(),
    "bearer": frozenset({"token", "header", "scheme"}),
    "basic": frozenset({"username", "password"}),
    "api_key": frozenset({"key", "header"}),
    "token": frozenset({"token_url", "body", "form", "token_path", "header", "scheme"}),
}
_AUTH_REQUIRED = {
    "none": frozenset(),
    "bearer": frozenset({"token"}),
    "basic": frozenset({"username", "password"}),
    "api_key": frozenset({"key"}),
    "token": frozenset({"token_url", "token_path"}),
}


class AuthSettings(SettingsBlock):
    """How calls prove who we are; each `type` takes its own keys."""

    type: Literal["none", "bearer", "basic", "api_key", "token"] = "none"
    token: SecretStr | None = None
    """bearer: the static token."""
    username: str | None = None
    password: SecretStr | None = None
    key: SecretStr | None = None
    """api_key: the key sent in `header`."""
    header: str | None = Field(default=None, min_length=1)
    """The header carrying the credential: Authorization (bearer, token), X-API-Key (api_key)."""
    scheme: str = "Bearer"
    """bearer/token: the word before the token in the header ('' for the bare token)."""
    token_url: str | None = None
    """token: where to ask for a token (POST)."""
    body: dict[str, SecretStr] = Field(default_factory=dict)
    """token: the fields of the token request (appKey, appSecret, grant_type, ...)."""
    form: bool = False
    """token: send `body` form-encoded (OAuth client credentials) instead of as JSON."""
    token_path: FieldPathText | None = None
    """token: where the token is in the reply, from the top (`data.accessToken`)."""

    @field_validator("token_url")
    @classmethod
    def _token_location(cls, value: str | None) -> str | None:
        return None if value is None else api_location(value)

    @model_validator(mode="after")
    def _keys_of_type(self) -> AuthSettings:
        check_keys(
            self,
            f"auth type {self.type!r}",
            _AUTH_KEYS[self.type],
            _AUTH_REQUIRED[self.type],
        )
        return self

    @property
    def header_name(self) -> str:
        return self.header or (
            "X-API-Key" if self.type == "api_key" else "Authorization"
        )


# --- envelope -------------------------------------------------------------------


class EnvelopeSettings(SettingsBlock):
    """How a reply says success or failure, and where its data is.

    Business errors often come in HTTP 200 (`{"code": 4001, "msg": ...}`), so
    success is decided by `success_path` and `success_values`, never by the
    HTTP status alone. With `success_path: null` every 2xx is a success.
    """

    success_path: FieldPathText | None = "code"
    success_values: tuple[Scalar, ...] = (0,)
    code_path: FieldPathText | None = None
    """The error code shown and matched below; default: `success_path`."""
    message_path: FieldPathText | None = "msg"
    data_path: FieldPathText | None = "data"
    """Where the payload is; null: the whole body."""
    auth_values: tuple[Scalar, ...] = ()
    """Codes meaning 'token invalid or expired': fetch a new token once, then AuthError."""
    retry_values: tuple[Scalar, ...] = ()
    """Codes meaning 'busy, try later' (rate limits): retried like HTTP 429."""

    @model_validator(mode="after")
    def _values_for_path(self) -> EnvelopeSettings:
        if self.success_path is not None and not self.success_values:
            msg = "at least one success value when success_path is set"
            raise ValueError(msg)
        return self

    @property
    def error_code_path(self) -> str | None:
        return self.code_path or self.success_path


class MesRestSettings(ConnectorSettings):
    """The keys of a `kind: mes_rest` source."""

    url: str = Field(min_length=8)
    """The API root, `http(s)://host:port[/prefix]`; stream paths go under it."""
    auth: AuthSettings = Field(default_factory=AuthSettings)
    envelope: EnvelopeSettings = Field(default_factory=EnvelopeSettings)
    pagination: PaginationSettings = Field(default_factory=PaginationSettings)
    headers: dict[ParamName, str] = Field(default_factory=dict)
    """Extra headers on every call (a tenant or factory header)."""
    tls_verify: bool = True
    ca_bundle: str | None = None
    """A CA file for a plant's own certificate authority."""
    streams: StreamsSettings

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            msg = "an http:// or https:// URL"
            raise ValueError(msg)
        return value.rstrip("/")

    def pagination_of(
        self, stream: StockStreamSettings | MovementStreamSettings
    ) -> PaginationSettings:
        return stream.pagination or self.pagination
