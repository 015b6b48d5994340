"""Running one user query and streaming its rows: through SQLAlchemy or raw pyodbc.

Both backends give the same thing: the result's column names as soon as the
query runs (so a missing mapped column fails before a row is read), then
chunks of at most `page_size` rows fetched from the server as they are
consumed. SQLAlchemy asks for a server-side cursor (`yield_per`, which implies
`stream_results`:
PostgreSQL declares a named cursor; SQLite steps its statement lazily
anyway); pyodbc uses `fetchmany`, and a psqlODBC connection is told to
fetch through a declared cursor (`UseDeclareFetch=1`) instead of buffering
the whole result in the driver.

Queries bind `:name` parameters; the pyodbc backend rewrites them to `?`
in order, leaving quoted text and comments alone.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pyodbc
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from stockbridge.connectors.errors import ConnectorError, SourceConfigError
from stockbridge.connectors.odbc import (
    classify,
    connection_string_secrets,
    parse_connection_string,
)
from stockbridge.connectors.odbc_dialect import Dialect, dialect_of
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.sql_errors import database_error

__all__ = [
    "OdbcBackend",
    "QueryResult",
    "SqlAlchemyBackend",
    "SqlBackend",
    "bind_names",
]

_TOKENS = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|(?<![:\w\\]):(\w+)(?!:)",
    re.DOTALL,
)
_ODBC_PASSWORD = re.compile(
    r"(?i)(?:^|;)\s*(?:pwd|password)\s*=\s*(\{(?:[^}]|}})*}|[^;]*)"
)


def bind_names(query: str) -> list[str]:
    """The `:name` parameters of `query` in order (outside quotes and comments)."""
    return [m[1] for m in _TOKENS.finditer(query) if m[1]]


@dataclass
class QueryResult:
    """A running query: its column names, then its rows chunk by chunk."""

    columns: list[str]
    chunks: Iterator[Sequence[Sequence[Any]]]


class SqlBackend(Protocol):
    """What the SQL connector needs from a database."""

    def run(
        self, query: str, params: Mapping[str, object], *, stream: str
    ) -> AbstractContextManager[QueryResult]:
        """Run `query`; the result is valid inside the `with` block."""
        ...

    def ping(self) -> None:
        """Connect and prove the connection answers."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class SqlAlchemyBackend:
    """Any database SQLAlchemy has a dialect for, by URL."""

    def __init__(
        self,
        url: str,
        *,
        source: str,
        redactor: Redactor,
        page_size: int,
        connect_timeout: float,
        timeout: float,
        connect_args: Mapping[str, object],
    ) -> None:
        self._source = source
        self._redactor = redactor
        self._page_size = page_size
        self._url = _parse_url(url, source, redactor)
        self._connect_args = {
            **_timeout_args(self._url, connect_timeout, timeout),
            **connect_args,
        }
        self._query_timeout = timeout
        self._engine: Engine | None = None

    @staticmethod
    def password(url: str) -> str | None:
        """The password in a SQLAlchemy URL, if it has one and parses."""
        try:
            return make_url(url).password
        except (ArgumentError, ValueError):
            return None

    @property
    def engine(self) -> Engine:
        """The engine, built on first use."""
        if self._engine is None:
            try:
                engine = create_engine(self._url, connect_args=self._connect_args)
            except (ArgumentError, NoSuchModuleError, ImportError) as error:
                shown = self._redactor.redact(self._url.render_as_string())
                msg = f"cannot use database URL {shown}: {error}"
                raise SourceConfigError(msg, source=self._source) from None
            if self._url.get_driver_name() == "pyodbc":
                _set_pyodbc_query_timeout(engine, self._query_timeout)
            self._engine = engine
        return self._engine

    def _error(self, error: DBAPIError, what: str, stream: str) -> ConnectorError:
        orig = error.orig
        return database_error(
            orig if orig is not None else error,
            sqlstate=_sqlstate(orig),
            what=what,
            source=self._source,
            stream=stream,
            redactor=self._redactor,
        )

    @contextmanager
    def _connect(self, stream: str) -> Iterator[Any]:
        try:
            conn = self.engine.connect()
        except DBAPIError as error:
            raise self._error(error, "connecting", stream) from None
        with conn:
            yield conn

    @contextmanager
    def run(
        self, query: str, params: Mapping[str, object], *, stream: str
    ) -> Iterator[QueryResult]:
        """Run `query` on a server-side cursor and yield its result."""
        with self._connect(stream) as conn:
            try:
                result = conn.execution_options(yield_per=self._page_size).execute(
                    text(_literal_colons(query)), dict(params)
                )
                columns = list(result.keys())
            except DBAPIError as error:
                raise self._error(
                    error, f"running the {stream} query", stream
                ) from None
            try:
                yield QueryResult(columns, self._chunks(result, stream))
            finally:
                result.close()  # a server-side cursor left open warns when collected

    def _chunks(self, result: Any, stream: str) -> Iterator[Sequence[Sequence[Any]]]:
        try:
            yield from result.partitions(self._page_size)
        except DBAPIError as error:
            raise self._error(error, f"reading the {stream} rows", stream) from None

    def ping(self) -> None:
        """Connect and let the dialect ping the connection (its own `SELECT 1`)."""
        with self._connect("") as conn:
            try:
                raw = conn.connection.dbapi_connection
                if not conn.dialect.do_ping(raw):
                    msg = "the database did not answer a ping"
                    raise SourceConfigError(msg, source=self._source)
            except DBAPIError as error:
                raise self._error(error, "pinging", "") from None

    def close(self) -> None:
        """Dispose of the engine and its pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class OdbcBackend:
    """Any database with an ODBC driver, by connection string (pyodbc).

    Connection options, text decoding, SQL dialect and error classes are the
    shared ODBC layer's (`connectors.odbc`), so a generic source behaves like
    U8 and K3 WISE do; unlike them it streams one user query with `fetchmany`
    instead of keyset pages, and a database of no known dialect is read all
    the same (its parameters bound as they are).
    """

    def __init__(
        self,
        connection_string: str,
        *,
        source: str,
        redactor: Redactor,
        page_size: int,
        connect_timeout: float,
        timeout: float,
        char_encoding: str,
        wchar_encoding: str,
        dialect: Dialect | None,
    ) -> None:
        self._source = source
        self._redactor = redactor
        for secret in connection_string_secrets(connection_string):
            redactor.add(secret)
        self._connection_string = _declare_fetch(connection_string, page_size)
        self._page_size = page_size
        self._connect_timeout = max(1, math.ceil(connect_timeout))
        self._timeout = timeout
        self._encodings = (char_encoding, wchar_encoding)
        self._dialect = dialect

    def _error(
        self,
        error: pyodbc.Error | UnicodeDecodeError,
        what: str,
        stream: str,
        *,
        connecting: bool = False,
    ) -> ConnectorError:
        found = classify(
            error,
            source=self._source,
            what=what,
            redactor=self._redactor,
            connecting=connecting,
        )
        if not stream:
            return found
        message = str(found).removeprefix(f"[{self._source}] ")
        return type(found)(message, source=self._source, stream=stream)

    @contextmanager
    def _connect(self, stream: str) -> Iterator[tuple[Any, Dialect | None]]:
        try:
            conn = pyodbc.connect(
                self._connection_string,
                autocommit=True,
                readonly=True,
                timeout=self._connect_timeout,
            )
        except pyodbc.Error as error:
            raise self._error(error, "connect", stream, connecting=True) from None
        try:
            try:
                conn.setdecoding(pyodbc.SQL_CHAR, encoding=self._encodings[0])
                conn.setdecoding(pyodbc.SQL_WCHAR, encoding=self._encodings[1])
                dialect = self._dialect or dialect_of(
                    str(conn.getinfo(pyodbc.SQL_DBMS_NAME))
                )
                if dialect is None or dialect.odbc_query_timeout:
                    conn.timeout = max(1, math.ceil(self._timeout))
                if dialect is not None:
                    cursor = conn.cursor()
                    for statement in dialect.session_statements(self._timeout):
                        cursor.execute(statement)
                    cursor.close()
            except pyodbc.Error as error:
                raise self._error(error, "connect", stream, connecting=True) from None
            yield conn, dialect
        finally:
            with contextlib.suppress(pyodbc.Error):  # a broken connection: tidying up
                conn.close()

    @contextmanager
    def run(
        self, query: str, params: Mapping[str, object], *, stream: str
    ) -> Iterator[QueryResult]:
        """Run `query` with `?` parameters and yield its result, fetched in chunks."""
        names = bind_names(query)
        positional = _TOKENS.sub(lambda m: "?" if m[1] else m[0], query)
        with self._connect(stream) as (conn, dialect):
            values = [_odbc_param(params[name], dialect) for name in names]
            cursor = conn.cursor()
            try:
                cursor.execute(positional, *values)
                columns = [column[0] for column in cursor.description or ()]
            except (pyodbc.Error, UnicodeDecodeError) as error:
                raise self._error(error, f"{stream} query", stream) from None
            try:
                yield QueryResult(columns, self._chunks(cursor, stream))
            finally:
                with contextlib.suppress(pyodbc.Error):
                    cursor.close()

    def _chunks(self, cursor: Any, stream: str) -> Iterator[Sequence[Sequence[Any]]]:
        while True:
            try:
                rows = cursor.fetchmany(self._page_size)
            except (pyodbc.Error, UnicodeDecodeError) as error:
                raise self._error(error, f"{stream} rows", stream) from None
            if not rows:
                return
            yield rows

    def ping(self) -> None:
        """Connect: an ODBC connect authenticates, which is what a check needs."""
        with self._connect(""):
            pass

    def close(self) -> None:
        """Nothing is held between queries."""


def _odbc_param(value: object, dialect: Dialect | None) -> object:
    """A bound value as the dialect's driver compares it (SQLite: time as text)."""
    if isinstance(value, datetime) and dialect is not None and value.tzinfo is None:
        return dialect.time_param(value)
    return value


