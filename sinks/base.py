"""What every sink is: `push(rows, *, dry_run, ...) -> PushResult`, and how it stays idempotent.

A push renders the rows it takes into what it would send, and hashes that
content (`content_hash`). Write-back sinks derive their idempotency keys
(MES batch ids, K3 bill numbers) from the content *and* a link to the last
successful push (`link_for`), so that:

- a repeated push of unchanged content sends nothing (the hash equals the
  last one recorded in the store), and when forced or retried after a crash
  it reuses the same keys, which the target recognises as already received;
- content that changes and later changes back (A, B, A) still gets new
  keys the third time: the target must take it again, not ignore it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stockbridge.store.sink_state import SinkState

__all__ = [
    "PREVIEW_ROWS",
    "PushResult",
    "Row",
    "Sink",
    "SinkError",
    "SinkRefusedError",
    "canonical_json",
    "digest",
    "link_for",
]

Row = Mapping[str, Any]
"""A consolidated row as `stockbridge.store.stock_queries.iter_consolidated` yields it."""

PREVIEW_ROWS = 5
"""Payload rows a result keeps to show what was (or would be) sent."""


class SinkError(Exception):
    """A push that could not be done; nothing more is sent after it."""


class SinkRefusedError(SinkError):
    """The target said no; the message carries its own words."""


def canonical_json(value: object) -> str:
    """One text per value: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(*parts: str) -> str:
    """SHA-256 hex of the parts, each ended by a newline."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode("utf-8"))
        hasher.update(b"\n")
    return hasher.hexdigest()


def link_for(content_hash: str, last: SinkState | None) -> str:
    """The link this push's keys derive from: the same as the last push's when
    the content is the same again, else the last push's content hash."""
    if last is None:
        return ""
    return last.link_hash if last.content_hash == content_hash else last.content_hash


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a push did (or, dry-run, would do)."""

    sink: str
    kind: str
    target: str
    """Where it goes, fit to print (no secrets)."""
    dry_run: bool
    rows: int
    """Consolidated rows the sink took."""
    content_hash: str
    link_hash: str
    unchanged: bool
    """The content equals the last successful push's."""
    sent: int = 0
    """Requests or transactions that reached the target."""
    changed: int = 0
    """What the target took: table rows written, items accepted, bills created."""
    duplicates: int = 0
    """Batches or bills the target already had."""
    keys: tuple[str, ...] = ()
    """The idempotency keys (batch ids, bill numbers), in sending order."""
    preview: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    """The first payload rows, as sent."""

    def summary(self) -> dict[str, Any]:
        """The counts and hashes, for the audit log and the sink state."""
        return {
            "kind": self.kind,
            "rows": self.rows,
            "content_hash": self.content_hash,
            "link_hash": self.link_hash,
            "unchanged": self.unchanged,
            "sent": self.sent,
            "changed": self.changed,
            "duplicates": self.duplicates,
            "keys": list(self.keys),
        }


class Sink(Protocol):
    """One configured sink."""

    name: str
    kind: str

    @property
    def target(self) -> str:
        """Where the sink writes, fit to print and audit (no secrets)."""
        ...

    def push(
        self,
        rows: Iterable[Row],
        *,
        dry_run: bool,
        last: SinkState | None = None,
        force: bool = False,
    ) -> PushResult:
        """Send `rows` (dry-run: send nothing, say what would be sent).

        `last` is the sink's last successful push; unchanged content is not
        sent again unless `force`. Raises `SinkError`, `SinkRefusedError`.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...
