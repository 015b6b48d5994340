"""SAP Gateway logon and CSRF protection, as a client meets them.

Logon is HTTP basic auth (or the session cookie from an earlier logon) for
one ABAP client; `sap-client` naming another client fails the logon. A GET
with `X-CSRF-Token: Fetch` opens a session: the reply carries the token and
the `SAP_SESSIONID_<SID>_<client>` cookie, and every modifying request must
send both back, else 403 with `X-CSRF-Token: Required`. Sessions end after
`session_expiry_calls` requests when that fault knob is set.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from stockbridge.simulators.http_server import Faults, Request, Response

__all__ = ["Gateway", "Logon"]


@dataclass
class _Session:
    user: str
    token: str
    calls: int = 0


@dataclass(frozen=True)
class Logon:
    """Who is calling; `session` is the id of a valid session, or ''."""

    user: str
    session: str


class Gateway:
    def __init__(
        self,
        *,
        username: str,
        password: str,
        client: str,
        system_id: str,
        faults: Faults,
    ) -> None:
        self._username = username
        self._password = password
        self.client = client
        self.cookie_name = f"SAP_SESSIONID_{system_id}_{client}"
        self._realm = f"SAP NetWeaver Application Server [{system_id}/{client}]"
        self._faults = faults
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def logon(self, request: Request) -> Logon | Response:
        """The caller's logon, or the 401 reply when there is none."""
        client = request.arg("sap-client", self.client)
        if client != self.client:
            return self._refuse(
                f"Logon failed: client {client} is not available in this system"
            )
        session_id = self._session_cookie(request)
        if session_id:
            with self._lock:
                session = self._sessions.get(session_id)
                if session is not None:
                    session.calls += 1
                    limit = self._faults.session_expiry_calls
                    if limit and session.calls > limit:
                        del self._sessions[session_id]
                    else:
                        return Logon(session.user, session_id)
        user = self._basic_user(request)
        if user is None:
            return self._refuse("Logon failed")
        return Logon(user, "")

    def fetch_token(self, logon: Logon, response: Response) -> None:
        """Answer `X-CSRF-Token: Fetch`: a token bound to a (new) session cookie."""
        with self._lock:
            session = self._sessions.get(logon.session)
            if session is None:
                session_id = secrets.token_urlsafe(24)
                session = self._sessions[session_id] = _Session(
                    logon.user, secrets.token_urlsafe(18)
                )
                response.cookies.append(
                    f"{self.cookie_name}={session_id}; path=/; HttpOnly"
                )
            response.headers["x-csrf-token"] = session.token

    def check_token(self, logon: Logon, request: Request) -> Response | None:
        """None when the modifying request carries its session's token, else SAP's 403."""
        sent = request.header("x-csrf-token")
        with self._lock:
            session = self._sessions.get(logon.session)
            valid = (
                session is not None
                and bool(sent)
                and hmac.compare_digest(sent, session.token)
            )
        if valid:
            return None
        response = Response.text("CSRF token validation failed", 403)
        response.headers["x-csrf-token"] = "Required"
        return response

    def _session_cookie(self, request: Request) -> str:
        cookie = SimpleCookie()
        try:
            cookie.load(request.header("cookie"))
        except CookieError:
            return ""
        morsel = cookie.get(self.cookie_name)
        return morsel.value if morsel else ""

    def _basic_user(self, request: Request) -> str | None:
        scheme, _, encoded = request.header("authorization").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = (
                base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return None
        user_ok = hmac.compare_digest(
            user.upper().encode(), self._username.upper().encode()
        )
        password_ok = hmac.compare_digest(password.encode(), self._password.encode())
        return user.upper() if user_ok and password_ok else None

    def _refuse(self, message: str) -> Response:
        response = Response.text(
            f"<html><body><h1>{message}</h1></body></html>", 401, "text/html"
        )
        response.headers["WWW-Authenticate"] = f'Basic realm="{self._realm}"'
        return response
