"""Talking to the K3 Cloud WebAPI: login modes, the session, and errors in their odd shapes.

Every call is a POST of JSON to
`{url}/Kingdee.BOS.WebApi.ServicesStub.{Service}.{Method}.common.kdsvc`.
How K3 answers (`kingdee-yonyou-mes.md` §1.2, §1.3, §7) decides the shape
of this module:
- Errors come with HTTP 200, as a `ResponseStatus` inside `{"Result": ...}`,
  and ExecuteBillQuery wraps even that in `[[...]]` so it looks like a row.
  Every reply is searched for a failing status before it is used.
- `MsgCode` 1 ("会话信息已丢失") means there is no live session and the
  server could not authenticate us anew. With a login mode we log in again
  once and repeat the call; a second refusal is an `AuthError`. In
  signed-header mode every call carries its credentials, so the first
  refusal already is one.
- A wrong acctID is the one non-200 answer that is not transient: HTTP 500
  "Fail to verify thirty passport". It is recognised by its body and raised
  as an `AuthError`, never retried.
- `MsgCode` 14 (call limit) is transient; 2 (no permission), 7 (licence) and
  15 (admin login forbidden) are refusals of who we are; the rest are
  protocol errors carrying K3's own MsgCode and messages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import requests

from stockbridge.connectors.errors import AuthError, ProtocolError, TransientError
from stockbridge.connectors.http import HttpClient, parse_json
from stockbridge.connectors.k3cloud_sign import login_sign, signed_headers
from stockbridge.connectors.retry import RetryPolicy, call_with_retry

__all__ = [
    "BAD_ACCOUNT",
    "Identity",
    "LoginMode",
    "WebApiClient",
    "WebApiError",
]

BAD_ACCOUNT = "Fail to verify thirty passport"
_STUB = "Kingdee.BOS.WebApi.ServicesStub"
_SESSION_LOST = 1
_CALL_LIMIT = 14
_REFUSALS = frozenset({2, 7, 15})
"""No permission, licence, admin login forbidden: who we are is the problem."""
_LOGIN_OK = 1
"""LoginResultType of a login that worked. Some clients also accept -5, whose
meaning is unverified: it is refused here with K3's own message, which says
more than a session that fails on the next call would."""
_EXCERPT = 300
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)


class LoginMode(StrEnum):
    """How the connector proves who it is (`auth` in the settings)."""

    APP_SECRET = "app_secret"  # noqa: S105 - a mode name: AuthService.LoginByAppSecret
    SIGN = "sign"  # AuthService.LoginBySign (recommended by Kingdee)
    PASSWORD = "password"  # noqa: S105 - a mode name: AuthService.ValidateUser
    SIGNED_HEADERS = "signed_headers"  # SDK 8.x: HMAC headers on every call


@dataclass(frozen=True)
class Identity:
    """Who logs in where; secrets only in here, never in messages."""

    url: str
    acct_id: str
    username: str
    lcid: int
    mode: LoginMode
    app_id: str = ""
    app_secret: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    org: str = ""


class WebApiError(ProtocolError):
    """K3 said no in a ResponseStatus: its MsgCode and messages are kept."""

    def __init__(self, message: str, *, msg_code: int, source: str = "") -> None:
        super().__init__(message, source=source)
        self.msg_code = msg_code


def _accepted(response: requests.Response) -> bool:
    """2xx, or the bad-account 500 that we judge ourselves instead of retrying."""
    return response.status_code < 300 or (
        response.status_code >= 500 and BAD_ACCOUNT in response.text
    )


def _failed_status(reply: Any) -> Mapping[str, Any] | None:
    """The failing ResponseStatus in a reply of any shape, or None."""
    if isinstance(reply, dict):
        return _status_of(reply)
    if isinstance(reply, list):
        for row in reply:
            cells = row if isinstance(row, list) else [row]
            for cell in cells[:1]:
                if isinstance(cell, dict):
                    return _status_of(cell) or {"Errors": [{"Message": str(cell)}]}
    return None


def _status_of(reply: Mapping[str, Any]) -> Mapping[str, Any] | None:
    result = reply.get("Result")
    holder = result if isinstance(result, dict) else reply
    status = holder.get("ResponseStatus")
    if isinstance(status, dict) and status.get("IsSuccess") is not True:
        return status
    return None


def _msg_code(status: Mapping[str, Any]) -> int:
    try:
        return int(str(status.get("MsgCode")))
    except ValueError:
        return 0


def _messages(status: Mapping[str, Any]) -> str:
    errors = status.get("Errors")
    texts = [
        str(e.get("Message"))
        for e in (errors if isinstance(errors, list) else [])
        if isinstance(e, dict) and e.get("Message")
    ]
    return "; ".join(texts) or "no message"


class WebApiClient:
    """One tenant's WebAPI under one identity, with its session.

    `call` returns the parsed reply (JSON numbers as exact Decimals) once no
    failing ResponseStatus is in it. Transient faults (connection, 5xx, 429,
    cut-off bodies, MsgCode 14) are retried by `retry`; the `HttpClient`
    given should not retry itself.
    """

    def __init__(
        self,
        identity: Identity,
        http: HttpClient,
        *,
        retry: RetryPolicy,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.identity = identity
        self.http = http
        self.retry = retry
        self._clock = clock
        self._sleep = sleep
        self._root = identity.url.rstrip("/")
        self._logged_in = False
        self._session_id = ""

    @property
    def source(self) -> str:
        return self.http.source

    # --- public ------------------------------------------------------------------

    def login(self) -> None:
        """Log in now (a no-op in signed-header mode, which has no login step)."""
        if self.identity.mode is LoginMode.SIGNED_HEADERS:
            return
        method, parameters = self._login_request()
        reply, _ = self._post("AuthService", method, {"parameters": parameters})
        if not isinstance(reply, dict):
            msg = f"{method} answered {self._excerpt(reply)} instead of a login result"
            raise ProtocolError(msg, source=self.source)
        outcome = reply.get("LoginResultType")
        if outcome != _LOGIN_OK:
            message = reply.get("Message") or reply.get("MessageCode") or "no message"
            msg = (
                f"{method} refused user {self.identity.username!r} on account "
                f"{self.identity.acct_id!r}: {self._safe(str(message))} "
                f"(LoginResultType {outcome})"
            )
            raise AuthError(msg, source=self.source)
        session_id = str(reply.get("KDSVCSessionId") or "")
        self.http.redactor.add(session_id)
        self._session_id = session_id
        self._logged_in = True

    def call(self, service: str, method: str, body: Mapping[str, object]) -> Any:
        """One service call, logged in first and once more if the session was lost."""
        if not self._logged_in:
            self.login()
        reply, status = self._post(service, method, body)
        if status is not None and _msg_code(status) == _SESSION_LOST:
            if self.identity.mode is LoginMode.SIGNED_HEADERS:
                self._refused(method, status, "the signed headers were not accepted")
            self._forget_session()
            self.login()
            reply, status = self._post(service, method, body)
            if status is not None and _msg_code(status) == _SESSION_LOST:
                self._refused(
                    method, status, "the session was lost again after a login"
                )
        if status is not None:
            self._raise(method, status)
        return reply

    def execute_bill_query(self, data: Mapping[str, object]) -> list[Any]:
        """One ExecuteBillQuery: its rows, positional in FieldKeys order."""
        reply = self.call("DynamicFormService", "ExecuteBillQuery", {"data": data})
        if not isinstance(reply, list):
            msg = f"ExecuteBillQuery answered {self._excerpt(reply)} instead of rows"
            raise ProtocolError(msg, source=self.source)
        return reply

    # --- transport ---------------------------------------------------------------

    def _post(
        self, service: str, method: str, body: Mapping[str, object]
    ) -> tuple[Any, Mapping[str, Any] | None]:
        """The reply and its failing ResponseStatus (None: no failure in it)."""
        url = f"{self._root}/{_STUB}.{service}.{method}.common.kdsvc"
        return call_with_retry(
            lambda: self._post_once(url, method, body),
            self.retry,
            what=f"[{self.source}] {service}.{method}",
            sleep=self._sleep,
        )

    def _post_once(
        self, url: str, method: str, body: Mapping[str, object]
    ) -> tuple[Any, Mapping[str, Any] | None]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.identity.mode is LoginMode.SIGNED_HEADERS:
            headers.update(self._signed_headers(urlsplit(url).path))
        elif self._session_id:
            headers["kdservice-sessionid"] = self._session_id
        response = self.http.request(
            "POST", url, ok=_accepted, json=dict(body), headers=headers
        )
        text = self._body_text(response, method)
        if response.status_code >= 300:
            msg = (
                f"{method} answered {response.status_code} "
                f"{self._safe(BAD_ACCOUNT)!r}: acctID {self.identity.acct_id!r} is "
                "not a data centre of this server"
            )
            raise AuthError(msg, source=self.source)
        if text.startswith("response_error:"):
            msg = f"{method} answered an error: {self._excerpt(text)}"
            raise ProtocolError(msg, source=self.source)
        try:
            reply = parse_json(text)
        except ValueError as exc:
            msg = (
                f"{method} answered a body that is not complete JSON ({exc}): "
                f"{self._excerpt(text)}"
            )
            raise TransientError(msg, source=self.source) from None
        status = _failed_status(reply)
        if status is not None and _msg_code(status) == _CALL_LIMIT:
            msg = f"{method} hit the call limit (MsgCode 14): {_messages(status)}"
            raise TransientError(self._safe(msg), source=self.source)
        return reply, status

    def _body_text(self, response: requests.Response, method: str) -> str:
        """The body decoded as declared, else as UTF-8 (JSON's encoding), whatever
        `requests` would guess; a body that does not decode was cut mid-character."""
        declared = _CHARSET.search(response.headers.get("Content-Type", ""))
        charset = declared.group(1) if declared else "utf-8"
        try:
            return response.content.decode(charset)
        except LookupError:
            msg = f"{method} answered in an unknown charset {charset!r}"
            raise ProtocolError(msg, source=self.source) from None
        except UnicodeDecodeError as exc:
            msg = f"{method} answered a body that does not decode ({exc})"
            raise TransientError(msg, source=self.source) from None

    def _login_request(self) -> tuple[str, list[object]]:
        who = self.identity
        match who.mode:
            case LoginMode.PASSWORD:
                return "ValidateUser", [
                    who.acct_id,
                    who.username,
                    who.password,
                    who.lcid,
                ]
            case LoginMode.APP_SECRET:
                return "LoginByAppSecret", [
                    who.acct_id, who.username, who.app_id, who.app_secret, who.lcid,
                ]  # fmt: skip
            case _:
                stamp = str(int(self._clock()))
                sign = login_sign(
                    who.acct_id, who.username, who.app_id, who.app_secret, stamp
                )
                # The server accepts a sign for a day: it is a secret while it lives.
                self.http.redactor.add(sign)
                return "LoginBySign", [
                    who.acct_id, who.username, who.app_id, stamp, sign, who.lcid,
                ]  # fmt: skip

    def _signed_headers(self, path: str) -> dict[str, str]:
        who = self.identity
        return signed_headers(
            path=path,
            acct_id=who.acct_id,
            username=who.username,
            app_id=who.app_id,
            app_secret=who.app_secret,
            lcid=who.lcid,
            org=who.org or "0",
            timestamp=str(int(self._clock())),
        )

    def _forget_session(self) -> None:
        self.http.session.cookies.clear()
        self._session_id = ""
        self._logged_in = False

    # --- errors ------------------------------------------------------------------

    def _refused(self, method: str, status: Mapping[str, Any], why: str) -> None:
        msg = f"{method}: {why} (MsgCode {_msg_code(status)}: {_messages(status)})"
        raise AuthError(self._safe(msg), source=self.source)

    def _raise(self, method: str, status: Mapping[str, Any]) -> None:
        code = _msg_code(status)
        msg = self._safe(f"{method} failed with MsgCode {code}: {_messages(status)}")
        if code in _REFUSALS:
            raise AuthError(msg, source=self.source)
        raise WebApiError(msg, msg_code=code, source=self.source)

    def _safe(self, text: str) -> str:
        return self.http.redactor.redact(text)

    def _excerpt(self, value: object) -> str:
        text = " ".join(str(value).split())
        if len(text) > _EXCERPT:
            text = text[:_EXCERPT] + "…"
        return self._safe(text)
