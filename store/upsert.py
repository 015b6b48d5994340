"""Insert-or-update in the dialect of the store (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

__all__ = ["upsert"]


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    *,
    accumulate: Sequence[str] = (),
) -> None:
    """Insert rows; a row whose key exists replaces it (or adds, for `accumulate`)."""
    if not rows:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table)
    set_: dict[str, Any] = {c: stmt.excluded[c] for c in rows[0] if c not in key}
    for c in accumulate:
        set_[c] = table.c[c] + stmt.excluded[c]
    conn.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=set_), rows)
