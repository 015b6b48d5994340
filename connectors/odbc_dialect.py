"""The few SQL differences between SQL Server and the ODBC test databases, in one place.

The database connectors (U8, K3 WISE) write their SQL once, in the subset
that SQL Server (production), PostgreSQL (through psqlODBC) and SQLite
(through the SQLite ODBC driver) all run unchanged: `COALESCE` not `ISNULL`,
`JOIN ... ON`, values always bound as `?`. What cannot be written that way
is rendered here, by `Dialect`:

- A rowversion (`timestamp`) column is 8 bytes on SQL Server: read and compare
  it as `CONVERT(bigint, col)`. The simulated databases store a plain bigint.
- Row limiting: `SELECT TOP (?) ...` on SQL Server (2008 has no
  `OFFSET ... FETCH`, and keyset paging never needs an offset), `LIMIT ?`
  elsewhere.
- The highest rowversion a reader may treat as settled:
  `MIN_ACTIVE_ROWVERSION() - 1` on SQL Server (rows of transactions still in
  flight get a higher value when they commit, so a cursor never skips them);
  the simulated databases have no such counter, so the highest stored value.
- Datetime parameters: the SQLite ODBC driver binds a `datetime` as text with
  fractions (`'... 08:00:00.000'`), which sorts after the stored
  `'... 08:00:00'`; it gets whole-second text instead.
- Session set-up: a per-statement timeout and a read-only session where the
  driver cannot do it through ODBC attributes (psqlODBC refuses
  `SQL_ATTR_CONNECTION_TIMEOUT`; the SQLite ODBC driver ignores query
  timeouts, so only `query_only` is set there).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

__all__ = ["Dialect", "dialect_of"]

_DBMS_NAMES = {
    "microsoft sql server": "sqlserver",
    "postgresql": "postgresql",
    "sqlite": "sqlite",
}


class Dialect(StrEnum):
    """The SQL flavour behind an ODBC connection (`dialect:` in a source's config)."""

    SQLSERVER = "sqlserver"
    POSTGRESQL = "postgresql"
    SQLITE = "sqlite"

    def rowversion(self, column: str) -> str:
        """An expression reading rowversion `column` as a bigint."""
        if self is Dialect.SQLSERVER:
            return f"CONVERT(bigint, {column})"
        return column

    def limit(
        self, select: str, params: Sequence[object], rows: int
    ) -> tuple[str, tuple[object, ...]]:
        """`select` (a `SELECT ...` ending in its ORDER BY) cut to `rows` rows.

        The row count is bound like any other value; it is placed where each
        dialect wants it (first for TOP, last for LIMIT).
        """
        if not select.startswith("SELECT "):
            msg = f"cannot limit a statement that does not start with 'SELECT ': {select[:40]!r}"
            raise ValueError(msg)
        if self is Dialect.SQLSERVER:
            return "SELECT TOP (?) " + select[len("SELECT ") :], (rows, *params)
        return select + " LIMIT ?", (*params, rows)

    def settled_rowversion(self, tables: Sequence[str], column: str = "ufts") -> str:
        """A one-value query: the highest rowversion no running transaction can undercut.

        `tables` (with their `column`) matter only where the database has no
        rowversion counter of its own.
        """
        if self is Dialect.SQLSERVER:
            return "SELECT CONVERT(bigint, MIN_ACTIVE_ROWVERSION()) - 1"
        union = " UNION ALL ".join(
            f"SELECT MAX({column}) AS v FROM {table}"  # noqa: S608 - our table names
            for table in tables
        )
        return f"SELECT MAX(v) FROM ({union}) stamps"  # noqa: S608

    def time_param(self, value: datetime) -> object:
        """A naive local datetime as this dialect's driver compares it correctly."""
        if self is Dialect.SQLITE:
            return value.isoformat(" ", "seconds")
        return value.replace(microsecond=0)

    def session_statements(self, timeout_seconds: float) -> tuple[str, ...]:
        """Statements run once after connecting (a timeout, and read-only where possible)."""
        if self is Dialect.POSTGRESQL:
            return (
                f"SET statement_timeout = {int(timeout_seconds * 1000)}",
                "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            )
        if self is Dialect.SQLITE:
            return ("PRAGMA query_only = 1",)
        return ()

    @property
    def odbc_query_timeout(self) -> bool:
        """Whether the driver takes pyodbc's `Connection.timeout` (SQL Server's does)."""
        return self is Dialect.SQLSERVER


def dialect_of(dbms_name: str) -> Dialect | None:
    """The dialect for a driver's `SQL_DBMS_NAME`, or None for one we do not know."""
    name = _DBMS_NAMES.get(dbms_name.strip().lower())
    return Dialect(name) if name else None
