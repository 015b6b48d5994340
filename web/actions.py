"""Syncs started from the web: one at a time, in a background thread.

A sync takes minutes, an HTTP request should not: the request starts it
and returns 202, and the runs appear on the health page as they happen.
The store's leases still keep a stream from running twice across
processes; the lock here only stops one server starting overlapping syncs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from sqlalchemy import Engine

from stockbridge.config.models import Settings
from stockbridge.store.leases import LeaseHeldError
from stockbridge.sync.reconcile import reconcile
from stockbridge.sync.runner import STREAM_ORDER, sync_stream
from stockbridge.sync.setup import build_connector

__all__ = ["SyncTrigger"]

log = logging.getLogger("stockbridge.web")


class SyncTrigger:
    """Starts a sync of chosen sources unless one started here is still running."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self, sources: Sequence[str], *, full: bool = False) -> bool:
        """Start syncing `sources` now; False if a sync is already running."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._thread = threading.Thread(
                target=self._run,
                args=(list(sources), full),
                name="web-sync",
                daemon=True,
            )
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the running sync, if any (tests and shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, sources: list[str], full: bool) -> None:
        try:
            for name in sources:
                with build_connector(self.settings, name) as connector:
                    offered = connector.offered_streams()
                    for stream in STREAM_ORDER:
                        if stream not in offered:
                            continue
                        try:
                            sync_stream(
                                self.engine,
                                self.settings,
                                name,
                                stream,
                                full=full,
                                connector=connector,
                            )
                        except LeaseHeldError as error:
                            log.info("skipped %s/%s: %s", name, stream.value, error)
            reconcile(self.engine, self.settings)
        except Exception:
            log.exception("a sync started from the web failed")
