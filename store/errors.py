"""Errors of the central store, each telling the operator what to do.

    StoreError
     ├── UnsupportedStoreError   the URL names a database stockbridge does not run on
     └── SchemaOutOfDateError    the database schema is not the one this code needs

Messages carry the store URL with its password hidden, never the password.
"""

from __future__ import annotations

__all__ = ["SchemaOutOfDateError", "StoreError", "UnsupportedStoreError"]


class StoreError(Exception):
    """The central store cannot be used as configured."""


class UnsupportedStoreError(StoreError):
    """The store URL names a back-end or driver stockbridge does not support."""


class SchemaOutOfDateError(StoreError):
    """The database schema revision differs from the one this code needs."""

    def __init__(
        self, url: str, current: str | None, head: str, *, known: bool
    ) -> None:
        self.url = url
        self.current = current
        self.head = head
        self.upgradable = current is None or known
        """True when upgrading the store would bring it to `head`."""
        if current is None:
            problem = "has no stockbridge schema yet"
        elif known:
            problem = f"is at schema revision {current}, older than {head}"
        else:
            problem = (
                f"is at schema revision {current}, which this version of "
                "stockbridge does not know (was it upgraded by a newer one?)"
            )
        action = (
            "run `stockbridge db upgrade`" if self.upgradable else "upgrade stockbridge"
        )
        super().__init__(f"the store {url} {problem}: {action}")
