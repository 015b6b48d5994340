"""The pyodbc layer of the database connectors (U8, K3 WISE); pyodbc is imported only here.

What it gives a connector:

- One connection per source, opened on first use (never in a constructor),
  with a login timeout, autocommit (no transaction held open on the ERP) and
  the read-only access mode; `Dialect.session_statements` add a statement
  timeout and a read-only session where the driver needs SQL for that.
- Text decoding set by config, because drivers differ (measured):
  the SQLite ODBC driver (`SQLite3`) returns `varchar` as `SQL_CHAR` bytes in
  UTF-8; psqlODBC (`PostgreSQL Unicode`) returns `SQL_WCHAR` in UTF-16LE; SQL
  Server returns `nvarchar` as UTF-16LE and `varchar` under a Chinese_PRC
  collation as code page 936 bytes, which only `gb18030` decodes fully. So
  `char_encoding` defaults to 'utf-8' (use 'gb18030' against U8/K3 WISE on
  SQL Server through Microsoft's driver; 'utf-8' with FreeTDS
  `ClientCharset=UTF-8`) and `wchar_encoding` to 'utf-16le' (any other value
  makes pyodbc ask for `SQL_C_CHAR`, which psqlODBC serves, SQLite ignores).
- Reads only, values always bound as `?` parameters. `rows` runs one small
  query; `pages` walks a table by keyset: each page is its own query cut to
  `page_size` rows (`Dialect.limit`), ordered by a unique key and resumed
  after the last key seen. So no server cursor stays open while sync commits
  a page (on SQL Server a slow open cursor holds locks against U8's own
  writers), a transient fault retries just the page that failed, and memory
  depends on `page_size` only.
- Errors in our hierarchy by SQLSTATE: 28xxx (login refused) -> `AuthError`;
  08xxx (connection), HYT00/HYT01 (timeout), 40001/40P01 (deadlock), 57xxx
  (PostgreSQL: statement timeout, server shutting down) -> `TransientError`;
  42xxx (syntax, missing table or column) and everything else ->
  `ProtocolError`. psqlODBC reports a refused login as 08001 with the
  server's words, and SQL Server an unopenable database as 42000 during login
  ("Login failed"), so those are `AuthError` too. Only transient faults are
  retried (tenacity, `connectors.retry`), and only because every statement
  here is a read.
- Secrets: the `PWD=`/`Password=` values of the connection string (and the
  whole string) are registered with the source's `Redactor`; every message
  passes through it and pyodbc's own exception is never chained.
"""

from __future__ import annotations

import codecs
import contextlib
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import pyodbc
from pydantic import SecretStr, field_validator, model_validator

