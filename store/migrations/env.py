"""Alembic environment: migrate the connection stockbridge hands in.

`stockbridge.store.migrate` opens the transaction and takes the lock, then
passes its connection in `config.attributes["connection"]`; Alembic sees a
transaction already begun and runs inside it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from stockbridge.store.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    msg = (
        "stockbridge migrations run through stockbridge.store.migrate.upgrade "
        "(or `stockbridge db upgrade`), which hands them a connection"
    )
    raise TypeError(msg)

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things: rebuild the table by copy instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
