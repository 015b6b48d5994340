"""K3 Cloud authentication, as the server checks it: login signs, signed headers, sessions.

The algorithms follow the official SDKs (Python 8.2.0 `BuildHeader`, Java
`ApiRequester.buildHeader`) and the PHP port's LoginBySign, as recorded in the
reference (`kingdee-yonyou-mes.md` §1.2). Two details trip clients and are kept
exact here: the HMAC digests are base64 of the *hex string*, and the gateway key
(clientSec) is the appId suffix base64-decoded, XOR-ed with a fixed ASCII key and
base64-encoded again.

Sessions behave as one real deployment was observed to: a live session skips the
credential check; without one, signed headers are verified and a new session is
issued silently. `session_expiry_calls` (a fault knob) ends a session after that
many calls, so clients must cope with losing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import quote

__all__ = [
    "GATEWAY_XOR_KEY",
    "Credentials",
    "HeaderCheck",
    "SessionTable",
    "check_signed_headers",
    "client_secret",
    "kd_hmac",
    "login_sign",
]

GATEWAY_XOR_KEY = b"0054f397c6234378b09ca7d3e5debce7"
"""The SDKs' XOR key for the appId suffix (the Python SDK spells it ROT13-ed)."""

KNOWN_LCIDS = frozenset({2052, 1033, 3076})
"""Simplified Chinese, English, Traditional Chinese: the languages a stock tenant has."""


@dataclass(frozen=True)
class Credentials:
    """The one integration identity this simulated tenant accepts."""

    acct_id: str
    username: str
    password: str
    app_id: str
    app_secret: str
    lcid: int = 2052

    def lcid_ok(self, lcid: object) -> bool:
        try:
            value = int(str(lcid))
        except ValueError:
            return False
        return value == self.lcid or value in KNOWN_LCIDS


def kd_hmac(key: str, message: str) -> str:
    """HMAC-SHA256 rendered as the SDKs do: base64 of the lowercase hex digest."""
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


def client_secret(app_id: str) -> str:
    """The gateway HMAC key derived from the 32-character appId suffix, '' if none."""
    parts = app_id.split("_")
    if len(parts) != 2 or len(parts[1]) != 32:
        return ""
    try:
        raw = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        return ""
    mixed = bytes(b ^ GATEWAY_XOR_KEY[i] for i, b in enumerate(raw))
    return base64.b64encode(mixed).decode("ascii")


def login_sign(
    acct_id: str, username: str, app_id: str, app_secret: str, timestamp: str
) -> str:
    """LoginBySign's `sign`: SHA-256 hex of the ordinal-sorted concatenation."""
    parts = sorted([acct_id, username, app_id, app_secret, timestamp])
    return hashlib.sha256("".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class HeaderCheck:
    """The verdict on a request's signed headers."""

    present: bool
    """The request carries the SDK's signed headers at all."""
    acct_ok: bool = False
    """The acctID in X-Kd-Appdata names this data centre."""
    valid: bool = False


def _b64_text(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def check_signed_headers(
    headers: dict[str, str], path: str, creds: Credentials
) -> HeaderCheck:
    """Verify the SDK 8.x signed headers of one request (names are lower-cased).

    The timestamp window and nonce reuse are deliberately not checked: the
    observed server accepted ±24 h and repeated nonces.
    """
    app_key = headers.get("x-kd-appkey", "")
    if not app_key:
        return HeaderCheck(present=False)
    app_data = _b64_text(headers.get("x-kd-appdata", "")) or ""
    fields = app_data.split(",")
    if len(fields) < 3 or fields[0] != creds.acct_id:
        return HeaderCheck(present=True)
    user_ok = (
        app_key == creds.app_id
        and fields[1] == creds.username
        and creds.lcid_ok(fields[2])
    )
    kd_ok = hmac.compare_digest(
        headers.get("x-kd-signature", ""), kd_hmac(creds.app_secret, app_key + app_data)
    )
    timestamp = headers.get("x-api-timestamp", "")
    nonce = headers.get("x-api-nonce", "")
    message = (
        f"POST\n{quote(path, safe='')}\n\n"
        f"x-api-nonce:{nonce}\nx-api-timestamp:{timestamp}\n"
    )
    sec = client_secret(app_key)
    api_ok = bool(sec) and hmac.compare_digest(
        headers.get("x-api-signature", ""), kd_hmac(sec, message)
    )
    client_ok = headers.get("x-api-clientid", "") == app_key.split("_")[0]
    return HeaderCheck(
        present=True, acct_ok=True, valid=user_ok and kd_ok and api_ok and client_ok
    )


_ASP_ALPHABET = "abcdefghijklmnopqrstuvwxyz012345"


@dataclass
class _Session:
    username: str
    calls: int = 0


class SessionTable:
    """Live sessions by id; each login issues two ids (the two cookies) for one session."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def open(self, username: str) -> tuple[str, str]:
        """A new session; returns (kdservice-sessionid, ASP.NET_SessionId)."""
        session = _Session(username)
        # Shaped like the real ones: a GUID, and a 24-character ASP.NET session id.
        kd_id = str(uuid.uuid4())
        asp_id = "".join(secrets.choice(_ASP_ALPHABET) for _ in range(24))
        with self._lock:
            self._sessions[kd_id] = session
            self._sessions[asp_id] = session
        return kd_id, asp_id

    def use(self, session_ids: list[str], expiry_calls: int) -> bool:
        """Count one call on the first live session named; False if none is live.

        A session that has served `expiry_calls` calls (0: no limit) is dropped
        here, so the call that finds it spent fails like a lost session.
        """
        with self._lock:
            for sid in session_ids:
                session = self._sessions.get(sid)
                if session is None:
                    continue
                if expiry_calls and session.calls >= expiry_calls:
                    self._drop(session)
                    return False
                session.calls += 1
                return True
        return False

    def _drop(self, session: _Session) -> None:
        for sid in [k for k, v in self._sessions.items() if v is session]:
            del self._sessions[sid]
