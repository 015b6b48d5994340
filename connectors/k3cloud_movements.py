"""Movements from K3 Cloud's bill forms, incrementally, and the cursor that resumes them.

Each form is read on its own, filtered to audited, not voided bills and
ordered by (FApproveDate, FID, entry id). K3 moves stock when a bill is
audited, and an audited bill cannot change without being un-audited and
audited again, which stamps a new FApproveDate: so the audit time is the
watermark. FModifyDate is not: it is the last save, and a bill saved on
Monday and audited on Friday would fall behind a Tuesday watermark and never
be read. (Rows of an audited bill with no FApproveDate, as a data migration
may leave, sort first and are read by a full pull only.)

The cursor is JSON holding, per form, the position of the last row whose
records are committed: `{"v": 1, "forms": {"STK_InStock": ["2026-03-02T18:00:00.25",
100023, 100311], ...}}`. A new pull of a form starts `lookback` before that
audit time (or exactly after the row when the look-back is zero); a form the
cursor does not name is read from its first bill. Every page carries the
combined cursor, so pages from different forms resume each other safely.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from stockbridge.connectors.base import Page
from stockbridge.connectors.errors import ProtocolError, SourceConfigError
from stockbridge.connectors.k3cloud_client import WebApiClient, WebApiError
from stockbridge.connectors.k3cloud_forms import AUDITED, BILL_FORMS, BillForm
from stockbridge.connectors.k3cloud_query import (
    BillQuery,
    OrderKey,
    Position,
    Row,
    date_literal,
    read_pages,
)
from stockbridge.connectors.k3cloud_rows import BillPlan, bill_records, k3_date
from stockbridge.mapping.model import SourceRecord

__all__ = ["MovementCursor", "MovementReader"]

log = logging.getLogger("stockbridge.connectors")

_FIELD_NOT_FOUND = 9
_CURSOR_VERSION = 1
_BEFORE_ALL = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MovementCursor:
    """Per form: (FApproveDate or None, FID, entry id) of the last row committed."""

    positions: Mapping[str, Position]

    def to_json(self) -> str:
        forms = {form: list(pos) for form, pos in sorted(self.positions.items())}
        return json.dumps({"v": _CURSOR_VERSION, "forms": forms}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None, *, source: str) -> MovementCursor:
        if text is None:
            return cls({})
        try:
            return cls(_positions(text))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            msg = (
                f"the saved movements cursor {text!r} is not one this connector "
                f"wrote ({exc}); run a full sync to start over"
            )
            raise SourceConfigError(msg, source=source, stream="movements") from None


def _positions(text: str) -> dict[str, Position]:
    data = json.loads(text)
    if data["v"] != _CURSOR_VERSION:
        msg = f"cursor version {data['v']!r}, expected {_CURSOR_VERSION}"
        raise ValueError(msg)
    positions: dict[str, Position] = {}
    for form, (at, fid, entry) in data["forms"].items():
        if at is not None:
            date_literal(at)
        positions[str(form)] = (at, int(fid), int(entry))
    return positions


def _order(form: BillForm) -> tuple[OrderKey, ...]:
    return (
        OrderKey("FApproveDate", "date"),
        OrderKey("FID", "int"),
        OrderKey(form.entry_id, "int"),
    )


def _local_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _names_key(message: str, key: str) -> bool:
    head = re.escape(key.split(".", maxsplit=1)[0])
    return (
        re.search(rf"(?<![A-Za-z0-9_]){head}(?![A-Za-z0-9_])", message, re.I)
        is not None
    )


class MovementReader:
    """Reads the bill forms of one tenant; the key plans it learns last for its life."""

    def __init__(
        self, client: WebApiClient, *, zone: ZoneInfo, limit: int, org: str | None
    ) -> None:
        self.client = client
        self.zone = zone
        self.limit = limit
        self.org = org
        self._plans = {form.form_id: BillPlan(form) for form in BILL_FORMS}

    def pages(
        self, start: MovementCursor, *, lookback: timedelta, page_size: int
    ) -> Iterator[Page]:
        """Pages of at most `page_size` records, each with the cursor of the last
        bill entry whose records are all in it or before it."""
        committed = dict(start.positions)
        sent = MovementCursor(committed).to_json()
        batch: list[SourceRecord] = []
        for form_id, position, records in self._rows(start, lookback):
            for record in records:
                if len(batch) == page_size:
                    sent = MovementCursor(committed).to_json()
                    yield Page(batch, sent)
                    batch = []
                batch.append(record)
            committed[form_id] = self._later(committed.get(form_id), position)
        final = MovementCursor(committed).to_json()
        if batch or final != sent:
            yield Page(batch, final)

    def _later(self, known: Position | None, position: Position) -> Position:
        """The later of two positions: re-reading the look-back window never moves
        a form's position back (a crash in the overlap would start earlier each time)."""
        if known is None:
            return position
        return max(known, position, key=self._order_key)

    def _order_key(self, position: Position) -> tuple[datetime, int, int]:
        """How K3 orders positions: no FApproveDate (NULL) first, then by time."""
        at = k3_date(position[0], self.zone) or _BEFORE_ALL
        return at, position[1], position[2]

    def _rows(
        self, start: MovementCursor, lookback: timedelta
    ) -> Iterator[tuple[str, Position, list[SourceRecord]]]:
        for form in BILL_FORMS:
            since, after = self._start(start.positions.get(form.form_id), lookback)
            yield from self._form_rows(form, since, after)

    def _start(
        self, position: Position | None, lookback: timedelta
    ) -> tuple[str, Position | None]:
        """Where a form's pull starts: (FApproveDate lower bound or '', keyset position)."""
        if position is None:
            return "", None
        if lookback <= timedelta(0):
            return "", position
        at = k3_date(position[0], self.zone)
        if at is None:
            return "", None
        since = (at - lookback).astimezone(self.zone)
        return date_literal(_local_text(since)), None

    def _form_rows(
        self, form: BillForm, since: str, after: Position | None
    ) -> Iterator[tuple[str, Position, list[SourceRecord]]]:
        """The form's rows as (form, position, records)."""
        plan, pages = self._open(form, since, after)
        for rows in pages:
            for row in rows:
                yield form.form_id, self._position(form, row), self._records(plan, row)

    def _open(
        self, form: BillForm, since: str, after: Position | None
    ) -> tuple[BillPlan, Iterator[list[Row]]]:
        """The form's plan and pages, its first page read: an optional key the
        tenant lacks fails that first query (MsgCode 9 naming it), and the form
        is read without it from then on."""
        while True:
            plan = self._plans[form.form_id]
            query = self._query(plan, since)
            pages = read_pages(self.client, query, limit=self.limit, after=after)
            try:
                first = next(pages, None)
            except WebApiError as exc:
                self._plans[form.form_id] = self._without_missing(plan, exc)
                continue
            return plan, itertools.chain([] if first is None else [first], pages)

    def _without_missing(self, plan: BillPlan, error: WebApiError) -> BillPlan:
        """`plan` less the optional key `error` says is missing; else `error` itself."""
        if error.msg_code == _FIELD_NOT_FOUND:
            for key in plan.optional:
                if key not in plan.dropped and _names_key(str(error), key):
                    # Optional keys differ by tenant and version: worth a note
                    # in the log, not a warning on every run.
                    log.info(
                        "[%s] %s has no field %s on this tenant; reading it without",
                        self.client.source,
                        plan.form.form_id,
                        key,
                    )
                    return plan.without(key)
        raise error

    def _query(self, plan: BillPlan, since: str) -> BillQuery:
        conditions = [AUDITED]
        if self.org is not None:
            org = "'" + self.org.replace("'", "''") + "'"
            if plan.form.direction == 0 and "FStockOutOrgId.FNumber" in plan.keys:
                conditions.append(
                    f"(FStockOrgId.FNumber = {org} OR FStockOutOrgId.FNumber = {org})"
                )
            else:
                conditions.append(f"FStockOrgId.FNumber = {org}")
        if since:
            conditions.append(f"FApproveDate >= {since}")
        return BillQuery(
            plan.form.form_id, plan.keys, " AND ".join(conditions), _order(plan.form)
        )

    def _position(self, form: BillForm, row: Row) -> Position:
        try:
            return (
                row["FApproveDate"],
                int(str(row["FID"])),
                int(str(row[form.entry_id])),
            )
        except ValueError as exc:
            msg = f"{form.form_id}: a row without a whole FID and entry id ({exc})"
            raise ProtocolError(msg, source=self.client.source) from None

    def _records(self, plan: BillPlan, row: Row) -> list[SourceRecord]:
        if (row.get("FDocumentStatus"), row.get("FCancelStatus")) != ("C", "A"):
            return []  # the server ignored the filter: this bill has not moved stock
        records = bill_records(plan, row, self.zone)
        return list(_of_org(records, self.org))


def _of_org(records: Iterable[SourceRecord], org: str | None) -> Iterator[SourceRecord]:
    for record in records:
        if org is None or getattr(record, "site", org) == org:
            yield record
