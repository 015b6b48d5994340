"""U8 movements read incrementally by the voucher headers' `ufts` rowversion.

A pull is a *pass* over the counted lines of the voucher types in
`MOVEMENT_TYPES`, each walked by line `AutoID`. The first pass reads
everything. Later passes read the lines whose header changed after the last
settled rowversion (saving, auditing and un-auditing write the header, so
its `ufts` moves; line `rowufts` is not used, as U8's costing rewrites lines
without touching stock) OR whose header was audited or edited (`dnverifytime`,
`dnmodifytime`) within `lookback` of the latest such time seen so far: a
rowversion cursor has no notion of time, so the look-back is taken on the
vouchers' own clock, and it catches what a rowversion alone can miss (a
restore, rows copied in with old stamps). Sync dedups the overlap by key.

The settled rowversion a pass ends on is read when it starts: SQL Server's
`MIN_ACTIVE_ROWVERSION() - 1`, so a voucher saved by a transaction still open
then gets a higher stamp and is read by the next pass (see `Dialect`).

Deletes and un-audits leave no row to read: the movement stays in the store
and the next stock snapshot (a full read of CurrentStock every run) shows the
difference. That is why the stock stream is never incremental.

The cursor is JSON. Settled: `{"ufts": N, "stamp": "<local time>"}`. Inside a
pass each page carries where the pass stands (`"pass": {"since", "ceiling",
"type", "after", "seen"}`), so a run that dies resumes the same pass after the
last committed line instead of starting over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from stockbridge.connectors.base import Page
from stockbridge.connectors.errors import SourceConfigError
from stockbridge.connectors.odbc import OdbcClient
from stockbridge.connectors.u8_rows import (
    Fields,
    cancelled_line,
    change_time,
    fields,
    movement_record,
)
from stockbridge.connectors.u8_sql import (
    MOVEMENT_TYPES,
    Changes,
    movements_select,
    original_lines_select,
    settled_ufts,
)
from stockbridge.mapping.model import SourceRecord

__all__ = ["MovementCursor", "MovementReader", "PassPosition"]

_CODES_PER_QUERY = 500


@dataclass(frozen=True, slots=True)
class PassPosition:
    """Where an unfinished pass stands."""

    since: datetime | None
    ceiling: int
    type: str
    after: int | None
    seen: datetime | None


@dataclass(frozen=True, slots=True)
class MovementCursor:
    """The settled rowversion and change time, and the open pass if any."""

    ufts: int | None = None
    stamp: datetime | None = None
    position: PassPosition | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {"ufts": self.ufts, "stamp": _iso(self.stamp)}
        if self.position is not None:
            p = self.position
            data["pass"] = {
                "since": _iso(p.since),
                "ceiling": p.ceiling,
                "type": p.type,
                "after": p.after,
                "seen": _iso(p.seen),
            }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None, *, source: str) -> MovementCursor:
        if text is None:
            return cls()
        try:
            data = json.loads(text)
            position = None
            if data.get("pass") is not None:
                p = data["pass"]
                position = PassPosition(
                    since=_time(p["since"]),
                    ceiling=int(p["ceiling"]),
                    type=_voucher_type(p["type"]),
                    after=None if p["after"] is None else int(p["after"]),
                    seen=_time(p["seen"]),
                )
            ufts = data["ufts"]
            return cls(
                None if ufts is None else int(ufts), _time(data["stamp"]), position
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            msg = (
                f"the saved movements cursor {text[:200]!r} is not a U8 cursor; "
                "re-read from the start (sync --full)"
            )
            raise SourceConfigError(msg, source=source) from None


def _voucher_type(value: object) -> str:
    if value not in MOVEMENT_TYPES:
        raise ValueError(value)
    return str(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


class MovementReader:
    """Turns passes over the voucher tables into pages of movement records."""

    def __init__(
        self, client: OdbcClient, *, source: str, site: str, zone: ZoneInfo
    ) -> None:
        self._client = client
        self._source = source
        self._site = site
        self._zone = zone

    def pages(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        state = MovementCursor.from_json(cursor, source=self._source)
        position = state.position or self._start(state, lookback)
        changes = None if state.ufts is None else Changes(state.ufts, position.since)
        batch: list[SourceRecord] = []
        size = self._client.settings.page_size
        first = MOVEMENT_TYPES.index(position.type)
        for voucher_type in MOVEMENT_TYPES[first:]:
            after = position.after if voucher_type == position.type else None
            for row, record in self._records(voucher_type, changes, after):
                batch.append(record)
                position = replace(
                    position,
                    type=voucher_type,
                    after=int(str(row["AutoID"])),
                    seen=_later(position.seen, change_time(row)),
                )
                if len(batch) >= size:
                    yield Page(batch, replace(state, position=position).to_json())
                    batch = []
        settled = MovementCursor(max(position.ceiling, state.ufts or 0), position.seen)
        yield Page(batch, settled.to_json())

    def _start(self, state: MovementCursor, lookback: timedelta) -> PassPosition:
        """A new pass: the rowversion it will settle on, and its look-back start."""
        client = self._client
        rows = client.rows(settled_ufts(client.dialect))
        value = rows[0][0] if rows else None
        ceiling = 0 if value is None else int(str(value))
        since = None
        if state.ufts is not None and state.stamp is not None:
            since = state.stamp - lookback
        return PassPosition(since, ceiling, MOVEMENT_TYPES[0], None, state.stamp)

    def _records(
        self, voucher_type: str, changes: Changes | None, after: int | None
    ) -> Iterator[tuple[Fields, SourceRecord]]:
        client = self._client
        dialect = client.dialect
        names = movements_select(dialect, voucher_type, changes, None).names

        def select(key: int | None) -> tuple[str, tuple[object, ...]]:
            statement = movements_select(dialect, voucher_type, changes, key)
            return statement.sql, statement.params

        for rows in client.pages(select, key=lambda row: int(str(row[0])), after=after):
            page = [fields(names, values) for values in rows]
            links = self._links(voucher_type, page)
            for row in page:
                named = cancelled_line(row)
                reverses = (
                    "" if named is None else links.get((*named, _warehouse(row)), "")
                )
                record = movement_record(
                    row,
                    voucher_type,
                    site=self._site,
                    zone=self._zone,
                    reverses=reverses,
                )
                yield row, record

    def _links(
        self, voucher_type: str, page: Sequence[Fields]
    ) -> dict[tuple[str, int, str], str]:
        """Keys of the blue lines the red-ink lines of `page` name, found once each.

        A named line that is not found, or found twice, is not linked: the red
        line then keeps its voucher type's kind.
        """
        wanted = {
            (*named, _warehouse(row)) for row in page if (named := cancelled_line(row))
        }
        codes = sorted({code for code, _, _ in wanted})
        found: dict[tuple[str, int, str], list[str]] = {}
        for start in range(0, len(codes), _CODES_PER_QUERY):
            statement = original_lines_select(
                voucher_type, codes[start : start + _CODES_PER_QUERY]
            )
            for code, row_number, warehouse, auto_id in self._client.rows(
                statement.sql, statement.params
            ):
                key = (
                    str(code),
                    int(str(row_number)),
                    "" if warehouse is None else str(warehouse),
                )
                if key in wanted:
                    found.setdefault(key, []).append(f"{voucher_type}-{code}/{auto_id}")
        return {key: lines[0] for key, lines in found.items() if len(lines) == 1}


def _warehouse(row: Fields) -> str:
    return "" if row["cWhCode"] is None else str(row["cWhCode"])
