"""`kind: mes_push`: the consolidated rows POSTed in batches to an MES REST endpoint.

Each batch is `{batch_id_key: id, items_key: [item, ...]}`, sent through the
connection of a configured `mes_rest` source (`MesClient`: its URL, auth,
envelope, retries and redaction), one after the other. The batch id is a
hash of the batch's content and the link to the last push (`sinks.base`),
so a batch sent twice (a retry after a timeout, a push repeated after a
failure half-way) carries the same id, and an MES that keys on it takes it
once. A batch the MES refuses stops the push with the MES's own code and
words; the batches before it stay accepted and are recognised by their ids
when the push is repeated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from stockbridge.config.sinks_section import MesPushSettings
from stockbridge.connectors.errors import ConnectorError, TransientError
from stockbridge.connectors.mes_rest_client import MesClient, auth_secrets
from stockbridge.connectors.mes_rest_settings import MesRestSettings
from stockbridge.connectors.mes_rest_values import MISSING, FieldPath
from stockbridge.connectors.redaction import Redactor
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

__all__ = ["MesPushSink"]

KIND = "mes_push"


class MesPushSink:
    """POSTs the selected rows, shaped by `item`, in batches of `batch_size`."""

    kind = KIND

    def __init__(
        self, name: str, settings: MesPushSettings, connection: MesRestSettings
    ) -> None:
        self.name = name
        self.settings = settings
        self.connection = connection
        self._client: MesClient | None = None
        self._duplicate = (
            FieldPath(settings.duplicate_path) if settings.duplicate_path else None
        )

    @property
    def target(self) -> str:
        return f"{self.connection.url}{self.settings.path}"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

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
        items = [shaper.render(s.item, row) for row in shaper.selected(rows)]
        shaper.check_codes()
        content = digest(KIND, canonical_json(items))
        link = link_for(content, last)
        batches = [
            items[start : start + s.batch_size]
            for start in range(0, len(items), s.batch_size)
        ]
        ids = tuple(
            "sb-" + digest(self.name, link, str(n), canonical_json(batch))[:32]
            for n, batch in enumerate(batches)
        )
        unchanged = last is not None and last.content_hash == content
        result = PushResult(
            sink=self.name,
            kind=KIND,
            target=self.target,
            dry_run=dry_run,
            rows=len(items),
            content_hash=content,
            link_hash=link,
            unchanged=unchanged,
            keys=ids,
            preview=tuple(items[:PREVIEW_ROWS]),
        )
        if dry_run or (unchanged and not force):
            return result
        accepted = duplicates = 0
        for number, (batch_id, batch) in enumerate(zip(ids, batches, strict=True)):
            reply = self._send(batch_id, batch, number, len(batches))
            if self._was_duplicate(reply):
                duplicates += 1
            else:
                accepted += len(batch)
        return replace(
            result, sent=len(batches), changed=accepted, duplicates=duplicates
        )

    def _send(self, batch_id: str, batch: list[Any], number: int, total: int) -> object:
        s = self.settings
        body = {s.batch_id_key: batch_id, s.items_key: batch}
        try:
            return self.client.call("POST", s.path, body).data
        except ConnectorError as error:
            before = (
                f"; the {number} batch(es) before it were accepted and will be "
                "recognised by their ids when the push is repeated"
                if number
                else "; nothing was accepted"
            )
            msg = (
                f"sink {self.name!r}: batch {number + 1} of {total} ({batch_id}) "
                f"was not taken: {error}{before}"
            )
            if isinstance(error, TransientError):
                raise SinkError(msg) from None
            raise SinkRefusedError(msg) from None

    def _was_duplicate(self, data: object) -> bool:
        if self._duplicate is None:
            return False
        flag = self._duplicate.get(data)
        return flag is not MISSING and flag is True

    @property
    def client(self) -> MesClient:
        """The source's API client, built on first send (construction does no I/O)."""
        if self._client is None:
            self._client = MesClient(
                self.connection,
                source=self.settings.source,
                redactor=Redactor(auth_secrets(self.connection.auth)),
            )
        return self._client
