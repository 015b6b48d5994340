"""Talking to SAP Gateway: logon, JSON, paging and errors, over our `HttpClient`.

Every call carries basic auth, `sap-client`, `sap-language` and asks for
JSON (Gateway's default is Atom). Collections are read in `$top` windows
with a stable `$orderby`; inside a window the server's `__next` links are
followed (Gateway caps pages), a link seen twice or pointing at another host
is a protocol error rather than an endless loop or a credential leak. An SAP
error body or a `sap-message` header of severity error becomes a
`ProtocolError` carrying SAP's own code and text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

from stockbridge.connectors.errors import ProtocolError, TransientError
from stockbridge.connectors.http import HttpClient
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy, call_with_retry
from stockbridge.connectors.sap_odata_wire import (
    CutOffError,
    WireError,
    collection_rows,
    parse_metadata,
    query_string,
    sap_error_text,
    sap_message_error,
)

__all__ = ["GatewayClient"]

_EXCERPT = 300
_NOT_OURS = frozenset({401, 403, 408, 425, 429})
"""Statuses `HttpClient` classifies itself (auth, throttling, timeouts)."""


def _handled_here(response: requests.Response) -> bool:
    status = response.status_code
    return status < 300 or (400 <= status < 500 and status not in _NOT_OURS)


class GatewayClient:
    """Reads one SAP system's OData services under `root` (`.../sap/opu/odata/sap`)."""

    def __init__(
        self,
        http: HttpClient,
        *,
        root: str,
        system_params: Mapping[str, str],
        retry: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = http
        self._sleep = sleep
        self.root = root.rstrip("/")
        self.system_params = dict(system_params)
        self.retry = retry
        split = urlsplit(self.root)
        self._origin = (split.scheme, split.netloc.lower())

    @property
    def source(self) -> str:
        return self.http.source

    @property
    def redactor(self) -> Redactor:
        return self.http.redactor

    def url(self, path: str, options: Mapping[str, str] | None = None) -> str:
        """The URL of `path` under the root with the system and query options."""
        params = {**self.system_params, **(options or {})}
        return f"{self.root}/{path}?{query_string(params)}"

    # --- single calls ---------------------------------------------------------

    def get_json(self, url: str) -> Any:
        """A GET whose reply must be JSON; a cut-off body is retried."""

        def attempt() -> Any:
            return self._json_body(self._get_once(url, "application/json"), url)

        return call_with_retry(
            attempt,
            self.retry,
            what=f"[{self.source}] GET {self._safe(url)}",
            sleep=self._sleep,
        )

    def metadata(
        self, service: str, *, retry: RetryPolicy | None = None
    ) -> dict[str, frozenset[str]]:
        """Entity type -> property names of `service`; a cut-off body is retried."""
        url = self.url(f"{service}/$metadata")

        def attempt() -> dict[str, frozenset[str]]:
            response = self._get_once(url, "application/xml")
            content_type = response.headers.get("Content-Type", "")
            try:
                return parse_metadata(response.content)
            except CutOffError as exc:
                if "xml" not in content_type.lower():
                    msg = (
                        f"GET {self._safe(url)} answered {content_type or 'no content type'}, "
                        f"not $metadata: {self._excerpt(response.text)}"
                    )
                    raise ProtocolError(msg, source=self.source) from None
                msg = f"GET {self._safe(url)}: {exc}"
                raise TransientError(msg, source=self.source) from None
            except WireError as exc:
                msg = f"GET {self._safe(url)}: {exc}"
                raise ProtocolError(msg, source=self.source) from None

        return call_with_retry(
            attempt,
            retry or self.retry,
            what=f"[{self.source}] GET {self._safe(url)}",
            sleep=self._sleep,
        )

    def _get_once(self, url: str, accept: str) -> requests.Response:
        response = self.http.request(
            "GET", url, ok=_handled_here, headers={"Accept": accept}
        )
        status = response.status_code
        if status < 300:
            message = sap_message_error(response.headers.get("sap-message"))
            if message is not None:
                msg = (
                    f"GET {self._safe(url)} answered {status} with an SAP error "
                    f"message: {self._safe(message)}"
                )
                raise ProtocolError(msg, source=self.source)
            return response
        detail = sap_error_text(response.content) or self._excerpt(response.text)
        msg = f"GET {self._safe(url)} answered {status}: {self._safe(detail)}"
        raise ProtocolError(msg, source=self.source)

    def _json_body(self, response: requests.Response, url: str) -> Any:
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            content_type = response.headers.get("Content-Type", "")
            what = (
                f"GET {self._safe(url)} answered {response.status_code} "
                f"({content_type or 'no content type'})"
            )
            if "json" not in content_type.lower():
                msg = f"{what}, not JSON: {self._excerpt(response.text)}"
                raise ProtocolError(msg, source=self.source) from None
            msg = f"{what} with a body that is not complete JSON ({exc})"
            raise TransientError(msg, source=self.source) from None

    # --- collections ------------------------------------------------------------

    def collection(
        self, path: str, options: Mapping[str, str], *, top: int
    ) -> Iterator[list[dict[str, Any]]]:
        """The pages of rows of an entity-set read, in the order of `options`.

        `options` must hold a `$orderby` that is unique per row, so that
        `$skip` windows neither overlap nor skip. The read ends on a window
        that delivers nothing, not on a short one: a service that silently
        caps its pages (no `__next`) would otherwise lose the rest.
        """
        seen: set[str] = set()
        skip = 0
        previous_first: dict[str, Any] | None = None
        while True:
            window = {**options, "$top": str(top)}
            if skip:
                window["$skip"] = str(skip)
            link: str | None = self.url(path, window)
            delivered = 0
            first: dict[str, Any] | None = None
            while link is not None:
                if link in seen:
                    msg = (
                        f"the server's __next link repeats a page already read "
                        f"({self._safe(link)}): stopping instead of looping"
                    )
                    raise ProtocolError(msg, source=self.source)
                seen.add(link)
                body = self.get_json(link)
                try:
                    rows, next_link = collection_rows(body)
                except WireError as exc:
                    msg = f"GET {self._safe(link)}: {exc}"
                    raise ProtocolError(msg, source=self.source) from None
                if rows:
                    first = first or rows[0]
                    delivered += len(rows)
                    yield rows
                link = None if next_link is None else self._follow(link, next_link)
            if delivered == 0:
                return
            if first == previous_first:
                msg = (
                    f"{path} answered $skip={skip} with the rows it gave before: "
                    "the service ignores $skip, stopping instead of looping"
                )
                raise ProtocolError(msg, source=self.source)
            previous_first = first
            skip += delivered

    def _follow(self, current: str, link: str) -> str:
        """An absolute `__next` URL on our own origin, with our system options."""
        target = urljoin(current, link)
        split = urlsplit(target)
        if (split.scheme, split.netloc.lower()) != self._origin:
            msg = (
                f"the server's __next link leaves {self.root} "
                f"({self._safe(target)}): not following it with our credentials"
            )
            raise ProtocolError(msg, source=self.source)
        present = {k for k, _ in parse_qsl(split.query, keep_blank_values=True)}
        missing = {k: v for k, v in self.system_params.items() if k not in present}
        if missing:
            target += ("&" if split.query else "?") + query_string(missing)
        return target

    # --- messages ---------------------------------------------------------------

    def _safe(self, text: str) -> str:
        return self.redactor.redact(text)

    def _excerpt(self, text: str) -> str:
        text = " ".join(text.split())
        if len(text) > _EXCERPT:
            text = text[:_EXCERPT] + "…"
        return self._safe(text)
