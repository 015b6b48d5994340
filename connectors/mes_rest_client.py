"""Calling an MES REST API: credentials, envelopes and errors, over our `HttpClient`.

A call is judged twice. First by HTTP: connection faults, 5xx and 429 are
transient (`HttpClient`), 401/403 mean the credential was refused. Then by
the envelope: many MES answer HTTP 200 with `{"code": 4001, "msg": ...}`,
so success is the configured code, and anything else is a `ProtocolError`
carrying the system's own code and words (an `AuthError` for the codes
configured as auth failures, a retried `TransientError` for 'busy' codes).

With `auth.type: token` the token is fetched on first use and fetched again,
once per call, when the system says it expired (HTTP 401 or an auth code);
a refusal right after a fresh token is an `AuthError`, never a loop. The
token endpoint refusing our app key or secret is an `AuthError` too, and is
never retried: retries would only lock the account.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from stockbridge.connectors.errors import AuthError, ProtocolError, TransientError
from stockbridge.connectors.http import HttpClient
from stockbridge.connectors.mes_rest_settings import (
    AuthSettings,
    EnvelopeSettings,
    MesRestSettings,
)
from stockbridge.connectors.mes_rest_streams import Scalar
from stockbridge.connectors.mes_rest_values import MISSING, FieldPath
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy, call_with_retry

__all__ = ["MesClient", "Reply", "auth_secrets"]

_EXCERPT = 300
_NOT_OURS = frozenset({408, 425, 429})
"""Statuses `HttpClient` turns into retried transient errors itself."""


def _ours(response: requests.Response) -> bool:
    return response.status_code < 500 and response.status_code not in _NOT_OURS


def _code_text(value: object) -> str:
    """A code compared as text: 0, "0" and Decimal 0 agree; true is 'true'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _codes(values: tuple[Scalar, ...]) -> frozenset[str]:
    return frozenset(_code_text(v) for v in values)


def auth_secrets(auth: AuthSettings) -> list[str]:
    """Every secret value these auth settings hold, for the redactor."""
    secrets = [s.get_secret_value() for s in (auth.token, auth.password, auth.key) if s]
    secrets += [value.get_secret_value() for value in auth.body.values()]
    if auth.username and auth.password:
        basic = f"{auth.username}:{auth.password.get_secret_value()}".encode()
        secrets.append(base64.b64encode(basic).decode())
    return secrets


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful call: the envelope's data, and where the server says to go next."""

    data: object
    url: str
    next_link: str | None
    """The `Link: <...>; rel="next"` header, made absolute."""


class _Envelope:
    """The envelope settings compiled: paths and code sets."""

    def __init__(self, settings: EnvelopeSettings) -> None:
        self.success = (
            FieldPath(settings.success_path) if settings.success_path else None
        )
        self.success_codes = _codes(settings.success_values)
        code_path = settings.error_code_path
        self.code = FieldPath(code_path) if code_path else None
        self.message = (
            FieldPath(settings.message_path) if settings.message_path else None
        )
        self.data = FieldPath(settings.data_path) if settings.data_path else None
        self.auth_codes = _codes(settings.auth_values)
        self.retry_codes = _codes(settings.retry_values)

    def succeeded(self, body: object) -> bool:
        if self.success is None:
            return True
        value = self.success.get(body)
        return value is not MISSING and _code_text(value) in self.success_codes

    def code_of(self, body: object) -> str | None:
        value = MISSING if self.code is None else self.code.get(body)
        return None if value is MISSING or value is None else _code_text(value)

    def describe(self, body: object) -> str:
        """'code 4001: 参数错误 ...', in the system's own words."""
        code = self.code_of(body)
        message = MISSING if self.message is None else self.message.get(body)
        words = "" if message is MISSING or message is None else str(message)
        if code is None:
            return words or _excerpt(json.dumps(body, default=str, ensure_ascii=False))
        return f"code {code}: {words}" if words else f"code {code}"

    def payload(self, body: object) -> object:
        return body if self.data is None else self.data.get(body)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


