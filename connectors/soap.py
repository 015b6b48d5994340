"""The SOAP layer of the SAP ECC and MES connectors: zeep, hardened, with retries.

zeep is imported here and nowhere else. One `SoapClient` per source holds a
requests session (Basic auth, keep-alive), a zeep `Client` built lazily from
the WSDL (a URL or a local file) and the service bound to the configured
binding and endpoint.

Every reply is parsed by zeep with DTDs, entity declarations and external
references forbidden and libxml2's size limits kept (`hardened_settings`).
An entity bomb already fails inside libxml2 (its amplification limit), which
zeep reports as "invalid XML"; both that and zeep's own refusals become one
clear `ProtocolError` (`xml_safety.REFUSED`), never a retry, a hang or a
memory blow-up.

Errors, by how the runner reacts: connection faults, timeouts, 429, 5xx
without a SOAP body and replies cut short are `TransientError` (retried by
`connectors.retry`); 401/403 is `AuthError`; a SOAP fault is a
`ProtocolError` carrying the system's fault text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import zeep
import zeep.exceptions
from lxml import etree  # type: ignore[import-untyped]
from pydantic import Field, SecretStr, field_validator
from requests.auth import HTTPBasicAuth
from zeep.transports import Transport

from stockbridge.connectors.base import ConnectorSettings
from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.http import RateLimiter, retry_after_seconds
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy, call_with_retry
from stockbridge.connectors.xml_safety import REFUSED, declares_dtd

__all__ = [
    "SoapClient",
    "SoapSourceSettings",
    "fault_text",
    "hardened_settings",
]

T = TypeVar("T")

_EXCERPT = 300
_REFUSALS = (
    zeep.exceptions.DTDForbidden,
    zeep.exceptions.EntitiesForbidden,
    zeep.exceptions.ExternalReferenceForbidden,
)


class SoapSourceSettings(ConnectorSettings):
    """Keys every SOAP source has."""

    wsdl: str = Field(min_length=1)
    """The WSDL: an http(s) URL or a local file (then set `endpoint` too)."""
    endpoint: str | None = None
    """The service address, when the WSDL's `soap:address` is not the one to call."""
    binding: str | None = None
    """The binding to call, by local name or `{namespace}name`; default: the
    binding of the WSDL's first port (SOAP 1.1 on SAP and ASMX services)."""
    username: str | None = None
    password: SecretStr | None = None

    @field_validator("endpoint")
    @classmethod
    def _http_endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            msg = "must be an http:// or https:// URL"
            raise ValueError(msg)
        return value

    def secret(self) -> str | None:
        """The password in clear, for the session only."""
        return None if self.password is None else self.password.get_secret_value()


def hardened_settings() -> zeep.Settings:
    """zeep parse settings for replies from systems we do not control.

    `strict` stays on: lxml's recover mode would read a reply cut short as
    a shorter, valid-looking one and rows would vanish silently.
    """
    return zeep.Settings(
        strict=True,
        xml_huge_tree=False,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )


class _Hollowing(zeep.Plugin):
    """Keeps the reply zeep parsed and hands zeep back a hollow one to read.

    zeep has already parsed the envelope with the hardened settings when
    plugins see it. Building zeep objects for thousands of rows would cost
    several times the whole pull, and the rows are read from the XML anyway,
    so zeep deserializes the operation's response element without children.
    A fault is left whole: zeep reads it into its `Fault`.
    """

    def __init__(self) -> None:
        self._response: etree._Element | None = None

    def ingress(
        self,
        envelope: etree._Element,
        http_headers: Any,
        operation: Any,  # noqa: ARG002 - zeep's plugin signature
    ) -> tuple[etree._Element, Any]:
        body = _child(envelope, "Body")
        response = None if body is None else _child(body)
        if body is None or response is None or _local(response) == "Fault":
            return envelope, http_headers
        self._response = response
        hollow = etree.Element(envelope.tag, nsmap=envelope.nsmap)
        hollow_body = etree.SubElement(hollow, body.tag, nsmap=body.nsmap)
        etree.SubElement(hollow_body, response.tag, nsmap=response.nsmap)
        return hollow, http_headers

    def take(self) -> etree._Element | None:
        """The response element of the last reply, once."""
        response, self._response = self._response, None
        return response


