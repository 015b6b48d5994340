"""`kind: k3wise`: stock, stock bills and masters of a Kingdee K3 WISE account database.

K3 WISE keeps everything in its SQL Server account database (AIS...), read
here through `connectors.odbc` (pyodbc). Stock is 即时库存 ICInventory (and,
with `include_virtual`, the virtual warehouses of POInventory), one record per
row, in the base unit. Movements are the entries of ICStockBill /
ICStockBillEntry that moved stock; `k3wise_sql` says which bills do and
`k3wise_rows` how an entry becomes one movement (two for a transfer).

Incremental reads. ICStockBill has no rowversion or modify time, but
FInterID only grows, so the cursor is the highest FInterID committed plus the
latest audit time (FCheckDate) a completed pull saw. Each pull reads the
bills above the FInterID, and re-reads those dated (FDate) or audited
(FCheckDate) since that audit time minus the look-back: a bill audited, or
saved and moved, after an earlier pull had skipped it is caught that way.
The audit time comes from the data, not from our clock, so clock skew
between this host and the database does not open a gap. What no incremental
read sees: a bill deleted or un-audited after it was read. Its movement stays
in the store until the stock snapshot comparison (ICInventory against the
movements) reports the difference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field

from stockbridge.connectors.base import CheckResult, CheckState, Connector, Page, Stream
from stockbridge.connectors.errors import (
    AuthError,
    ProtocolError,
    SourceConfigError,
    TransientError,
)
from stockbridge.connectors.k3wise_cursor import MovementCursor
from stockbridge.connectors.k3wise_rows import (
    Row,
    RowError,
    bill_stamp,
    location_record,
    material_record,
    movement_records,
    stock_record,
    unit_record,
)
from stockbridge.connectors.k3wise_sql import (
    BILLS,
    INVENTORY,
    ITEMS,
    UNITS,
    UPSTOCK_QUERY,
    VIRTUAL_INVENTORY,
    WAREHOUSES,
    Read,
    bill_conditions,
    warehouse_conditions,
)
from stockbridge.connectors.odbc import OdbcClient, OdbcSettings
from stockbridge.connectors.redaction import Redactor
from stockbridge.connectors.retry import RetryPolicy
from stockbridge.mapping.errors import UnknownTimeZoneError
from stockbridge.mapping.model import SourceRecord
from stockbridge.mapping.timezones import load_zone

__all__ = ["K3WiseConnector", "K3WiseSettings"]

_CHECK_RETRY = RetryPolicy(attempts=1)
_KeyValues = tuple[object, ...]


class K3WiseSettings(OdbcSettings):
    """The keys of a `kind: k3wise` source (plus the ODBC ones of `OdbcSettings`)."""

    site: str = Field(min_length=1)
    """The canonical site this K3 WISE account keeps the stock of."""
    include_virtual: bool = False
    """Also read the virtual warehouses (POInventory, t_Stock FTypeID 501-504)."""


class K3WiseConnector(Connector):
    """Reads one K3 WISE account database."""

    kind = "k3wise"
    settings_model = K3WiseSettings
    streams: ClassVar[frozenset[Stream]] = frozenset(
        {
            Stream.STOCK,
            Stream.MOVEMENTS,
            Stream.MATERIALS,
            Stream.LOCATIONS,
            Stream.UNITS,
        }
    )
    unit_vocabularies = ("cn",)

    settings: K3WiseSettings

    def __init__(
        self,
        name: str,
        settings: K3WiseSettings,
        *,
        timezone: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(name, settings, timezone=timezone)
        self.redactor = Redactor()
        # Registers the connection string's secrets now; connects on first read.
        self._client = OdbcClient(name, settings, self.redactor, sleep=sleep)

    def close(self) -> None:
        self._client.close()

    # --- check --------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Read the account option and one row of stock and of bills, without retries."""
        try:
            upstock = self._upstock_when_save(_CHECK_RETRY)
            dialect = self._client.dialect
            for read in (INVENTORY, BILLS):
                sql, params = dialect.limit(*read.statement(), 1)
                self._client.rows(sql, params, retry=_CHECK_RETRY)
        except AuthError as exc:
            return CheckResult(CheckState.AUTH_FAILED, str(exc))
        except TransientError as exc:
            return CheckResult(CheckState.UNREACHABLE, str(exc))
        except ProtocolError as exc:
            return CheckResult(CheckState.PROTOCOL_ERROR, str(exc))
        except SourceConfigError as exc:
            return CheckResult(CheckState.CONFIG_ERROR, str(exc))
        option = "on" if upstock else "off"
        return CheckResult(
            CheckState.OK,
            f"K3 WISE account answers ({dialect.value}); UPSTOCKWHENSAVE {option}",
        )

    # --- snapshot and master data ----------------------------------------------------

    def stock(self) -> Iterator[Page]:
        """即时库存 rows as K3 keeps them (MTO number, aux props etc. stay in raw)."""
        as_of = datetime.now(UTC)
        reads = [INVENTORY]
        if self.settings.include_virtual:
            reads.append(VIRTUAL_INVENTORY)
        site = self.settings.site
        return self._pages(
            stock_record(row, site=site, as_of=as_of)
            for read in reads
            for row in self._walk(read)
        )

    def materials(self) -> Iterator[Page]:
        """Items with their base unit's name and batch flag."""
        return self._pages(material_record(row) for row in self._walk(ITEMS))

    def locations(self) -> Iterator[Page]:
        """Warehouses (t_Stock); virtual ones only with `include_virtual`."""
        conditions = warehouse_conditions(include_virtual=self.settings.include_virtual)
        site = self.settings.site
        return self._pages(
            location_record(row, site=site)
            for row in self._walk(WAREHOUSES, conditions)
        )

    def units(self) -> Iterator[Page]:
        """Each item's other units of its unit group and their factor to the base unit."""
        return self._pages(unit_record(row) for row in self._walk(UNITS))

    # --- movements ------------------------------------------------------------------

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        """Entries of bills that moved stock: new ones, and the re-scan since the cursor."""
        start = MovementCursor.from_json(cursor, source=self.name) if cursor else None
        return self._movement_pages(start, lookback, self._zone())

    def _movement_pages(
        self, start: MovementCursor | None, lookback: timedelta, zone: ZoneInfo
    ) -> Iterator[Page]:
        """Pages of at most page_size records. A page's cursor keeps the start's
        audit time and the highest FInterID whose entries are all in it or
        before it; only the last page moves the audit time, so a pull
        interrupted half-way re-scans from where it started."""
        conditions, params = self._bill_filter(start, lookback)
        size, site = self.settings.page_size, self.settings.site
        done = start.inter_id if start is not None else 0
        checked = start.checked_at if start is not None else None
        latest_check, current = checked, None
        batch: list[SourceRecord] = []
        for row in self._walk(BILLS, conditions, params):
            inter_id, checked_at = self._stamp(row)
            if current is not None and inter_id != current:
                done = max(done, current)
            current = inter_id
            if checked_at is not None and (
                latest_check is None or checked_at > latest_check
            ):
                latest_check = checked_at
            for record in movement_records(row, site=site, zone=zone):
                if len(batch) == size:
                    yield Page(batch, MovementCursor(done, checked).to_json())
                    batch = []
                batch.append(record)
        if current is not None:
            done = max(done, current)
        final = MovementCursor(done, latest_check)
        if batch or final != start:
            yield Page(batch, final.to_json())

    def _bill_filter(
        self, start: MovementCursor | None, lookback: timedelta
    ) -> tuple[list[str], list[object]]:
        upstock = self._upstock_when_save(None)
        if start is None:
            return bill_conditions(upstock)
        if start.checked_at is None:
            return bill_conditions(upstock, watermark=start.inter_id)
        since = start.checked_at - lookback
        dialect = self._client.dialect
        rescan = (
            dialect.time_param(
                since.replace(hour=0, minute=0, second=0, microsecond=0)
            ),
            dialect.time_param(since),
        )
        return bill_conditions(upstock, watermark=start.inter_id, rescan=rescan)

    def _stamp(self, row: Row) -> tuple[int, datetime | None]:
        try:
            return bill_stamp(row)
        except RowError as exc:
            msg = f"ICStockBill row that cannot be ordered: {exc}"
            raise ProtocolError(msg, source=self.name, stream="movements") from None

    # --- plumbing ----------------------------------------------------------------------

    def _upstock_when_save(self, retry: RetryPolicy | None) -> bool:
        """The account option UPSTOCKWHENSAVE; absent means stock moves on audit."""
        rows = self._client.rows(UPSTOCK_QUERY, retry=retry)
        value = "" if not rows or rows[0][0] is None else str(rows[0][0]).strip()
        if value not in ("", "0", "1"):
            msg = f"t_SystemProfile IC/UPSTOCKWHENSAVE is {value!r}, expected 0 or 1"
            raise ProtocolError(msg, source=self.name)
        return value == "1"

    def _walk(
        self,
        read: Read,
        conditions: Sequence[str] = (),
        params: Sequence[object] = (),
    ) -> Iterator[Row]:
        """Every row of `read`, labelled, walked page by page by its unique key."""
        positions = read.key_positions()
        labels = read.labels

        def select(after: _KeyValues | None) -> tuple[str, tuple[object, ...]]:
            return read.statement(conditions, params, after=after)

        def key(row: tuple[object, ...]) -> _KeyValues:
            return tuple(row[position] for position in positions)

        for rows in self._client.pages(select, key):
            for row in rows:
                yield dict(zip(labels, row, strict=True))

    def _pages(self, records: Iterator[SourceRecord]) -> Iterator[Page]:
        batch: list[SourceRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) >= self.settings.page_size:
                yield Page(batch)
                batch = []
        if batch:
            yield Page(batch)

    def _zone(self) -> ZoneInfo:
        try:
            return load_zone(self.timezone)
        except UnknownTimeZoneError as exc:
            raise SourceConfigError(str(exc), source=self.name) from None
