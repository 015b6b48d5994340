"""Opening the central store, with its schema ready to use.

An embedded SQLite store belongs to the one process family that uses it, so
it is created and upgraded on first use. A PostgreSQL store is shared (by
workers, the web, reporting), so its schema changes only on purpose, by
`stockbridge db upgrade`; opening one that is behind is an error that says so.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from stockbridge.store.engine import create_store_engine
from stockbridge.store.errors import SchemaOutOfDateError
from stockbridge.store.migrate import check_schema_current, upgrade

__all__ = ["open_store"]


def open_store(url: str | URL) -> Engine:
    """An engine for the store at `url`, its schema at the current revision.

    Raises:
        UnsupportedStoreError: the URL is not a supported back-end.
        SchemaOutOfDateError: the PostgreSQL schema is missing or behind, or
            either store's schema is newer than this code.
    """
    engine = create_store_engine(url)
    try:
        try:
            # Read first: upgrading takes the write lock even when there is
            # nothing to do, and opening a store should not wait for a sync.
            check_schema_current(engine)
        except SchemaOutOfDateError as out_of_date:
            if engine.dialect.name != "sqlite" or not out_of_date.upgradable:
                raise
            upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