from stockbridge.connectors.base import ConnectorSettings
from stockbridge.connectors.errors import (
    AuthError,
    ConnectorError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.odbc_dialect import Dialect, dialect_of
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy, call_with_retry

__all__ = [
    "OdbcClient",
    "OdbcSettings",
    "Row",
    "classify",
    "connection_string_secrets",
    "parse_connection_string",
]

Row = tuple[Any, ...]
"""A result row, read by position (PostgreSQL folds column names to lower case)."""

K = TypeVar("K")
Statement = tuple[str, Sequence[object]]

_SECRET_KEYS = frozenset({"pwd", "password", "passwd"})
_TRANSIENT_STATES = frozenset({"HYT00", "HYT01", "40001", "40P01"})
_CONFIG_STATES = frozenset({"IM002", "IM003", "01000"})
_LOGIN_REFUSED = re.compile(
    r"password authentication failed|role \"[^\"]*\" does not exist|"
    r"database \"[^\"]*\" does not exist|no pg_hba\.conf entry|login failed|"
    r"cannot open database",
    re.IGNORECASE,
)
_BUSY = re.compile(r"database is locked", re.IGNORECASE)


class OdbcSettings(ConnectorSettings):
    """Keys every ODBC source has (the connector's settings model extends it)."""

    odbc: SecretStr
    """The pyodbc connection string; write secrets as `${ENV}` references."""
    database: str | None = None
    """Appended as `DATABASE=` (e.g. UFDATA_001_2024), when the string has none."""
    char_encoding: str = "utf-8"
    """Decoding of `SQL_CHAR` text (varchar): 'gb18030' for Chinese_PRC on SQL Server."""
    wchar_encoding: str = "utf-16le"
    """Decoding of `SQL_WCHAR` text (nvarchar)."""
    dialect: Dialect | None = None
    """SQL flavour; None: detected from the driver's `SQL_DBMS_NAME`."""

    @field_validator("char_encoding", "wchar_encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            msg = (
                f"unknown text encoding {value!r} (e.g. 'utf-8', 'gb18030', 'utf-16le')"
            )
            raise ValueError(msg) from None
        return value

    @model_validator(mode="after")
    def _one_database(self) -> OdbcSettings:
        text = self.odbc.get_secret_value()
        try:
            keys = {key.lower() for key, _ in parse_connection_string(text)}
        except ValueError as exc:
            msg = f"odbc: {exc}"
            raise ValueError(msg) from None
        if self.database is not None and "database" in keys:
            msg = (
                "database is set twice: in the odbc connection string and as `database`"
            )
            raise ValueError(msg)
        return self

    def connection_string(self) -> str:
        """The connection string handed to the driver."""
        text = self.odbc.get_secret_value().rstrip().rstrip(";")
        if self.database is None:
            return text
        return f"{text};DATABASE={_braced(self.database)}"


def _braced(value: str) -> str:
    if re.search(r"[;{}\s]", value):
        return "{" + value.replace("}", "}}") + "}"
    return value


def parse_connection_string(text: str) -> list[tuple[str, str]]:
    """`KEY=value;...` pairs; a `{...}` value may hold `;` and `}}` for `}`."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in "; \t":
            i += 1
            continue
        eq = text.find("=", i)
        if eq < 0:
            msg = f"connection string part {text[i : i + 20]!r}... has no '='"
            raise ValueError(msg)
        key = text[i:eq].strip()
        i = eq + 1
        if i < n and text[i] == "{":
            value, i = _braced_value(text, i + 1)
        else:
            end = text.find(";", i)
            end = n if end < 0 else end
            value, i = text[i:end].strip(), end
        pairs.append((key, value))
    return pairs


def _braced_value(text: str, i: int) -> tuple[str, int]:
    value: list[str] = []
    while i < len(text):
        if text[i] == "}":
            if text[i + 1 : i + 2] == "}":
                value.append("}")
                i += 2
                continue
            return "".join(value), i + 1
        value.append(text[i])
        i += 1
    msg = "a '{' value is not closed by '}'"
    raise ValueError(msg)


def connection_string_secrets(text: str) -> list[str]:
    """The password values in a connection string (`PWD`, `Password`, `Passwd`)."""
    try:
        pairs = parse_connection_string(text)
    except ValueError:
        return []
    return [value for key, value in pairs if key.lower() in _SECRET_KEYS and value]


def classify(
    error: pyodbc.Error | UnicodeDecodeError,
    *,
    source: str,
    what: str,
    redactor: Redactor,
    connecting: bool = False,
) -> ConnectorError:
    """The connector error for a driver error, in the system's own words, redacted."""
    if isinstance(error, UnicodeDecodeError):
        text = (
            f"{what}: text is not {error.encoding} ({error.reason}); set "
            "char_encoding / wchar_encoding to what the driver sends"
        )
        return ProtocolError(redactor.redact(text), source=source)
    state, message = _state_and_message(error)
    text = redactor.redact(f"{what}: [{state}] {message}")
    if state.startswith("28") or (
        connecting and (state == "42000" or _LOGIN_REFUSED.search(message))
    ):
        return AuthError(text, source=source)
    if connecting and state in _CONFIG_STATES:
        return SourceConfigError(text, source=source)
    if (
        state.startswith(("08", "57"))
        or state in _TRANSIENT_STATES
        or _BUSY.search(message)
    ):
        return TransientError(text, source=source)
    return ProtocolError(text, source=source)


def _state_and_message(error: pyodbc.Error) -> tuple[str, str]:
    args = error.args
    if len(args) >= 2 and isinstance(args[0], str):
        return args[0], " ".join(str(part) for part in args[1:]).strip()
    return "HY000", " ".join(str(part) for part in args).strip()


class OdbcClient:
    """One source's ODBC connection: lazy, retried reads, classified errors."""

    def __init__(
        self,
        source: str,
        settings: OdbcSettings,
        redactor: Redactor,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.settings = settings
        self.redactor = redactor
        self._connection_string = settings.connection_string()
        for secret in connection_string_secrets(self._connection_string):
            redactor.add(secret)
        redactor.add(self._connection_string)
        self._sleep = sleep
        self._connection: pyodbc.Connection | None = None
        self._dialect: Dialect | None = None

    @property
    def dialect(self) -> Dialect:
        """The SQL flavour of the database (connects if not connected yet)."""
        if self._dialect is not None:
            return self._dialect
        return self._call(lambda: self._connect()[1], what="connect", retry=None)

    def rows(
        self,
        sql: str,
        params: Sequence[object] = (),
        *,
        retry: RetryPolicy | None = None,
    ) -> list[Row]:
        """Every row of a small read query (retried whole on transient faults)."""
        return self._call(lambda: self._read(sql, params), what="query", retry=retry)

    def pages(
        self,
        select: Callable[[K | None], Statement],
        key: Callable[[Row], K],
        *,
        after: K | None = None,
    ) -> Iterator[list[Row]]:
        """Rows of `select` in pages of at most `page_size`, by keyset.

        `select(after)` returns a `SELECT` ordered by a unique key with the
        rows after `after` (all rows for None); `key(row)` is that key.
        """
        size = self.settings.page_size
        while True:
            sql, params = select(after)
            limited = self.dialect.limit(sql, params, size)
            batch = self.rows(*limited)
            if batch:
                after = key(batch[-1])
                yield batch
            if len(batch) < size:
                return

    def close(self) -> None:
        """Close the connection (the next read opens a new one)."""
        self._drop()

    # --- internals --------------------------------------------------------------

    def _call(self, fn: Callable[[], K], *, what: str, retry: RetryPolicy | None) -> K:
        policy = retry or self.settings.retry_policy()
        return call_with_retry(
            fn, policy, what=f"{what} on source {self.source}", sleep=self._sleep
        )

    def _connect(self) -> tuple[pyodbc.Connection, Dialect]:
        if self._connection is not None and self._dialect is not None:
            return self._connection, self._dialect
        s = self.settings
        try:
            connection = pyodbc.connect(
                self._connection_string,
                autocommit=True,
                readonly=True,
                timeout=max(1, math.ceil(s.connect_timeout)),
            )
        except pyodbc.Error as exc:
            raise self._error(exc, "connect", connecting=True) from None
        try:
            connection.setdecoding(pyodbc.SQL_CHAR, encoding=s.char_encoding)
            connection.setdecoding(pyodbc.SQL_WCHAR, encoding=s.wchar_encoding)
            dialect = s.dialect or self._detect(connection)
            if dialect.odbc_query_timeout:
                connection.timeout = max(1, math.ceil(s.timeout))
            cursor = connection.cursor()
            try:
                for statement in dialect.session_statements(s.timeout):
                    cursor.execute(statement)
            finally:
                cursor.close()
        except pyodbc.Error as exc:
            connection.close()
            raise self._error(exc, "connect", connecting=True) from None
        except SourceConfigError:
            connection.close()
            raise
        self._connection, self._dialect = connection, dialect
        return connection, dialect

    def _detect(self, connection: pyodbc.Connection) -> Dialect:
        name = str(connection.getinfo(pyodbc.SQL_DBMS_NAME))
        dialect = dialect_of(name)
        if dialect is None:
            known = ", ".join(d.value for d in Dialect)
            msg = f"the driver reports DBMS {name!r}, which has no SQL dialect here: set `dialect` ({known})"
            raise SourceConfigError(msg, source=self.source)
        return dialect

    def _read(self, sql: str, params: Sequence[object]) -> list[Row]:
        connection, _ = self._connect()
        try:
            cursor = connection.cursor()
        except pyodbc.Error as exc:
            raise self._error(exc, "query") from None
        try:
            cursor.execute(sql, *params)
            rows: list[Row] = []
            while chunk := cursor.fetchmany(self.settings.page_size):
                rows.extend(tuple(row) for row in chunk)
        except (pyodbc.Error, UnicodeDecodeError) as exc:
            raise self._error(exc, "query") from None
        finally:
            _close_quietly(cursor)
        return rows

    def _error(
        self,
        exc: pyodbc.Error | UnicodeDecodeError,
        what: str,
        *,
        connecting: bool = False,
    ) -> ConnectorError:
        error = classify(
            exc,
            source=self.source,
            what=what,
            redactor=self.redactor,
            connecting=connecting,
        )
        if isinstance(error, TransientError):
            self._drop()  # a lost or timed-out connection is not reused
        return error

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            _close_quietly(connection)


def _close_quietly(handle: pyodbc.Connection | pyodbc.Cursor) -> None:
    with contextlib.suppress(pyodbc.Error):  # already broken: only tidying up
        handle.close()
