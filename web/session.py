"""The page's login cookie and its CSRF token, signed with HMAC-SHA256.

The cookie holds only the token's id and an expiry, signed; every request
still looks the token up, so revoking a token ends its sessions at once.
CSRF is a double submit: a random value in a readable cookie that each
state-changing form (or the `X-CSRF-Token` header) must repeat; a foreign
site can make the browser send the cookie but cannot read it to repeat it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_LIFETIME",
    "SessionSigner",
    "csrf_matches",
    "new_csrf_token",
]

SESSION_COOKIE = "sb_session"
CSRF_COOKIE = "sb_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_LIFETIME = timedelta(hours=12)


class SessionSigner:
    """Signs and checks `token_id.expiry` with a key only the server knows."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).hexdigest()

    def sign(self, token_id: int, *, now: datetime) -> str:
        payload = f"{token_id}.{int((now + SESSION_LIFETIME).timestamp())}"
        return f"{payload}.{self._mac(payload)}"

    def token_id(self, cookie: str, *, now: datetime) -> int | None:
        """The token id of a valid, unexpired cookie; None otherwise."""
        parts = cookie.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts[:2]):
            return None
        payload = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._mac(payload), parts[2]):
            return None
        if int(parts[1]) < now.timestamp():
            return None
        return int(parts[0])


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_matches(cookie: str | None, submitted: str | None) -> bool:
    return (
        bool(cookie)
        and bool(submitted)
        and hmac.compare_digest(str(cookie), str(submitted))
    )
