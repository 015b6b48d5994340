"""Where the database simulators (U8, K3 WISE) write, and how a connector reaches them.

A target is an embedded SQLite file (read through the SQLite ODBC driver,
`SQLite3`) or a schema in a PostgreSQL database (read through psqlODBC,
`PostgreSQL Unicode`). The simulators describe their tables once, in
SQL-Server terms (`nvarchar(60)`, `decimal(28,10)`, `datetime`), and this module
renders them per engine and loads rows in bulk through the engine's own Python
driver: SQLite `executemany` in batches, PostgreSQL `COPY`. Rows are buffered
per table and flushed every `BATCH_ROWS`, so memory does not grow with the
number of voucher lines.

What differs from SQL Server, for every simulated database:

- Quantities. SQL Server `decimal(28,10)` reads as `Decimal`. PostgreSQL uses
  `numeric(28,10)`, which also reads as `Decimal`. SQLite has no exact decimal
  type, so quantities are stored as decimal text with 10 places
  (`'12.5000000000'`) and the SQLite ODBC driver returns them as `str`. Read
  every quantity with `Decimal(str(value))`, and do not do arithmetic or `<> 0`
  tests on them in SQL: SQLite would do it in floating point or text.
- `bit` columns are `smallint` 0/1 (pyodbc gives `bool` on SQL Server, `int`
  here; test truthiness).
- Identifiers. SQL Server and SQLite compare names case-insensitively. In
  PostgreSQL the tables and columns are created unquoted, so they fold to lower
  case: an unquoted SQL-Server-style query (`SELECT cInvCode FROM CurrentStock`)
  works unchanged, but `cursor.description` names come back lower case. Bind
  result columns by position, or compare names case-insensitively.
- Primary keys are unique indexes, created after the bulk load.
- `datetime` is `timestamp(3)` in PostgreSQL and ISO text in SQLite (the driver
  returns `datetime`); values are whole seconds, naive China local time.
"""

from __future__ import annotations

import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

__all__ = [
    "BATCH_ROWS",
    "Loader",
    "PostgresTarget",
    "SqliteTarget",
    "Table",
    "Target",
    "as_target",
    "drop_target",
    "money",
    "open_loader",
    "qty",
    "when",
]

BATCH_ROWS = 10_000

_QTY_PLACES = Decimal("1e-10")
_MONEY_PLACES = Decimal("0.01")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_VARCHAR = re.compile(r"^nvarchar\((\d+)\)$")

# SQL-Server-style column types the simulators use, rendered per engine.
_SQLITE_TYPES = {
    "int": "int",
    "bigint": "bigint",
    "smallint": "smallint",
    "datetime": "datetime",
    "decimal(28,10)": "text",
    "decimal(20,2)": "text",
}
_POSTGRES_TYPES = {
    "int": "integer",
    "bigint": "bigint",
    "smallint": "smallint",
    "datetime": "timestamp(3)",
    "decimal(28,10)": "numeric(28,10)",
    "decimal(20,2)": "numeric(20,2)",
}


def qty(value: Decimal) -> str:
    """A quantity as SQL Server's decimal(28,10) shows it: exact text, 10 places."""
    return format(value.quantize(_QTY_PLACES), "f")


def money(value: Decimal) -> str:
    """An amount as decimal(20,2) text."""
    return format(value.quantize(_MONEY_PLACES), "f")


def when(value: datetime) -> str:
    """A naive local datetime as the text both engines parse into a datetime column."""
    return value.isoformat(" ", "seconds")