class _TokenExpiredError(Exception):
    """The system refused our token; the caller may fetch a new one once."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class MesClient:
    """Calls one MES's REST API with its auth, envelope, retries and rate budget."""

    def __init__(
        self,
        settings: MesRestSettings,
        *,
        source: str,
        redactor: Redactor,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.source = source
        self.redactor = redactor
        self.retry = settings.retry_policy()
        self._sleep = sleep
        # One attempt down there: whole calls, token and body included, are retried here.
        self.http = HttpClient(
            source=source,
            redactor=redactor,
            timeout=(settings.connect_timeout, settings.timeout),
            retry=RetryPolicy(attempts=1),
            rate_per_second=settings.rate_per_second,
            sleep=sleep,
        )
        session = self.http.session
        session.verify = settings.ca_bundle or settings.tls_verify
        session.headers.update(settings.headers)
        auth = settings.auth
        if auth.type == "basic" and auth.username and auth.password:
            session.auth = (auth.username, auth.password.get_secret_value())
        self._auth = auth
        self._envelope = _Envelope(settings.envelope)
        self._token_path = FieldPath(auth.token_path) if auth.token_path else None
        self._token: str | None = None
        split = urlsplit(settings.url)
        self.origin = (split.scheme, split.netloc.lower())

    def close(self) -> None:
        self.http.close()

    def url(self, target: str) -> str:
        """`target` (a path under the source's url, or an absolute URL) as a URL."""
        return (
            target
            if target.startswith(("http://", "https://"))
            else self.settings.url + target
        )

    def same_origin(self, url: str) -> bool:
        split = urlsplit(url)
        return (split.scheme, split.netloc.lower()) == self.origin

    # --- calls ------------------------------------------------------------------

    def call(
        self,
        method: str,
        target: str,
        params: Mapping[str, object],
        *,
        retry: RetryPolicy | None = None,
    ) -> Reply:
        """One API call, retried on transient faults; returns the envelope's data."""
        url = self.url(target)
        return call_with_retry(
            lambda: self._call_once(method, url, params),
            retry or self.retry,
            what=f"[{self.source}] {method} {self._safe(url)}",
            sleep=self._sleep,
        )

    def _call_once(self, method: str, url: str, params: Mapping[str, object]) -> Reply:
        fresh = False
        if self._auth.type == "token" and self._token is None:
            self._fetch_token()
            fresh = True
        try:
            return self._send(method, url, params)
        except _TokenExpiredError as expired:
            if self._auth.type != "token" or fresh:
                raise self._refused(expired.detail) from None
        self._token = None
        self._fetch_token()
        try:
            return self._send(method, url, params)
        except _TokenExpiredError as expired:
            raise self._refused(expired.detail) from None

    def _send(self, method: str, url: str, params: Mapping[str, object]) -> Reply:
        kwargs: dict[str, Any] = (
            {"params": dict(params)} if method == "GET" else {"json": dict(params)}
        )
        response = self.http.request(
            method, url, ok=_ours, headers=self._auth_headers(), **kwargs
        )
        status = response.status_code
        what = f"{method} {self._safe(url)} answered {status}"
        if status in (401, 403):
            raise _TokenExpiredError(f"{what}: {self._error_words(response)}")
        if status >= 300:
            body = self._try_body(response)
            code = None if body is MISSING else self._envelope.code_of(body)
            words = self._error_words(response)
            if code is not None and code in self._envelope.retry_codes:
                raise TransientError(f"{what}: {words}", source=self.source)
            raise ProtocolError(f"{what}: {words}", source=self.source)
        body = self._body(response, method, url)
        envelope = self._envelope
        if not envelope.succeeded(body):
            code = envelope.code_of(body)
            detail = f"{what} with {self._safe(envelope.describe(body))}"
            if code is not None and code in envelope.auth_codes:
                raise _TokenExpiredError(detail)
            if code is not None and code in envelope.retry_codes:
                raise TransientError(detail, source=self.source)
            raise ProtocolError(detail, source=self.source)
        data = envelope.payload(body)
        if data is MISSING:
            msg = (
                f"{what} without {self.settings.envelope.data_path!r} in its body: "
                f"{self._safe(_excerpt(_decoded(response)))}"
            )
            raise ProtocolError(msg, source=self.source)
        link = response.links.get("next", {}).get("url")
        return Reply(data, response.url, urljoin(response.url, link) if link else None)

    # --- auth -------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        auth = self._auth
        if auth.type == "api_key" and auth.key:
            return {auth.header_name: auth.key.get_secret_value()}
        token = self._token if auth.type == "token" else None
        if auth.type == "bearer" and auth.token:
            token = auth.token.get_secret_value()
        if token is None:
            return {}
        return {auth.header_name: f"{auth.scheme} {token}".strip()}

    def _fetch_token(self) -> None:
        auth = self._auth
        url = self.url(auth.token_url or "")
        fields = {name: value.get_secret_value() for name, value in auth.body.items()}
        kwargs: dict[str, Any] = {"data": fields} if auth.form else {"json": fields}
        response = self.http.request("POST", url, ok=_ours, **kwargs)
        status = response.status_code
        what = f"the token request POST {self._safe(url)} answered {status}"
        if status in (401, 403):
            raise AuthError(
                f"{what}: {self._error_words(response)}", source=self.source
            )
        if status >= 300:
            msg = f"{what}: {self._error_words(response)}"
            raise ProtocolError(msg, source=self.source)
        body = self._body(response, "POST", url)
        envelope = self._envelope
        if not envelope.succeeded(body):
            code = envelope.code_of(body)
            detail = f"{what} with {self._safe(envelope.describe(body))}"
            if code is not None and code in envelope.retry_codes:
                raise TransientError(detail, source=self.source)
            raise AuthError(detail, source=self.source)
        token = MISSING if self._token_path is None else self._token_path.get(body)
        if not isinstance(token, str) or not token:
            msg = f"{what} with no token at {auth.token_path!r}"
            raise ProtocolError(msg, source=self.source)
        self.redactor.add(token)
        self._token = token

    def _refused(self, detail: str) -> AuthError:
        again = " (with a token fetched just now)" if self._auth.type == "token" else ""
        return AuthError(f"credentials refused{again}: {detail}", source=self.source)

    # --- bodies -----------------------------------------------------------------

    def _body(self, response: requests.Response, method: str, url: str) -> object:
        """The JSON body, numbers exact; a cut-off body is transient, HTML is not."""
        try:
            return _parse(response)
        except ValueError as exc:
            content_type = response.headers.get("Content-Type", "")
            what = (
                f"{method} {self._safe(url)} answered {response.status_code} "
                f"({content_type or 'no content type'})"
            )
            if "json" not in content_type.lower():
                msg = f"{what}, not JSON: {self._safe(_excerpt(_decoded(response)))}"
                raise ProtocolError(msg, source=self.source) from None
            msg = f"{what} with a body that is not complete JSON ({exc})"
            raise TransientError(msg, source=self.source) from None

    def _try_body(self, response: requests.Response) -> object:
        try:
            return _parse(response)
        except ValueError:
            return MISSING

    def _error_words(self, response: requests.Response) -> str:
        body = self._try_body(response)
        if body is MISSING:
            return self._safe(_excerpt(_decoded(response))) or "(no body)"
        return self._safe(self._envelope.describe(body))

    def _safe(self, text: str) -> str:
        return self.redactor.redact(text)


def _parse(response: requests.Response) -> object:
    return json.loads(_decoded(response), parse_float=Decimal)


def _decoded(response: requests.Response) -> str:
    """The body as text: its declared charset, else UTF-8, else GB18030.

    Without a charset `requests` reads text/* as Latin-1, which turns the
    Chinese words of an error page into mojibake; Chinese systems that
    declare nothing write UTF-8 or GBK (GB18030 reads GBK).
    """
    if "charset=" in response.headers.get("Content-Type", "").lower():
        return response.text
    try:
        return response.content.decode("utf-8")
    except UnicodeDecodeError:
        return response.content.decode("gb18030", "replace")
