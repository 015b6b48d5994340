"""The connector contract: the one thing sync knows about any source system.

A connector is built from its source name and validated settings, and exposes
streams as iterators of `Page`s. A page is a bounded list of records plus the
cursor to resume from once that page (and every page before it) is committed,
so sync can commit rows and cursor together and never move a cursor past data
that is not in the store. Memory depends on the page size, never on the size
of the source table.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from stockbridge.connectors.retry import RetryPolicy
from stockbridge.mapping.model import SourceRecord

__all__ = [
    "CheckResult",
    "CheckState",
    "Connector",
    "ConnectorSettings",
    "Page",
    "Stream",
]


class Stream(StrEnum):
    """The streams a connector may offer."""

    STOCK = "stock"
    MOVEMENTS = "movements"
    MATERIALS = "materials"
    LOCATIONS = "locations"
    UNITS = "units"


@dataclass(frozen=True, slots=True)
class Page:
    """Records to commit together, and where to resume after them.

    `cursor` is opaque to sync (the connector's own JSON or text). For
    snapshot and master-data streams it is None.
    """

    records: Sequence[SourceRecord]
    cursor: str | None = None


class CheckState(StrEnum):
    """The verdict of `Connector.check()`."""

    OK = "ok"
    AUTH_FAILED = "auth failed"
    UNREACHABLE = "unreachable"
    PROTOCOL_ERROR = "protocol error"
    CONFIG_ERROR = "config error"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A connectivity verdict with the system's own words in `detail`."""

    state: CheckState
    detail: str = ""


class ConnectorSettings(BaseModel):
    """Base for each connector's settings model (the keys under `sources.NAME`).

    Unknown keys are errors so that a typo is caught at load, not ignored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str | None = None
    """The zone the system stores naive times in; defaults to the top-level one."""
    page_size: int = Field(default=5000, ge=1, le=100_000)
    connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to establish a connection."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds to wait for a reply (per call)."""
    retry_attempts: int = Field(default=6, ge=1, le=50)
    """Tries per call before a transient fault fails the run."""
    retry_max_wait: float = Field(default=30.0, gt=0)
    rate_per_second: float | None = Field(default=None, gt=0)
    """Call budget towards this system; None: unlimited."""

    def retry_policy(self) -> RetryPolicy:
        """The retry policy these settings ask for."""
        return RetryPolicy(attempts=self.retry_attempts, max_wait=self.retry_max_wait)


class Connector(abc.ABC):
    """Base class of every connector.

    Subclasses declare `kind`, `settings_model` and `streams`, and implement
    the streams they offer. Every network or database call has a timeout;
    transient faults are retried inside the connector and surface as
    `TransientError` only once retries are spent.
    """

    kind: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]]
    streams: ClassVar[frozenset[Stream]]
    unit_vocabularies: ClassVar[tuple[str, ...]] = ("cn",)
    """Built-in unit vocabularies of `stockbridge.mapping.units` this system speaks."""

    def __init__(self, name: str, settings: Any, *, timezone: str) -> None:
        self.name = name
        self.settings = settings
        self.timezone = getattr(settings, "timezone", None) or timezone

    def offered_streams(self) -> frozenset[Stream]:
        """The streams this configured source offers (by default all of its kind's).

        Configurable kinds (sql, file, mes_rest) offer only the streams their
        settings describe, so nothing schedules a stream that cannot run.
        """
        return self.streams

    @abc.abstractmethod
    def check(self) -> CheckResult:
        """Probe connectivity and credentials cheaply, and say what is wrong."""

    def stock(self) -> Iterator[Page]:
        """Stream the current stock snapshot."""
        raise NotImplementedError(self._no_stream(Stream.STOCK))

    def movements(self, cursor: str | None, *, lookback: timedelta) -> Iterator[Page]:
        """Stream movements after `cursor` (None: from the beginning).

        The connector re-reads `lookback` before the cursor position so late
        and back-dated postings are caught; sync dedups on the movement key.
        """
        raise NotImplementedError(self._no_stream(Stream.MOVEMENTS))

    def materials(self) -> Iterator[Page]:
        """Stream material master data."""
        raise NotImplementedError(self._no_stream(Stream.MATERIALS))

    def locations(self) -> Iterator[Page]:
        """Stream warehouse/location master data."""
        raise NotImplementedError(self._no_stream(Stream.LOCATIONS))

    def units(self) -> Iterator[Page]:
        """Stream material-specific unit conversions."""
        raise NotImplementedError(self._no_stream(Stream.UNITS))

    def close(self) -> None:  # noqa: B027 - optional hook, most connectors hold nothing
        """Release sessions and connections."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _no_stream(self, stream: Stream) -> str:
        return f"connector kind {self.kind!r} has no {stream.value} stream"