@dataclass(frozen=True, slots=True)
class Table:
    """A table in SQL Server terms: (column, type) pairs and a unique key."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


@dataclass(frozen=True, slots=True)
class SqliteTarget:
    """An SQLite file, read through the SQLite ODBC driver (`SQLite3`)."""

    path: Path

    def odbc_connection_string(self) -> str:
        """`Timeout` is the driver's busy timeout (ms), so a reader waits out a
        writer; `StepAPI=1` makes the driver step through a result instead of
        loading it whole (1M voucher lines: 33 MB peak instead of 173 MB)."""
        return f"DRIVER={{SQLite3}};Database={self.path};Timeout=10000;StepAPI=1"


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """A schema in a PostgreSQL database, read through psqlODBC (`PostgreSQL Unicode`).

    `conninfo` is a libpq URL or key=value string; `schema` is created by the
    build and dropped and recreated by the next one.
    """

    conninfo: str
    schema: str

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.schema):
            msg = f"schema name must be a plain identifier, got {self.schema!r}"
            raise ValueError(msg)

    def odbc_connection_string(self) -> str:
        """psqlODBC options: `ConnSettings` runs on connect (it sets the schema);
        `UseDeclareFetch=1` makes the driver fetch through a server cursor, `Fetch`
        rows at a time, instead of buffering the whole result in memory."""
        params = conninfo_to_dict(self.conninfo)
        parts = [
            "DRIVER={PostgreSQL Unicode}",
            f"Server={params.get('host', '127.0.0.1')}",
            f"Port={params.get('port', 5432)}",
            f"Database={params.get('dbname', 'postgres')}",
            f"UID={params.get('user', 'postgres')}",
        ]
        password = params.get("password")
        if password:
            parts.append("PWD={" + str(password).replace("}", "}}") + "}")
        parts += [
            f"ConnSettings=SET search_path TO {self.schema.lower()}",
            "UseDeclareFetch=1",
            "Fetch=10000",
        ]
        return ";".join(parts)


Target = SqliteTarget | PostgresTarget


def as_target(target: Target | Path | str) -> Target:
    """A path (or a string that is not a PostgreSQL URL) means an SQLite file."""
    if isinstance(target, SqliteTarget | PostgresTarget):
        return target
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        msg = (
            "a PostgreSQL target needs a schema: pass PostgresTarget(conninfo, schema)"
        )
        raise ValueError(msg)
    return SqliteTarget(Path(text))


class Loader(Protocol):
    """Buffered bulk writer plus the few statements a build or a release needs."""

    def add(self, table: Table, row: Sequence[object]) -> None: ...

    def flush(self) -> None: ...

    def execute(self, statement: str, params: Sequence[object] = ()) -> None: ...

    def query(
        self, statement: str, params: Sequence[object] = ()
    ) -> list[tuple[object, ...]]: ...


def _column_type(kind: str, types: dict[str, str]) -> str:
    varchar = _VARCHAR.match(kind)
    if varchar:
        return f"varchar({varchar.group(1)})"
    return types[kind]


class _Buffered(ABC):
    def __init__(self) -> None:
        self._rows: dict[str, tuple[Table, list[Sequence[object]]]] = {}

    def add(self, table: Table, row: Sequence[object]) -> None:
        _, rows = self._rows.setdefault(table.name, (table, []))
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            self._write(table, rows)
            rows.clear()

    def flush(self) -> None:
        for table, rows in self._rows.values():
            if rows:
                self._write(table, rows)
                rows.clear()

    @abstractmethod
    def _write(self, table: Table, rows: list[Sequence[object]]) -> None: ...


class _SqliteLoader(_Buffered):
    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__()
        self._connection = connection

    def _write(self, table: Table, rows: list[Sequence[object]]) -> None:
        marks = ",".join("?" * len(table.columns))
        names = ",".join(table.column_names)
        insert = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608
        self._connection.executemany(insert, rows)

    def execute(self, statement: str, params: Sequence[object] = ()) -> None:
        self.flush()
        self._connection.execute(statement, tuple(params))

    def query(
        self, statement: str, params: Sequence[object] = ()
    ) -> list[tuple[object, ...]]:
        self.flush()
        return list(self._connection.execute(statement, tuple(params)))


class _PostgresLoader(_Buffered):
    def __init__(
        self, connection: psycopg.Connection[tuple[object, ...]], schema: str
    ) -> None:
        super().__init__()
        self._connection = connection
        self._schema = schema

    def _write(self, table: Table, rows: list[Sequence[object]]) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(self._schema, table.name.lower()),
            sql.SQL(",").join(
                sql.Identifier(name.lower()) for name in table.column_names
            ),
        )
        with self._connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def execute(self, statement: str, params: Sequence[object] = ()) -> None:
        self.flush()
        self._connection.execute(statement.replace("?", "%s"), tuple(params))

    def query(
        self, statement: str, params: Sequence[object] = ()
    ) -> list[tuple[object, ...]]:
        self.flush()
        cursor = self._connection.execute(statement.replace("?", "%s"), tuple(params))
        return cursor.fetchall()


def _create_statements(tables: Sequence[Table], types: dict[str, str]) -> list[str]:
    return [
        f"CREATE TABLE {table.name} ("
        + ", ".join(
            f"{name} {_column_type(kind, types)}" for name, kind in table.columns
        )
        + ")"
        for table in tables
    ]


def _key_statements(tables: Sequence[Table]) -> list[str]:
    return [
        f"CREATE UNIQUE INDEX {table.name}_pk ON {table.name} ({', '.join(table.key)})"
        for table in tables
    ]


@contextmanager
def open_loader(target: Target, create: Sequence[Table] = ()) -> Iterator[Loader]:
    """One transaction on `target`; with `create`, the database is rebuilt from empty.

    A rebuild is all-or-nothing: SQLite builds into a side file that replaces the
    old one only on success; PostgreSQL drops and recreates the schema inside one
    transaction, so no reader ever sees a half-built schema.
    """
    if isinstance(target, SqliteTarget):
        with _sqlite_loader(target, create) as loader:
            yield loader
    else:
        with _postgres_loader(target, create) as loader:
            yield loader


@contextmanager
def _sqlite_loader(target: SqliteTarget, create: Sequence[Table]) -> Iterator[Loader]:
    path = (
        target.path.with_name(target.path.name + ".building") if create else target.path
    )
    if create:
        path.unlink(missing_ok=True)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout = 10000")
        if create:
            connection.execute("PRAGMA synchronous = OFF")
        connection.execute("BEGIN IMMEDIATE")
        for statement in _create_statements(create, _SQLITE_TYPES):
            connection.execute(statement)
        loader = _SqliteLoader(connection)
        yield loader
        loader.flush()
        for statement in _key_statements(create):
            connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        connection.close()
        if create:
            path.unlink(missing_ok=True)
        raise
    connection.close()
    if create:
        path.replace(target.path)


@contextmanager
def _postgres_loader(
    target: PostgresTarget, create: Sequence[Table]
) -> Iterator[Loader]:
    schema = target.schema.lower()
    with psycopg.connect(target.conninfo) as connection:
        if create:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(schema)
                )
            )
            connection.execute(
                sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema))
            )
        connection.execute(
            sql.SQL("SET search_path TO {}").format(sql.Identifier(schema))
        )
        for statement in _create_statements(create, _POSTGRES_TYPES):
            connection.execute(statement.encode())
        loader = _PostgresLoader(connection, schema)
        yield loader
        loader.flush()
        for statement in _key_statements(create):
            connection.execute(statement.encode())
        for table in create:
            connection.execute(f"ANALYZE {table.name}".encode())


def drop_target(target: Target) -> None:
    """Remove what a build made: the SQLite file, or the PostgreSQL schema."""
    if isinstance(target, SqliteTarget):
        target.path.unlink(missing_ok=True)
        target.path.with_name(target.path.name + ".building").unlink(missing_ok=True)
        return
    with psycopg.connect(target.conninfo, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(target.schema.lower())
            )
        )
