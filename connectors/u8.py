"""`kind: u8`: stock, movements and master data from a Yonyou U8 account database.

U8 keeps one SQL Server database per account and year (`UFDATA_001_2024`);
this connector reads one of them through pyodbc (`connectors.odbc`), with SQL
that runs unchanged on SQL Server and on the ODBC test databases
(`connectors.u8_sql`). What the columns mean is in `connectors.u8_rows`, how
movements are followed in `connectors.u8_movements`.

Config (under `sources.NAME`):

    kind: u8
    odbc: "DRIVER={ODBC Driver 18 for SQL Server};SERVER=u8db;UID=stock_reader;PWD=${U8_PASSWORD};TrustServerCertificate=yes"
    database: UFDATA_001_2024
    site: "2000"              # the canonical site this account is (CurrentStock has no plant)
    char_encoding: gb18030    # varchar under Chinese_PRC through Microsoft's driver
    line_side_warehouses: [LS01]

Use a login that can only read (`db_datareader` on the UFDATA database): the
connector also opens its sessions read-only, but the login is what protects
the ERP. AutoIDs are unique within one year's database, so keep one source
per database: the next year's database is a new source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar, TypeVar
from zoneinfo import ZoneInfo

from pydantic import Field

from stockbridge.connectors.base import CheckResult, CheckState, Connector, Page, Stream
from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.odbc import OdbcClient, OdbcSettings, Row
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy
from stockbridge.connectors.u8_movements import MovementReader
from stockbridge.connectors.u8_rows import (
    ComputationUnit,
    fields,
    location_record,
    material_record,
    stock_record,
    unit_records,
)
from stockbridge.connectors.u8_sql import (
    COMPUTATION_UNITS,
    Select,
    locations_select,
    materials_select,
    movements_select,
    stock_select,
)
from stockbridge.mapping.errors import UnknownTimeZoneError
from stockbridge.mapping.model import SourceRecord
from stockbridge.mapping.timezones import load_zone

__all__ = ["U8Connector", "U8Settings"]

K = TypeVar("K")
_CHECK_RETRY = RetryPolicy(attempts=1)


class U8Settings(OdbcSettings):
    """The keys of a `kind: u8` source."""

    site: str = Field(min_length=1)
    """The canonical site (plant) code this U8 account stands for, e.g. '2000'."""
    line_side_warehouses: tuple[str, ...] = ()
    """Warehouse codes (cWhCode) that are line-side stock (线边仓)."""


class U8Connector(Connector):
    """Reads one U8 account-year database."""

    kind = "u8"
    settings_model = U8Settings
    streams: ClassVar[frozenset[Stream]] = frozenset(Stream)
    unit_vocabularies = ("cn",)

    settings: U8Settings

    def __init__(self, name: str, settings: U8Settings, *, timezone: str) -> None:
        super().__init__(name, settings, timezone=timezone)
        self.redactor = Redactor()
        self.client = OdbcClient(name, settings, self.redactor)

    def close(self) -> None:
        self.client.close()

    def _zone(self) -> ZoneInfo:
        try:
            return load_zone(self.timezone)
        except UnknownTimeZoneError as exc:
            raise SourceConfigError(str(exc), source=self.name) from None

    # --- check ------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Log in once (no retries) and read one row of each table the streams use."""
        client = self.client
        try:
            client.rows("SELECT COUNT(*) FROM Warehouse", retry=_CHECK_RETRY)
            dialect = client.dialect
            for statement in (
                stock_select(None),
                movements_select(dialect, "01", None, None),
                materials_select(None),
                COMPUTATION_UNITS,
            ):
                sql, params = dialect.limit(statement.sql, statement.params, 1)
                client.rows(sql, params, retry=_CHECK_RETRY)
        except AuthError as exc:
            return CheckResult(CheckState.AUTH_FAILED, str(exc))
        except TransientError as exc:
            return CheckResult(CheckState.UNREACHABLE, str(exc))
        except ProtocolError as exc:
            return CheckResult(CheckState.PROTOCOL_ERROR, str(exc))
        except SourceConfigError as exc:
            return CheckResult(CheckState.CONFIG_ERROR, str(exc))
        return CheckResult(
            CheckState.OK, f"U8 tables readable ({dialect.value} through ODBC)"
        )

    # --- streams ----------------------------------------------------------------

    def stock(self) -> Iterator[Page]:
        """Every CurrentStock row, zero rows included (U8 keeps them)."""
        as_of = datetime.now(UTC)
        site = self.settings.site
        for names, rows in self._walk(stock_select, _int_key):
            yield Page(
                [
                    stock_record(fields(names, row), site=site, as_of=as_of)
                    for row in rows
                ]
            )

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        """Counted voucher lines after `cursor` (see `connectors.u8_movements`)."""
        reader = MovementReader(
            self.client, source=self.name, site=self.settings.site, zone=self._zone()
        )
        yield from reader.pages(cursor, lookback=lookback)

    def materials(self) -> Iterator[Page]:
        """Inventory: code, name, main unit name, batch management."""
        for names, rows in self._walk(materials_select, _text_key):
            yield Page([material_record(fields(names, row)) for row in rows])

    def locations(self) -> Iterator[Page]:
        """Warehouses of the account, at the configured site."""
        site = self.settings.site
        line_side = frozenset(self.settings.line_side_warehouses)
        for names, rows in self._walk(locations_select, _text_key):
            yield Page(
                [
                    location_record(fields(names, row), site=site, line_side=line_side)
                    for row in rows
                ]
            )

    def units(self) -> Iterator[Page]:
        """1 alternative unit = factor main units, for fixed-rate unit groups."""
        table = COMPUTATION_UNITS
        units = [
            ComputationUnit(fields(table.names, row))
            for row in self.client.rows(table.sql, table.params)
        ]
        by_code = {unit.code: unit for unit in units}
        groups: dict[str, list[ComputationUnit]] = {}
        for unit in units:
            groups.setdefault(unit.group, []).append(unit)
        batch: list[SourceRecord] = []
        for names, rows in self._walk(materials_select, _text_key):
            for row in rows:
                batch.extend(unit_records(fields(names, row), by_code, groups))
            while len(batch) >= self.settings.page_size:
                yield Page(batch[: self.settings.page_size])
                batch = batch[self.settings.page_size :]
        if batch:
            yield Page(batch)

    def _walk(
        self, statement: Callable[[K | None], Select], key: Callable[[Row], K]
    ) -> Iterator[tuple[Sequence[str], list[Row]]]:
        """Pages of rows of a keyset statement, with its column names."""
        names = statement(None).names

        def select(after: K | None) -> tuple[str, tuple[object, ...]]:
            built = statement(after)
            return built.sql, built.params

        for rows in self.client.pages(select, key):
            yield names, rows


def _int_key(row: Row) -> int:
    return int(str(row[0]))


def _text_key(row: Row) -> str:
    return str(row[0])
