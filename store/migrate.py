"""Schema migrations of the central store, run through Alembic's API.

There is no alembic.ini: the script location is the installed
`stockbridge.store.migrations` package, and env.py migrates the connection
handed to it in `Config.attributes`. So a migration runs inside a
transaction and lock that this module holds: on SQLite the write lock from
the start (BEGIN IMMEDIATE), on PostgreSQL a transaction-scoped advisory
lock. Two processes upgrading at once then run one after the other, and the
second finds nothing to do.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, select

from stockbridge.store import migrations
from stockbridge.store.engine import begin_write, safe_url
from stockbridge.store.errors import SchemaOutOfDateError, StoreError

__all__ = ["check_schema_current", "current_revision", "head_revision", "upgrade"]

_SCRIPT_LOCATION = Path(migrations.__file__).resolve().parent
_PG_MIGRATION_LOCK = zlib.crc32(b"stockbridge.store.migrate")


def head_revision() -> str:
    """The schema revision this code needs."""
    head = _script_directory().get_current_head()
    if head is None:
        msg = f"no schema revisions found in {_SCRIPT_LOCATION}"
        raise StoreError(msg)
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision of the store, or None when it has none yet."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema_current(engine: Engine) -> None:
    """Raise unless the store's schema is exactly the one this code needs.

    Raises:
        SchemaOutOfDateError: the schema is missing, behind or unknown.
    """
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDateError(
            safe_url(engine.url), current, head, known=_is_known(current)
        )


def upgrade(engine: Engine) -> None:
    """Bring the store's schema to the current revision, in one transaction.

    Running it on an up-to-date store changes nothing.

    Raises:
        SchemaOutOfDateError: the store is at a revision this code does not
            know (a newer stockbridge upgraded it).
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            _upgrade_sqlite(conn)
        else:
            with begin_write(conn):
                conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
                _upgrade_to_head(conn)


def _upgrade_to_head(conn: Connection) -> None:
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None and not _is_known(current):
        raise SchemaOutOfDateError(
            safe_url(conn.engine.url), current, head_revision(), known=False
        )
    command.upgrade(_alembic_config(conn), "head")


def _upgrade_sqlite(conn: Connection) -> None:
    # Batch migrations rebuild a table by copy, drop and rename; with foreign
    # keys enforced, the DROP would cascade-delete the rows that reference
    # it. The pragma is ignored inside a transaction, so it is switched off
    # before BEGIN, and the foreign keys are checked before COMMIT instead.
    driver_connection = conn.connection.driver_connection
    assert driver_connection is not None  # noqa: S101 - an open connection has one
    driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        with begin_write(conn):
            _upgrade_to_head(conn)
            violations = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if violations:
                msg = (
                    f"migrating {safe_url(conn.engine.url)} would break "
                    f"{len(violations)} foreign keys, e.g. {tuple(violations[0])}"
                )
                raise StoreError(msg)
    finally:
        driver_connection.execute("PRAGMA foreign_keys=ON")


def _is_known(revision: str | None) -> bool:
    return revision in {
        script.revision for script in _script_directory().walk_revisions()
    }


def _alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())
