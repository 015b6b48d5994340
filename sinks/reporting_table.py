"""`kind: reporting_table`: the consolidated table copied into a reporting database.

The table is created when absent, with this layout (`reporting_table`):
the key codes and text as `Unicode(255)` (NVARCHAR on SQL Server, so
Chinese codes survive), quantities as `NUMERIC(28, 6)` (exact: the store
keeps six decimals, and 22 integer digits hold any quantity it accepts),
`as_of` as a UTC timestamp, each source's figure as JSON text of decimal
strings, and two hashes: `key_hash` (the primary key: a hash of the six
key codes, so the key fits every back-end's index limits) and `row_hash`
(the row's content, so an upsert rewrites only what changed).

SQLite has no exact decimal type (NUMERIC there is a binary float), so on
SQLite the quantities are stored as decimal text (`12.500000`): exact to
read back, sortable with a CAST, but a SQL `SUM()` over them is a float sum.
Readers who sum in SQL should use PostgreSQL or sum the decimals in code.

Modes, each in one transaction:
- `replace`: delete every row, insert the new ones. Readers on other
  connections see the old table until the commit and the new one after,
  never a mix (PostgreSQL MVCC; SQLite's reader snapshot). Not a rename
  swap: a renamed-in table would lose the grants and views that reporting
  users put on the old one.
- `upsert`: insert new keys, update rows whose `row_hash` differs, delete
  keys no longer in the table; an unchanged table is not written at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    MetaData,
    Numeric,
    String,
    Table,
    Unicode,
    UnicodeText,
    bindparam,
    create_engine,
    inspect,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator, TypeEngine

from stockbridge.config.masking import redact_text
from stockbridge.config.sinks_section import ReportingTableSettings
from stockbridge.sinks.base import (
    PREVIEW_ROWS,
    PushResult,
    Row,
    SinkError,
    canonical_json,
    digest,
)
from stockbridge.sinks.rows import decimal_text
from stockbridge.store.engine import safe_url
from stockbridge.store.sink_state import SinkState
from stockbridge.store.types import UtcDateTime

__all__ = ["KEY_COLUMNS", "ReportDecimal", "ReportingTableSink", "reporting_table"]

KIND = "reporting_table"
KEY_COLUMNS = ("material", "site", "warehouse", "location", "batch", "status")
_QUANTITIES = ("quantity", "reserved", "available", "safety_stock", "days_of_cover")
_SCALE = Decimal("0.000001")


class ReportDecimal(TypeDecorator[Decimal]):
    """NUMERIC(28, 6); decimal text on SQLite, which has no exact decimal type."""

    impl = Numeric(28, 6, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(28, 6, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return f"{value.quantize(_SCALE):f}"

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:  # noqa: ARG002 - the TypeDecorator hook's signature
        return None if value is None else Decimal(str(value))

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


def reporting_table(qualified_name: str) -> Table:
    """The declared layout of the reporting table `[schema.]name`."""
    schema, _, name = qualified_name.rpartition(".")
    return Table(
        name,
        MetaData(schema=schema or None),
        Column("key_hash", String(64), primary_key=True),
        *(Column(c, Unicode(255), nullable=False) for c in KEY_COLUMNS),
        Column("quantity", ReportDecimal(), nullable=False),
        Column("unit", Unicode(255), nullable=False),
        Column("reserved", ReportDecimal(), nullable=False),
        Column("available", ReportDecimal(), nullable=False),
        Column("safety_stock", ReportDecimal()),
        Column("days_of_cover", ReportDecimal()),
        Column("chosen_source", Unicode(255)),
        Column("rule", Unicode(255), nullable=False),
        Column("sources", UnicodeText(), nullable=False),
        Column("conflict", Boolean(), nullable=False),
        Column("single_source", Boolean(), nullable=False),
        Column("as_of", UtcDateTime(), nullable=False),
        Column("row_hash", String(64), nullable=False),
    )


def _record(row: Row) -> tuple[dict[str, Any], dict[str, Any]]:
    """The table row of a consolidated row, and its JSON form (hashed, previewed)."""
    record: dict[str, Any] = {c: str(row[c]) for c in KEY_COLUMNS}
    record.update(
        {q: row[q] for q in _QUANTITIES},
        unit=row["unit"],
        chosen_source=row["chosen_source"],
        rule=row["rule"],
        sources=canonical_json(
            {s: decimal_text(v) for s, v in sorted(row["sources"].items())}
        ),
        conflict=bool(row["conflict"]),
        single_source=bool(row["single_source"]),
        as_of=row["as_of"],
    )
    shown = {
        **record,
        **{q: None if row[q] is None else decimal_text(row[q]) for q in _QUANTITIES},
        "as_of": row["as_of"].isoformat().replace("+00:00", "Z"),
    }
    record["key_hash"] = digest(canonical_json([record[c] for c in KEY_COLUMNS]))
    record["row_hash"] = digest(canonical_json(shown))
    return record, shown


class ReportingTableSink:
    """Writes the whole consolidated table to `table` at `url`."""

    kind = KIND

    def __init__(self, name: str, settings: ReportingTableSettings) -> None:
        self.name = name
        self.settings = settings
        self.table = reporting_table(settings.table)
        self._engine: Engine | None = None

    @property
    def target(self) -> str:
        return f"{safe_url(self.settings.url)} table {self.settings.table}"

    @property
    def engine(self) -> Engine:
        """The reporting database's engine, made on first use (no I/O until then)."""
        if self._engine is None:
            self._engine = create_engine(self.settings.url, pool_pre_ping=True)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def push(
        self,
        rows: Iterable[Row],
        *,
        dry_run: bool,
        last: SinkState | None = None,
        force: bool = False,  # noqa: ARG002 - a table is always brought in line
    ) -> PushResult:
        """Replace or upsert the table; unchanged content is written again
        (replace) or not at all (upsert): a table may have been edited since."""
        hasher = hashlib.sha256(KIND.encode())
        preview: list[dict[str, Any]] = []
        counted = [0]

        def records() -> Iterator[dict[str, Any]]:
            for row in rows:
                record, shown = _record(row)
                hasher.update(record["row_hash"].encode())
                if len(preview) < PREVIEW_ROWS:
                    preview.append(shown)
                counted[0] += 1
                yield record

        changed = 0
        if dry_run:
            for _ in records():
                pass
        else:
            changed = self._write(records())
        content = hasher.hexdigest()
        return PushResult(
            sink=self.name,
            kind=KIND,
            target=self.target,
            dry_run=dry_run,
            rows=counted[0],
            content_hash=content,
            link_hash="",
            unchanged=last is not None and last.content_hash == content,
            sent=0 if dry_run else 1,
            changed=changed,
            preview=tuple(preview),
        )

    def _write(self, records: Iterator[dict[str, Any]]) -> int:
        try:
            with self.engine.begin() as conn:
                self._ensure_table(conn)
                if self.settings.mode == "replace":
                    return self._replace(conn, records)
                return self._upsert(conn, records)
        except SQLAlchemyError as error:
            detail = redact_text(str(getattr(error, "orig", None) or error))
            msg = f"sink {self.name!r}: {self.target}: {detail}"
            raise SinkError(msg) from None

    def _ensure_table(self, conn: Connection) -> None:
        t = self.table
        inspector = inspect(conn)
        if not inspector.has_table(t.name, schema=t.schema):
            t.create(conn)
            return
        present = {c["name"] for c in inspector.get_columns(t.name, schema=t.schema)}
        missing = [c.name for c in t.columns if c.name not in present]
        if missing:
            msg = (
                f"sink {self.name!r}: {self.target} exists without the columns "
                f"{', '.join(missing)}: drop it or name another table"
            )
            raise SinkError(msg)

    def _replace(self, conn: Connection, records: Iterator[dict[str, Any]]) -> int:
        conn.execute(self.table.delete())
        written = 0
        while batch := list(islice(records, self.settings.batch_size)):
            conn.execute(self.table.insert(), batch)
            written += len(batch)
        return written

    def _upsert(self, conn: Connection, records: Iterator[dict[str, Any]]) -> int:
        t = self.table
        held: dict[str, str] = dict(
            conn.execute(select(t.c.key_hash, t.c.row_hash)).all()
        )
        update = t.update().where(t.c.key_hash == bindparam("b_key_hash"))
        changed = 0
        while batch := list(islice(records, self.settings.batch_size)):
            new = [r for r in batch if r["key_hash"] not in held]
            moved = [
                {**r, "b_key_hash": r["key_hash"]}
                for r in batch
                if held.get(r["key_hash"], r["row_hash"]) != r["row_hash"]
            ]
            for record in batch:
                held.pop(record["key_hash"], None)
            if new:
                conn.execute(t.insert(), new)
            if moved:
                conn.execute(update, moved)
            changed += len(new) + len(moved)
        if held:  # keys no longer in the consolidated table
            conn.execute(
                t.delete().where(t.c.key_hash == bindparam("b_key_hash")),
                [{"b_key_hash": key} for key in held],
            )
        return changed + len(held)
