"""Database errors to the connector error hierarchy, by what a retry could change.

Drivers disagree on how they say things: psycopg and psqlODBC report a
refused login during connect without its SQLSTATE (psqlODBC as 08001, a
connection failure), SQLite has no SQLSTATEs at all and raises
OperationalError both for a locked file and for a missing table. So the
driver's own words decide first where they are unambiguous (a login refused
is never retried: retries lock accounts), then the SQLSTATE class, then
words that mean the connection or the server, and everything else is a
protocol error: the database said no to the query.
"""

from __future__ import annotations

import re

from stockbridge.connectors.errors import (
    AuthError,
    ConnectorError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.redaction import Redactor

__all__ = ["database_error"]

_AUTH_WORDS = re.compile(
    r"(?i)password authentication failed|authentication failed|login failed|"
    r"access denied|role \"[^\"]*\" does not exist|no pg_hba\.conf entry|"
    r"invalid (?:username|password|authorization)|not authorized"
)
_CONFIG_WORDS = re.compile(
    r"(?i)can't open lib|data source name not found|no default driver|"
    r"driver.*not (?:found|installed)"
)
_TRANSIENT_WORDS = re.compile(
    r"(?i)connection refused|could not connect|connect failed|timed? ?out|"
    r"server closed|connection reset|connection (?:is )?closed|broken pipe|"
    r"database is locked|unable to open database|terminating connection|"
    r"network|no route to host|the database system is (?:starting|shutting)|"
    r"too many connections|deadlock|could not serialize"
)
_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58", "HYT")
_EXCERPT = 600


def database_error(
    error: BaseException,
    *,
    sqlstate: str | None,
    what: str,
    source: str,
    stream: str,
    redactor: Redactor,
) -> ConnectorError:
    """The connector error for a driver `error` met while doing `what`.

    `sqlstate` is the five-character state when the driver gave one.
    """
    words = " ".join(str(error).split())[:_EXCERPT]
    message = redactor.redact(f"{what}: {words}")
    kind: type[ConnectorError]
    state = (sqlstate or "").upper()
    if _AUTH_WORDS.search(words) or state.startswith("28"):
        kind = AuthError
    elif _CONFIG_WORDS.search(words) or state.startswith("IM"):
        kind = SourceConfigError
    elif state.startswith(_TRANSIENT_CLASSES) or _TRANSIENT_WORDS.search(words):
        kind = TransientError
    else:
        kind = ProtocolError
    return kind(message, source=source, stream=stream)