def _literal_colons(query: str) -> str:
    """`query` with the colons in quotes and comments escaped for `text()`.

    SQLAlchemy takes every `:name` for a parameter, even in `'a :b'` or in
    `-- :x`; escaped, it binds exactly the names `bind_names` finds.
    """
    return _TOKENS.sub(lambda m: m[0] if m[1] else m[0].replace(":", "\\:"), query)


def _parse_url(url: str, source: str, redactor: Redactor) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as error:
        msg = redactor.redact(f"not a SQLAlchemy database URL: {error}")
        raise SourceConfigError(msg, source=source) from None


def _timeout_args(
    url: URL, connect_timeout: float, timeout: float
) -> dict[str, object]:
    """Connect and statement timeouts in the words of the drivers that take them."""
    backend, driver = url.get_backend_name(), url.get_driver_name()
    seconds = max(1, math.ceil(connect_timeout))
    if backend == "postgresql" and driver in ("psycopg", "psycopg2"):
        given = url.query.get("options", "")  # e.g. -csearch_path=erp: kept
        options = " ".join(given) if isinstance(given, tuple) else given
        statement_timeout = f"-c statement_timeout={math.ceil(timeout * 1000)}"
        return {
            "connect_timeout": seconds,
            "options": f"{options} {statement_timeout}".strip(),
        }
    if backend == "sqlite":
        return {"timeout": timeout}
    if backend in ("mysql", "mariadb") and driver in ("pymysql", "mysqldb"):
        return {"connect_timeout": seconds, "read_timeout": math.ceil(timeout)}
    if driver == "pyodbc":
        return {"timeout": seconds}
    return {}


def _set_pyodbc_query_timeout(engine: Engine, timeout: float) -> None:
    seconds = max(1, math.ceil(timeout))

    @event.listens_for(engine, "connect")
    def _query_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.timeout = seconds


def _sqlstate(orig: BaseException | None) -> str | None:
    if orig is None:
        return None
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(orig, attribute, None)
        if isinstance(value, str):
            return value
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], str) and len(args[0]) == 5:
        return args[0]
    return None


def _declare_fetch(connection_string: str, page_size: int) -> str:
    """psqlODBC buffers whole results unless told to fetch through a cursor."""
    try:
        pairs = {k.lower(): v for k, v in parse_connection_string(connection_string)}
    except ValueError:
        return connection_string  # the driver manager will say what is wrong
    if (
        "postgresql" not in pairs.get("driver", "").lower()
        or "usedeclarefetch" in pairs
    ):
        return connection_string
    text = connection_string.rstrip().rstrip(";")
    return f"{text};UseDeclareFetch=1;Fetch={page_size}"
