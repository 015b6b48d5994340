"""`kind: k3cloud_save`: the consolidated rows saved as bills of a K3 Cloud form.

Each selected row becomes one entry (shaped by `entry`) of a bill of
`form_id`; `entries_per_bill` entries make a bill, whose header is the
constant `header` plus `FBillNo`. The login is that of a configured
`k3cloud` source (`WebApiClient`: sessions, K3's errors in their odd shapes).

Idempotent by bill number. K3 refuses to save a bill number twice, and its
documentation warns that replayed Saves can duplicate bills, so the number
is derived from the bill's content and the link to the last push
(`sinks.base`): a repeated or retried push names the same bills. Before
saving, the push asks K3 which of its numbers exist (ExecuteBillQuery on
FBillNo) and saves only the missing ones; a bill found saved but not yet
submitted or audited is moved on. A Save refused because our own earlier,
timed-out attempt went through is recognised by looking again. Any other
refusal (IsSuccess false) stops the push with K3's MsgCode and message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from stockbridge.config.sinks_section import K3CloudSaveSettings
from stockbridge.connectors.errors import AuthError, ConnectorError, TransientError
from stockbridge.connectors.k3cloud import K3CloudConnector
from stockbridge.connectors.k3cloud_client import WebApiClient, WebApiError
from stockbridge.sinks.base import (
    PREVIEW_ROWS,
    PushResult,
    Row,
    SinkError,
    SinkRefusedError,
    canonical_json,
    digest,
    link_for,
)
from stockbridge.sinks.rows import RowShaper
from stockbridge.store.sink_state import SinkState

__all__ = ["K3CloudSaveSink"]

KIND = "k3cloud_save"
_SAVED, _SUBMITTED = ("A", "D", "Z"), "B"
"""Document statuses: created (or re-audit, draft) and under review."""


class K3CloudSaveSink:
    """Saves the selected rows as `form_id` bills, then submits and audits them."""

    kind = KIND

    def __init__(
        self, name: str, settings: K3CloudSaveSettings, connector: K3CloudConnector
    ) -> None:
        self.name = name
        self.settings = settings
        self.connector = connector

    @property
    def target(self) -> str:
        c = self.connector.settings
        return f"{c.url} acct {c.acct_id} form {self.settings.form_id}"

    def close(self) -> None:
        self.connector.close()

    def push(
        self,
        rows: Iterable[Row],
        *,
        dry_run: bool,
        last: SinkState | None = None,
        force: bool = False,
    ) -> PushResult:
        s = self.settings
        shaper = RowShaper(self.name, s.select, s.codes)
        entries = [shaper.render(s.entry, row) for row in shaper.selected(rows)]
        shaper.check_codes()
        header = canonical_json(s.header)
        content = digest(KIND, s.form_id, header, canonical_json(entries))
        link = link_for(content, last)
        bills = [
            entries[start : start + s.entries_per_bill]
            for start in range(0, len(entries), s.entries_per_bill)
        ]
        models = [
            {
                **s.header,
                "FBillNo": s.bill_no_prefix
                + digest(
                    self.name, link, str(n), s.form_id, header, canonical_json(bill)
                )[:16].upper(),
                s.entity: bill,
            }
            for n, bill in enumerate(bills)
        ]
        numbers = tuple(str(model["FBillNo"]) for model in models)
        unchanged = last is not None and last.content_hash == content
        preview = (
            {**models[0], s.entity: models[0][s.entity][:PREVIEW_ROWS]}
            if models
            else None
        )
        result = PushResult(
            sink=self.name,
            kind=KIND,
            target=self.target,
            dry_run=dry_run,
            rows=len(entries),
            content_hash=content,
            link_hash=link,
            unchanged=unchanged,
            keys=numbers,
            preview=() if preview is None else (preview,),
        )
        if dry_run or (unchanged and not force) or not models:
            return result
        try:
            return self._write(result, models)
        except TransientError as error:
            msg = f"sink {self.name!r}: K3 Cloud did not answer: {error}"
            raise SinkError(msg) from None
        except AuthError as error:
            msg = f"sink {self.name!r}: K3 Cloud refused the login: {error}"
            raise SinkRefusedError(msg) from None
        except ConnectorError as error:
            msg = f"sink {self.name!r}: K3 Cloud answered unexpectedly: {error}"
            raise SinkError(msg) from None

    def _write(self, result: PushResult, models: list[dict[str, Any]]) -> PushResult:
        client = self.connector.client
        statuses = self._statuses(client, result.keys)
        sent = 1
        created = 0
        for done, model in enumerate(models):
            number = str(model["FBillNo"])
            try:
                status = statuses.get(number)
                if status is None:
                    status, new = self._save(client, model)
                    sent += 1
                    created += int(new)
                sent += self._advance(client, number, status)
            except WebApiError as error:
                msg = (
                    f"sink {self.name!r}: K3 Cloud refused bill {number} "
                    f"({done + 1} of {len(models)}): {error}; the bills before it "
                    "stay booked and are recognised by their numbers next time"
                )
                raise SinkRefusedError(msg) from None
        return replace(
            result, sent=sent, changed=created, duplicates=len(models) - created
        )

    def _statuses(
        self, client: WebApiClient, numbers: tuple[str, ...]
    ) -> dict[str, str]:
        """FDocumentStatus of each of `numbers` that K3 holds."""
        quoted = ", ".join(f"'{number}'" for number in numbers)
        rows = client.execute_bill_query(
            {
                "FormId": self.settings.form_id,
                "FieldKeys": "FBillNo,FDocumentStatus",
                "FilterString": f"FBillNo IN ({quoted})",
                "Limit": 10_000,
            }
        )
        return {str(row[0]): str(row[1]) for row in rows}

    def _save(self, client: WebApiClient, model: dict[str, Any]) -> tuple[str, bool]:
        """Save one bill; (its status, whether this call created it)."""
        number = str(model["FBillNo"])
        body = {"formid": self.settings.form_id, "data": {"Model": model}}
        try:
            client.call("DynamicFormService", "Save", body)
        except WebApiError:
            # A retried Save whose first attempt went through is refused as a
            # repeated number: then the bill is there, saved by us.
            status = self._statuses(client, (number,)).get(number)
            if status is None:
                raise
            return status, True
        return _SAVED[0], True

    def _advance(self, client: WebApiClient, number: str, status: str) -> int:
        """Submit and audit `number` as configured; the calls it took."""
        s = self.settings
        calls = 0
        if s.submit and status in _SAVED:
            self._operate(client, "Submit", number)
            status, calls = _SUBMITTED, calls + 1
        if s.audit and status == _SUBMITTED:
            self._operate(client, "Audit", number)
            calls += 1
        return calls

    def _operate(self, client: WebApiClient, method: str, number: str) -> None:
        body = {"formid": self.settings.form_id, "data": {"Numbers": [number]}}
        client.call("DynamicFormService", method, body)
