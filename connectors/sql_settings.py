"""The keys of a `kind: sql` source: where the database is, and a query per stream.

See `connectors.sql` for what the queries must look like. Everything that
can be checked without the database is checked here, so a mistake is a
config error at its key path: a mapping that cannot make records, a stock
query with parameters, a movements query that binds neither `:cursor` nor
`:since` (or binds a name that does not exist), a bad `initial_cursor`.
"""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from stockbridge.connectors.base import ConnectorSettings, Stream
from stockbridge.connectors.odbc_dialect import Dialect
from stockbridge.connectors.row_mapping import RecordShape
from stockbridge.connectors.sql_backends import bind_names
from stockbridge.connectors.sql_cursor import (
    INITIAL_CURSOR,
    CursorType,
    CursorValue,
    parse_cursor_text,
)

__all__ = ["SqlMovementStream", "SqlSettings", "SqlStockStream", "SqlStreams"]


class SqlStockStream(RecordShape):
    """The stock query and how its columns read."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    query: str = Field(min_length=1)
    fields: dict[str, str]
    """Canonical field -> result column."""

    @model_validator(mode="after")
    def _valid(self) -> SqlStockStream:
        problems = self.shape_problems(Stream.STOCK, self.fields)
        names = bind_names(self.query)
        if names:
            problems.append(
                f"the stock query binds {', '.join(':' + n for n in names)}; "
                "a snapshot query takes no parameters"
            )
        if problems:
            msg = f"a stock query and fields that make records: {'; '.join(problems)}"
            raise ValueError(msg)
        return self


class SqlMovementStream(RecordShape):
    """The movements query, its cursor and key, and how its columns read."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    query: str = Field(min_length=1)
    fields: dict[str, str] = Field(default_factory=dict)
    """Canonical field -> result column."""
    key: dict[Literal["document", "line", "year"], str] = Field(default_factory=dict)
    """The columns that key a movement line; may also be given in `fields`."""
    cursor_column: str = Field(min_length=1)
    cursor_type: CursorType = "timestamp"
    initial_cursor: str | None = None
    """`:cursor` before the first run, as text (a time, an integer or a string)."""

    @property
    def columns(self) -> dict[str, str]:
        """Every canonical field -> column, the key included."""
        return {
            **self.fields,
            **{str(name): column for name, column in self.key.items()},
        }

    @model_validator(mode="after")
    def _valid(self) -> SqlMovementStream:
        problems = self.shape_problems(Stream.MOVEMENTS, self.columns)
        names = set(bind_names(self.query))
        if not names:
            problems.append("the movements query must bind :cursor or :since")
        elif names - {"cursor", "since"}:
            extra = ", ".join(f":{n}" for n in sorted(names - {"cursor", "since"}))
            problems.append(
                f"the movements query binds {extra}; only :cursor and :since exist"
            )
        if self.initial_cursor is not None:
            try:
                parse_cursor_text(self.initial_cursor, self.cursor_type)
            except ValueError as error:
                problems.append(f"initial_cursor {error}")
        if problems:
            msg = (
                f"a movements query and fields that make records: {'; '.join(problems)}"
            )
            raise ValueError(msg)
        return self

    def initial(self) -> CursorValue:
        """`:cursor` when nothing was committed yet."""
        if self.initial_cursor is None:
            return INITIAL_CURSOR[self.cursor_type]
        return parse_cursor_text(self.initial_cursor, self.cursor_type)


class SqlStreams(BaseModel):
    """The queries; a source may offer one stream or both."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    stock: SqlStockStream | None = None
    movements: SqlMovementStream | None = None


class SqlSettings(ConnectorSettings):
    """The keys of a `kind: sql` source."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: SecretStr | None = None
    """A SQLAlchemy URL; its password is masked everywhere."""
    odbc: SecretStr | None = None
    """An ODBC connection string (`DRIVER={...};Server=...;PWD=...`), instead of `url`."""
    char_encoding: str = "utf-8"
    """ODBC: decoding of `SQL_CHAR` text (varchar): 'gb18030' for Chinese_PRC on SQL Server."""
    wchar_encoding: str = "utf-16le"
    """ODBC: decoding of `SQL_WCHAR` text (nvarchar)."""
    dialect: Dialect | None = None
    """ODBC: SQL flavour; None: detected from the driver, and any other database works too."""
    connect_args: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Extra keyword arguments for the SQLAlchemy driver's connect()."""
    streams: SqlStreams

    @field_validator("char_encoding", "wchar_encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            msg = "a text encoding Python knows ('utf-8', 'gb18030', 'utf-16le', ...)"
            raise ValueError(msg) from None
        return value

    @model_validator(mode="after")
    def _one_target(self) -> SqlSettings:
        if (self.url is None) == (self.odbc is None):
            msg = "give exactly one of url (SQLAlchemy) and odbc (connection string)"
            raise ValueError(msg)
        if self.streams.stock is None and self.streams.movements is None:
            msg = "a streams.stock or streams.movements query, or both"
            raise ValueError(msg)
        return self
