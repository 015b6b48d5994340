"""`stockbridge rejects retry`: map quarantined records again after a fix.

The open rejects of a stream are replayed through the ordinary run path as
if a connector served them, so they are mapped, committed, counted and
leased exactly like a sync: a record that maps now is upserted on its key
(loaded once, however often it is retried) and its reject is closed; one
that still fails gets its reject renewed with today's reason. Stock rejects
are not replayed: a snapshot is only ever replaced whole, so they clear
with the next stock sync.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import ClassVar

from sqlalchemy import Engine

from stockbridge.config.models import Settings
from stockbridge.connectors.base import (
    CheckResult,
    CheckState,
    Connector,
    ConnectorSettings,
    Page,
    Stream,
)
from stockbridge.connectors.registry import connector_class
from stockbridge.mapping.model import SourceRecord
from stockbridge.store.queries import list_rejects
from stockbridge.store.runs import RunRow
from stockbridge.sync.quarantine import record_from_reject
from stockbridge.sync.runner import sync_stream

__all__ = ["RETRYABLE_STREAMS", "retry_rejects"]

RETRYABLE_STREAMS = (Stream.MATERIALS, Stream.UNITS, Stream.LOCATIONS, Stream.MOVEMENTS)
PAGE = 1000


class _RejectReplay(Connector):
    """Serves a source's open rejects of one stream as if the source sent them again."""

    kind = "rejects"
    settings_model = ConnectorSettings
    streams: ClassVar[frozenset[Stream]] = frozenset(RETRYABLE_STREAMS)

    def __init__(
        self, source: str, records: list[SourceRecord], vocabularies: tuple[str, ...]
    ) -> None:
        super().__init__(source, ConnectorSettings(), timezone="UTC")
        self.records = records
        self.unit_vocabularies = vocabularies  # type: ignore[misc]

    def check(self) -> CheckResult:
        return CheckResult(CheckState.OK)

    def _pages(self) -> Iterator[Page]:
        for start in range(0, len(self.records), PAGE):
            yield Page(self.records[start : start + PAGE])

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:  # noqa: ARG002 - replays rejects, not a position
        return self._pages()

    def materials(self) -> Iterator[Page]:
        return self._pages()

    def units(self) -> Iterator[Page]:
        return self._pages()

    def locations(self) -> Iterator[Page]:
        return self._pages()


def retry_rejects(
    engine: Engine, settings: Settings, *, source: str | None = None
) -> list[RunRow]:
    """Replay the open rejects of each source and stream; the runs that did it."""
    runs: list[RunRow] = []
    names = [source] if source else list(settings.sources)
    for name in names:
        vocabularies = connector_class(settings.sources[name].kind).unit_vocabularies
        for stream in RETRYABLE_STREAMS:
            found = list_rejects(engine, source=name, stream=stream.value)
            records = [
                r
                for r in (record_from_reject(row["raw"]) for row in found)
                if r is not None
            ]
            if not records:
                continue
            replay = _RejectReplay(name, records, vocabularies)
            runs.append(sync_stream(engine, settings, name, stream, connector=replay))
    return runs
