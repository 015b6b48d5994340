"""Keeping secrets out of every message a connector produces.

A connector registers the secret values it holds (passwords, app secrets,
tokens, ODBC `PWD=`); every error text and log line passes through
`Redactor.redact`, which also masks the usual secret-bearing URL and
connection-string parts even when their values were never registered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MASK", "Redactor"]

MASK = "********"

_SECRET_PARAMS = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|app_secret|appsecret|token|access_token|"
    r"api_key|apikey|sign|signature|sessionid|kdservice-sessionid)=([^&;\s'\"]+)"
)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/@\s:]+):([^/@\s]+)@")
_AUTH_HEADER = re.compile(
    r"(?i)\b(authorization|x-api-signature|x-kd-signature)(['\"]?\s*[:=]\s*['\"]?)([^'\",}\n]+)"
)


class Redactor:
    """Masks registered secrets and secret-shaped substrings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Register a secret value; short values are ignored (they would mask noise)."""
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """`text` with every secret masked."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        text = _URL_USERINFO.sub(rf"\1\2:{MASK}@", text)
        text = _SECRET_PARAMS.sub(rf"\1={MASK}", text)
        return _AUTH_HEADER.sub(rf"\1\2{MASK}", text)