class _GuardedTransport(Transport):
    """zeep's transport, turning HTTP outcomes into the connector errors."""

    def __init__(
        self,
        *,
        source: str,
        redactor: Redactor,
        session: requests.Session,
        timeout: tuple[float, float],
        limiter: RateLimiter | None,
    ) -> None:
        super().__init__(  # type: ignore[no-untyped-call]
            session=session, timeout=timeout, operation_timeout=timeout
        )
        self.source = source
        self.redactor = redactor
        self.limiter = limiter

    def load(self, url: str) -> bytes:
        if urlsplit(url).scheme not in ("http", "https"):
            return bytes(super().load(url))  # type: ignore[no-untyped-call]
        response = self._send(
            "GET", url, lambda: self.session.get(url, timeout=self.load_timeout)
        )
        if response.status_code != 200:
            raise self._status_error("GET", url, response)
        return bytes(response.content)

    def post(
        self, address: str, message: bytes, headers: Mapping[str, str]
    ) -> requests.Response:
        response = self._send(
            "POST",
            address,
            lambda: self.session.post(
                address, data=message, headers=headers, timeout=self.operation_timeout
            ),
        )
        status = response.status_code
        soap_body = "xml" in response.headers.get("Content-Type", "").lower()
        if status == 200 or (status in (400, 500) and soap_body):
            return response  # a reply or a SOAP fault: zeep reads both
        raise self._status_error("POST", address, response)

    def _send(
        self, method: str, url: str, send: Callable[[], requests.Response]
    ) -> requests.Response:
        if self.limiter is not None:
            self.limiter.acquire()
        try:
            response = send()
            _ = response.content  # read it all now: a dropped body fails here
        except (requests.ConnectionError, requests.Timeout) as exc:
            msg = f"{method} {self._safe(url)} failed: {self._safe(str(exc))}"
            raise TransientError(msg, source=self.source) from None
        except requests.exceptions.ChunkedEncodingError as exc:
            msg = f"{method} {self._safe(url)}: connection dropped mid-body ({exc})"
            raise TransientError(msg, source=self.source) from None
        return response

    def _status_error(
        self, method: str, url: str, response: requests.Response
    ) -> Exception:
        status = response.status_code
        what = f"{method} {self._safe(url)} answered {status}"
        body = self._safe(" ".join(response.text.split())[:_EXCERPT])
        if status in (401, 403):
            return AuthError(
                f"{what} (credentials refused): {body}", source=self.source
            )
        if status == 429:
            return TransientError(
                f"{what} (too many requests): {body}",
                source=self.source,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 500 or status in (408, 425):
            return TransientError(f"{what}: {body}", source=self.source)
        return ProtocolError(f"{what}: {body}", source=self.source)

    def _safe(self, text: str) -> str:
        return self.redactor.redact(text)


class SoapClient:
    """Calls one SOAP service with timeouts, retries, rate budget and redaction."""

    def __init__(
        self,
        settings: SoapSourceSettings,
        *,
        source: str,
        redactor: Redactor,
        params: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.source = source
        self.redactor = redactor
        self._sleep = sleep
        self._session = requests.Session()
        if settings.username is not None:
            self._session.auth = HTTPBasicAuth(
                settings.username, settings.secret() or ""
            )
        self._session.params = dict(params or {})
        limiter = (
            RateLimiter(settings.rate_per_second, sleep=sleep)
            if settings.rate_per_second
            else None
        )
        self._transport = _GuardedTransport(
            source=source,
            redactor=redactor,
            session=self._session,
            timeout=(settings.connect_timeout, settings.timeout),
            limiter=limiter,
        )
        self._hollowing = _Hollowing()
        self._service: Any = None

    def close(self) -> None:
        self._session.close()
        self._service = None

    def call(
        self,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        retry: RetryPolicy | None = None,
    ) -> etree._Element:
        """Call `operation` with transient faults retried; its response element.

        The element is the Body's first child (`<Operation>Response`), as the
        system sent it; a SOAP fault is a `ProtocolError` with its text.
        """
        service = self._bound(retry)
        if operation not in dict(service):
            msg = (
                f"the service has no operation {operation!r}; the WSDL offers "
                f"{', '.join(sorted(name for name, _ in service))}"
            )
            raise SourceConfigError(msg, source=self.source)

        def attempt() -> etree._Element:
            self._hollowing.take()
            self._zeep(operation, lambda: service[operation](**arguments))
            response = self._hollowing.take()
            if response is None:
                msg = f"{operation}: the reply has no SOAP body"
                raise ProtocolError(msg, source=self.source)
            return response

        return self._retrying(attempt, operation, retry)

    # --- plumbing ----------------------------------------------------------------

    def _bound(self, retry: RetryPolicy | None) -> Any:
        if self._service is None:
            self._service = self._retrying(self._bind, "loading the WSDL", retry)
        return self._service

    def _bind(self) -> Any:
        wsdl = self.settings.wsdl
        if not wsdl.startswith(("http://", "https://")) and not Path(wsdl).is_file():
            msg = f"wsdl {wsdl!r} is neither an http(s) URL nor a readable file"
            raise SourceConfigError(msg, source=self.source)
        client = self._zeep(
            "loading the WSDL",
            lambda: zeep.Client(  # type: ignore[no-untyped-call]
                wsdl,
                transport=self._transport,
                settings=hardened_settings(),
                plugins=[self._hollowing],
            ),
        )
        binding, address = self._binding(client)
        if binding is None:
            return client.service
        endpoint = self.settings.endpoint or address
        return client.create_service(binding, endpoint)  # type: ignore[no-untyped-call]

    def _binding(self, client: Any) -> tuple[str | None, str | None]:
        """The binding to use and its WSDL address; (None, None) for the default."""
        wanted, endpoint = self.settings.binding, self.settings.endpoint
        if wanted is None and endpoint is None:
            return None, None
        ports = [
            port
            for service in client.wsdl.services.values()
            for port in service.ports.values()
        ]
        for port in ports:
            name = port.binding.name
            if wanted is None or wanted in (name.text, name.localname):
                return name.text, port.binding_options.get("address")
        if wanted is None and client.wsdl.bindings:
            return str(next(iter(client.wsdl.bindings))), None
        known = ", ".join(str(name) for name in client.wsdl.bindings)
        msg = f"binding {wanted!r} is not in the WSDL; it has {known or 'no bindings'}"
        raise SourceConfigError(msg, source=self.source)

    def _retrying(self, fn: Callable[[], T], what: str, retry: RetryPolicy | None) -> T:
        return call_with_retry(
            fn,
            retry or self.settings.retry_policy(),
            what=f"[{self.source}] {what}",
            sleep=self._sleep,
        )

    def _zeep(self, what: str, fn: Callable[[], T]) -> T:
        """Run a zeep call, turning what zeep raises into the connector errors."""
        try:
            return fn()
        except zeep.exceptions.Fault as fault:
            msg = f"{what}: SOAP fault: {self._safe(fault_text(fault))}"
            raise ProtocolError(msg, source=self.source) from None
        except _REFUSALS:
            raise ProtocolError(f"{what}: {REFUSED}", source=self.source) from None
        except zeep.exceptions.TransportError as exc:
            if exc.content and declares_dtd(exc.content):
                raise ProtocolError(f"{what}: {REFUSED}", source=self.source) from None
            msg = f"{what}: {self._safe(_first_line(str(exc)))}"
            raise TransientError(msg, source=self.source) from None
        except zeep.exceptions.XMLSyntaxError as exc:
            # A WSDL cut short (or garbage in its place); the reply path reports
            # invalid XML as TransportError above.
            content = getattr(exc, "content", None)
            if content and declares_dtd(content):
                raise ProtocolError(f"{what}: {REFUSED}", source=self.source) from None
            msg = f"{what}: {self._safe(_first_line(str(exc)))}"
            raise TransientError(msg, source=self.source) from None
        except zeep.exceptions.Error as exc:
            msg = f"{what}: {self._safe(_first_line(str(exc)))}"
            raise ProtocolError(msg, source=self.source) from None
        except OSError as exc:
            msg = f"{what}: {self._safe(str(exc))}"
            raise SourceConfigError(msg, source=self.source) from None

    def _safe(self, text: str) -> str:
        return self.redactor.redact(text)


def fault_text(fault: Any) -> str:
    """The fault string plus the first `Text` of its detail (SAP RFC exceptions)."""
    message = str(fault.message or "").strip()
    detail = fault.detail
    if detail is None:
        return message
    texts = [
        (element.text or "").strip()
        for element in detail.iter()
        if isinstance(element.tag, str) and etree.QName(element).localname == "Text"
    ]
    extra = next((text for text in texts if text and text != message), "")
    if not extra and not message:
        extra = " ".join(" ".join(detail.itertext()).split())[:_EXCERPT]
    return f"{message}: {extra}" if message and extra else message or extra


def _local(element: etree._Element) -> str:
    tag: str = element.tag
    return tag.rpartition("}")[2]


def _child(element: etree._Element, name: str | None = None) -> etree._Element | None:
    """The first element child of `element` (named `name`, if given)."""
    for child in element:
        if isinstance(child.tag, str) and (name is None or _local(child) == name):
            return child
    return None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line[:_EXCERPT]
