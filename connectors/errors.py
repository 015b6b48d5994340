"""Connector errors, grouped by how the runner reacts.

    ConnectorError
    ├── TransientError   retried with backoff (connection, timeout, 5xx, 429)
    ├── AuthError        reported, never retried (bad credentials, expired licence)
    ├── ProtocolError    reported, never retried (the system said no, or sent garbage)
    └── SourceConfigError  reported before anything is pulled (bad source settings)

Messages carry the source name and what the system said, never a secret.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConnectorError",
    "ProtocolError",
    "SourceConfigError",
    "TransientError",
]


class ConnectorError(Exception):
    """Root of every error a connector raises."""

    def __init__(self, message: str, *, source: str = "", stream: str = "") -> None:
        self.source = source
        self.stream = stream
        prefix = f"[{source}{'/' + stream if stream else ''}] " if source else ""
        super().__init__(prefix + message)


class TransientError(ConnectorError):
    """A fault that may pass: retry with backoff.

    `retry_after` is the delay in seconds the system asked for (429
    Retry-After), when it said one.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        stream: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, source=source, stream=stream)
        self.retry_after = retry_after


class AuthError(ConnectorError):
    """The system refused our credentials; retrying would only lock the account."""


class ProtocolError(ConnectorError):
    """The system answered with an error or with something we cannot read."""


class SourceConfigError(ConnectorError):
    """The source's settings are wrong; names the key path and what was expected."""
