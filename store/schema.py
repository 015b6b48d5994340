"""The tables of the central store (SQLAlchemy Core), one `MetaData`.

Conventions, so that queries and migrations read the same everywhere:

- Table names are the plain nouns of the design; key columns carry the
  canonical names of `stockbridge.mapping.model` (material, site, warehouse,
  location, batch, status). A code that may be absent (location, batch,
  special stock, year) is the empty string, never NULL, so that keys compare
  and unique constraints hold on both back-ends.
- Quantities are `Quantity` (exact micro-units), times are `UtcDateTime`.
  Times have no server defaults: the caller's injected clock supplies them.
- JSON is stored as text in plainly named columns (`raw`, `payload`,
  `source_values`, `detail`): the store never queries inside it, and text
  is portable.
- Codes are unbounded strings: a length limit would bite on PostgreSQL and
  not on SQLite, and the two must behave alike.

The migrations in `stockbridge.store.migrations` create exactly these
tables; a test compares the migrated database with this `MetaData`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)

from stockbridge.mapping.model import MovementKind, StockStatus
from stockbridge.store.types import Quantity, UtcDateTime

__all__ = [
    "ALERT_STATUSES",
    "ATTEMPT_OUTCOMES",
    "OUTBOX_STATUSES",
    "RUN_STATUSES",
    "alert_attempts",
    "alert_outbox",
    "alert_state",
    "api_tokens",
    "audit_log",
    "conflicts",
    "consolidated_stock",
    "current_snapshots",
    "cursors",
    "leases",
    "locations",
    "materials",
    "metadata",
    "movements",
    "rejects",
    "sink_state",
    "sources",
    "stock_history",
    "stock_lines",
    "stock_snapshots",
    "sync_runs",
    "unit_conversions",
]

RUN_STATUSES = ("running", "succeeded", "failed")
OUTBOX_STATUSES = ("queued", "sent", "failed")
ALERT_STATUSES = ("firing", "resolved")
ATTEMPT_OUTCOMES = ("sent", "retry", "throttled", "failed")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Surrogate ids: BIGINT on PostgreSQL; on SQLite the type must be exactly
# INTEGER for the column to be the rowid (and to autoincrement).
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


STOCK_STATUS_CHECK = _one_of("status", tuple(s.value for s in StockStatus))
MOVEMENT_KIND_CHECK = _one_of("kind", tuple(k.value for k in MovementKind))


def _required(name: str, *, primary_key: bool = False) -> Column[str]:
    return Column(name, String(), nullable=False, primary_key=primary_key)


def _optional(name: str, *, primary_key: bool = False) -> Column[str]:
    """A code that may be absent: '' (never NULL) so that keys compare."""
    return Column(
        name, String(), nullable=False, server_default="", primary_key=primary_key
    )


def _source(*, primary_key: bool = False) -> Column[str]:
    return Column(
        "source",
        String(),
        ForeignKey("sources.name"),
        nullable=False,
        primary_key=primary_key,
    )


def _run_id(*, nullable: bool = True) -> Column[int]:
    return Column("run_id", ID_TYPE, ForeignKey("sync_runs.id"), nullable=nullable)


def _stock_key(*, primary_key: bool) -> list[Column[str]]:
    """The canonical stock key columns, in key order."""
    return [
        _required("material", primary_key=primary_key),
        _required("site", primary_key=primary_key),
        _required("warehouse", primary_key=primary_key),
        _optional("location", primary_key=primary_key),
        _optional("batch", primary_key=primary_key),
        _required("status", primary_key=primary_key),
    ]


sources = Table(
    "sources",
    metadata,
    Column("name", String(), primary_key=True),
    Column("kind", String(), nullable=False),
    Column("first_seen_at", UtcDateTime(), nullable=False),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", ID_TYPE, primary_key=True),
    _source(),
    Column("stream", String(), nullable=False),
    Column("status", String(), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("pulled", BigInteger(), nullable=False, server_default="0"),
    Column("loaded", BigInteger(), nullable=False, server_default="0"),
    Column("rejected", BigInteger(), nullable=False, server_default="0"),
    Column("cursor_before", Text()),
    Column("cursor_after", Text()),
    Column("error", Text()),
    Column("host", String(), nullable=False, server_default=""),
    Column("pid", Integer()),
    CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),
    CheckConstraint("pulled >= 0 AND loaded >= 0 AND rejected >= 0", name="counts"),
    # A run is finished exactly when it is no longer running.
    CheckConstraint(
        "(status = 'running' AND finished_at IS NULL)"
        " OR (status <> 'running' AND finished_at IS NOT NULL)",
        name="finished",
    ),
    Index("ix_sync_runs_source_stream_started_at", "source", "stream", "started_at"),
    sqlite_autoincrement=True,
)

cursors = Table(
    "cursors",
    metadata,
    _source(primary_key=True),
    Column("stream", String(), primary_key=True),
    Column("cursor", Text(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    _run_id(),
)

# A snapshot is written in batches under its own id while the old one stays
# current; `current_snapshots` then switches in one short transaction, so a
# reader never sees half a snapshot and a crash leaves garbage, not damage.
stock_snapshots = Table(
    "stock_snapshots",
    metadata,
    Column("id", ID_TYPE, primary_key=True),
    _source(),
    _optional("scope"),
    _run_id(),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime()),
    Column("row_count", BigInteger()),
    Index(
        "ix_stock_snapshots_source_scope_started_at", "source", "scope", "started_at"
    ),
    sqlite_autoincrement=True,
)

current_snapshots = Table(
    "current_snapshots",
    metadata,
    _source(primary_key=True),
    _optional("scope", primary_key=True),
    # No cascade: the current snapshot cannot be deleted from under readers.
    Column("snapshot_id", ID_TYPE, ForeignKey("stock_snapshots.id"), nullable=False),
    Column("switched_at", UtcDateTime(), nullable=False),
)

# One row per key within a snapshot: a loader meeting a key twice must sum
# or reject, never store two rows that a reader would double-count.
stock_lines = Table(
    "stock_lines",
    metadata,
    Column(
        "snapshot_id",
        ID_TYPE,
        ForeignKey("stock_snapshots.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    *_stock_key(primary_key=True),
    _optional("special_stock", primary_key=True),
    Column("quantity", Quantity(), nullable=False),
    Column("reserved", Quantity(), nullable=False, server_default="0"),
    Column("unit", String(), nullable=False),
    Column("as_of", UtcDateTime(), nullable=False),
    CheckConstraint(STOCK_STATUS_CHECK, name="status"),
)

# Each switched snapshot's total per key, kept after its lines are dropped,
# so that the ledger check can hold snapshot(t1) - snapshot(t0) against the
# movements in between. `as_of` is the snapshot's time (its latest row's),
# the same on every row of a snapshot. No foreign key to stock_snapshots:
# the history outlives the snapshot rows, which are dropped at the switch.
stock_history = Table(
    "stock_history",
    metadata,
    Column("snapshot_id", ID_TYPE, primary_key=True),
    *_stock_key(primary_key=True),
    _source(),
    _optional("scope"),
    Column("as_of", UtcDateTime(), nullable=False),
    Column("quantity", Quantity(), nullable=False),
    Column("unit", String(), nullable=False),
    CheckConstraint(STOCK_STATUS_CHECK, name="status"),
    Index("ix_stock_history_source_scope_as_of", "source", "scope", "as_of"),
)

# Keyed by the source document line: a replayed or re-read line upserts.
movements = Table(
    "movements",
    metadata,
    _source(primary_key=True),
    Column("document", String(), primary_key=True),
    Column("line", String(), primary_key=True),
    _optional("year", primary_key=True),
    Column("kind", String(), nullable=False),
    *_stock_key(primary_key=False),
    Column("quantity", Quantity(), nullable=False),
    Column("unit", String(), nullable=False),
    Column("original_quantity", Quantity(), nullable=False),
    Column("original_unit", String(), nullable=False),
    Column("posted_at", UtcDateTime(), nullable=False),
    Column("entered_at", UtcDateTime()),
    _optional("reverses"),
    _optional("order_ref"),
    Column("loaded_at", UtcDateTime(), nullable=False),
    _run_id(),
    CheckConstraint(MOVEMENT_KIND_CHECK, name="kind"),
    CheckConstraint(STOCK_STATUS_CHECK, name="status"),
    Index("ix_movements_source_posted_at", "source", "posted_at"),
    Index("ix_movements_material_posted_at", "material", "posted_at"),
)

# `record_key` is the source key of the rejected record when it has one
# (document/line/year), so the overlap re-read of the same bad line can be
# recognised, and a retry can find it.
rejects = Table(
    "rejects",
    metadata,
    Column("id", ID_TYPE, primary_key=True),
    _run_id(nullable=False),
    _source(),
    Column("stream", String(), nullable=False),
    _optional("record_key"),
    Column("raw", Text(), nullable=False),
    Column("reason", Text(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("retry_count", Integer(), nullable=False, server_default="0"),
    Column("retried_at", UtcDateTime()),
    Column("resolved_at", UtcDateTime()),
    Column("resolution", Text()),
    Index("ix_rejects_run_id", "run_id"),
    Index("ix_rejects_source_stream_record_key", "source", "stream", "record_key"),
    sqlite_autoincrement=True,
)

materials = Table(
    "materials",
    metadata,
    _source(primary_key=True),
    Column("material", String(), primary_key=True),
    _optional("name"),
    Column("base_unit", String(), nullable=False),
    Column("batch_managed", Boolean(), nullable=False, server_default=false()),
    Column("safety_stock", Quantity()),
    Column("updated_at", UtcDateTime(), nullable=False),
    _run_id(),
)

locations = Table(
    "locations",
    metadata,
    _source(primary_key=True),
    _required("site", primary_key=True),
    _required("warehouse", primary_key=True),
    _optional("location", primary_key=True),
    _optional("name"),
    Column("line_side", Boolean(), nullable=False, server_default=false()),
    Column("updated_at", UtcDateTime(), nullable=False),
    _run_id(),
)

# 1 `unit` of `material` = numerator/denominator `base_unit`: a rational
# factor, so conversions stay exact (1 box = 24 pieces, 1 piece = 1/24 box).
# Material '' is a conversion the source applies to all its materials.
unit_conversions = Table(
    "unit_conversions",
    metadata,
    _source(primary_key=True),
    _optional("material", primary_key=True),
    Column("unit", String(), primary_key=True),
    Column("base_unit", String(), nullable=False),
    Column("numerator", BigInteger(), nullable=False),
    Column("denominator", BigInteger(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    _run_id(),
    CheckConstraint("numerator > 0 AND denominator > 0", name="factor"),
)

# The published table. `source_values` holds each source's figure and
# freshness as JSON; `rule` names the policy rule that chose `quantity`.
# `location` is '' where the policy consolidates per warehouse.
# `available` is the row's own (unrestricted - reserved). The planner figures
# are per material and site, the level planners plan at, repeated on each of
# its rows: `safety_stock`, `consumption_per_day` (net issues over the
# configured window, per day), `days_of_cover` (the site's available over
# that consumption, a multiple of 0.1 day) and `stockout_at` (the site's
# latest as_of plus the cover). See `stockbridge.store.planner_figures`.
consolidated_stock = Table(
    "consolidated_stock",
    metadata,
    *_stock_key(primary_key=True),
    Column("quantity", Quantity(), nullable=False),
    Column("unit", String(), nullable=False),
    Column("reserved", Quantity(), nullable=False, server_default="0"),
    Column("available", Quantity(), nullable=False),
    Column("safety_stock", Quantity()),
    Column("days_of_cover", Quantity()),
    Column("consumption_per_day", Quantity()),
    Column("stockout_at", UtcDateTime()),
    Column("chosen_source", String()),
    _optional("rule"),
    Column("source_values", Text(), nullable=False),
    Column("conflict", Boolean(), nullable=False, server_default=false()),
    Column("single_source", Boolean(), nullable=False, server_default=false()),
    Column("as_of", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint(STOCK_STATUS_CHECK, name="status"),
    # The web's filters: each leads with what it filters on and continues in
    # the page's key order, so a page and its count read one index range.
    Index(
        "ix_consolidated_stock_site",
        "site", "material", "warehouse", "location", "batch", "status",
    ),
    Index(
        "ix_consolidated_stock_site_warehouse",
        "site", "warehouse", "material", "location", "batch", "status",
    ),
    Index(
        "ix_consolidated_stock_status",
        "status", "material", "site", "warehouse", "location", "batch",
    ),
    # Conflicts are few: partial indexes, with the predicate exactly as
    # `StockFilter(conflicts_only=True)` renders it, so that planners use them.
    Index(
        "ix_consolidated_stock_conflicts",
        "material", "site", "warehouse", "location", "batch", "status",
        sqlite_where=text("conflict IS 1"),
        postgresql_where=text("conflict IS true"),
    ),
    Index(
        "ix_consolidated_stock_site_conflicts",
        "site", "material", "warehouse", "location", "batch", "status",
        sqlite_where=text("conflict IS 1"),
        postgresql_where=text("conflict IS true"),
    ),
)  # fmt: skip

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", ID_TYPE, primary_key=True),
    *_stock_key(primary_key=False),
    Column("source_values", Text(), nullable=False),
    Column("difference", Quantity(), nullable=False),
    Column("evidence", Text()),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime()),
    CheckConstraint(STOCK_STATUS_CHECK, name="status"),
    # At most one open conflict per key; resolved ones are history.
    Index(
        "uq_conflicts_open_key",
        "material",
        "site",
        "warehouse",
        "location",
        "batch",
        "status",
        unique=True,
        sqlite_where=text("resolved_at IS NULL"),
        postgresql_where=text("resolved_at IS NULL"),
    ),
    sqlite_autoincrement=True,
)

alert_state = Table(
    "alert_state",
    metadata,
    Column("dedup_key", String(), primary_key=True),
    Column("rule", String(), nullable=False),
    Column("status", String(), nullable=False),
    Column("fired_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("last_notified_at", UtcDateTime()),
    Column("resolved_at", UtcDateTime()),
    Column("detail", Text(), nullable=False),
    CheckConstraint(_one_of("status", ALERT_STATUSES), name="status"),
)

alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", ID_TYPE, primary_key=True),
    Column("channel", String(), nullable=False),
    Column("dedup_key", String(), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("status", String(), nullable=False, server_default="queued"),
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("last_error", Text()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_attempt_at", UtcDateTime()),
    Column("sent_at", UtcDateTime()),
    CheckConstraint(_one_of("status", OUTBOX_STATUSES), name="status"),
    Index("ix_alert_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    sqlite_autoincrement=True,
)

# One row per delivery attempt of an outbox message, whatever its outcome:
# the history `alerts list` shows, and what the per-channel rate limiter
# counts, so every worker sharing the store keeps a chat tool's limit.
alert_attempts = Table(
    "alert_attempts",
    metadata,
    Column("id", ID_TYPE, primary_key=True),
    Column(
        "outbox_id",
        ID_TYPE,
        ForeignKey("alert_outbox.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("channel", String(), nullable=False),
    Column("attempted_at", UtcDateTime(), nullable=False),
    Column("outcome", String(), nullable=False),
    Column("detail", Text()),
    CheckConstraint(_one_of("outcome", ATTEMPT_OUTCOMES), name="outcome"),
    Index("ix_alert_attempts_channel_attempted_at", "channel", "attempted_at"),
    Index("ix_alert_attempts_outbox_id", "outbox_id"),
    sqlite_autoincrement=True,
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ID_TYPE, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(), nullable=False),
    Column("action", String(), nullable=False),
    _optional("target"),
    Column("detail", Text()),
    Column("remote_addr", String()),
    Index("ix_audit_log_at", "at"),
    sqlite_autoincrement=True,
)

# The last successful push to each sink: what was sent (`content_hash`) and
# the link its idempotency keys were derived from (`link_hash`), so that a
# repeated push of unchanged content sends nothing, and a retried one reuses
# the batch ids and bill numbers the target has already seen.
sink_state = Table(
    "sink_state",
    metadata,
    Column("sink", String(), primary_key=True),
    Column("kind", String(), nullable=False),
    Column("content_hash", String(), nullable=False),
    _optional("link_hash"),
    Column("rows", BigInteger(), nullable=False),
    Column("pushed_at", UtcDateTime(), nullable=False),
    Column("detail", Text()),
    CheckConstraint("rows >= 0", name="rows"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(), primary_key=True),
    Column("holder", String(), nullable=False),
    Column("acquired_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", ID_TYPE, primary_key=True),
    _optional("name"),
    Column("token_hash", String(), nullable=False, unique=True),
    Column("role", String(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
    sqlite_autoincrement=True,
)
