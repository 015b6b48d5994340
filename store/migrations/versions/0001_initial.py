"""Initial schema: every table of the central store.

Revision ID: 0001
Revises: (none)

Written out in full rather than imported from `stockbridge.store.schema`: a
revision is a record of what was created, and must not change when the
schema module moves on. Quantities are BIGINT micro-units and times are
TIMESTAMP WITH TIME ZONE (text in UTC on SQLite), as `stockbridge.store.types`
reads and writes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
QUANTITY = sa.BigInteger()
TIME = sa.DateTime(timezone=True)
STOCK_STATUS_CHECK = (
    "status IN ('unrestricted', 'quality_inspection', 'blocked', 'in_transit', "
    "'restricted')"
)
MOVEMENT_KIND_CHECK = (
    "kind IN ('receipt', 'issue', 'production_issue', 'production_receipt', "
    "'sales_issue', 'transfer', 'adjustment', 'scrap', 'return', 'reversal')"
)


def upgrade() -> None:
    """Create every table, parents before children."""
    op.create_table(
        "sources",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("first_seen_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sources")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("stream", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("pulled", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("loaded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cursor_before", sa.Text(), nullable=True),
        sa.Column("cursor_after", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("host", sa.String(), server_default="", nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')",
            name=op.f("ck_sync_runs_status"),
        ),
        sa.CheckConstraint(
            "pulled >= 0 AND loaded >= 0 AND rejected >= 0",
            name=op.f("ck_sync_runs_counts"),
        ),
        sa.CheckConstraint(
            "(status = 'running' AND finished_at IS NULL)"
            " OR (status <> 'running' AND finished_at IS NOT NULL)",
            name=op.f("ck_sync_runs_finished"),
        ),
        sa.ForeignKeyConstraint(
            ["source"], ["sources.name"], name=op.f("fk_sync_runs_source_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_sync_runs_source_stream_started_at",
        "sync_runs",
        ["source", "stream", "started_at"],
        unique=False,
    )
    op.create_table(
        "cursors",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("stream", sa.String(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_cursors_run_id_sync_runs")
        ),
        sa.ForeignKeyConstraint(
            ["source"], ["sources.name"], name=op.f("fk_cursors_source_sources")
        ),
        sa.PrimaryKeyConstraint("source", "stream", name=op.f("pk_cursors")),
    )
    op.create_table(
        "stock_snapshots",
        sa.Column("id", ID, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), server_default="", nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("completed_at", TIME, nullable=True),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_stock_snapshots_run_id_sync_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["source"], ["sources.name"], name=op.f("fk_stock_snapshots_source_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_snapshots")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_stock_snapshots_source_scope_started_at",
        "stock_snapshots",
        ["source", "scope", "started_at"],
        unique=False,
    )
    op.create_table(
        "current_snapshots",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), server_default="", nullable=False),
        sa.Column("snapshot_id", ID, nullable=False),
        sa.Column("switched_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["stock_snapshots.id"],
            name=op.f("fk_current_snapshots_snapshot_id_stock_snapshots"),
        ),
        sa.ForeignKeyConstraint(
            ["source"],
            ["sources.name"],
            name=op.f("fk_current_snapshots_source_sources"),
        ),
        sa.PrimaryKeyConstraint("source", "scope", name=op.f("pk_current_snapshots")),
    )
    op.create_table(
        "stock_lines",
        sa.Column("snapshot_id", ID, nullable=False),
        sa.Column("material", sa.String(), nullable=False),
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("warehouse", sa.String(), nullable=False),
        sa.Column("location", sa.String(), server_default="", nullable=False),
        sa.Column("batch", sa.String(), server_default="", nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("special_stock", sa.String(), server_default="", nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("reserved", QUANTITY, server_default="0", nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("as_of", TIME, nullable=False),
        sa.CheckConstraint(STOCK_STATUS_CHECK, name=op.f("ck_stock_lines_status")),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["stock_snapshots.id"],
            name=op.f("fk_stock_lines_snapshot_id_stock_snapshots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "snapshot_id",
            "material",
            "site",
            "warehouse",
            "location",
            "batch",
            "status",
            "special_stock",
            name=op.f("pk_stock_lines"),
        ),
    )
    op.create_table(
        "movements",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("document", sa.String(), nullable=False),
        sa.Column("line", sa.String(), nullable=False),
        sa.Column("year", sa.String(), server_default="", nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("material", sa.String(), nullable=False),
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("warehouse", sa.String(), nullable=False),
        sa.Column("location", sa.String(), server_default="", nullable=False),
        sa.Column("batch", sa.String(), server_default="", nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("original_quantity", QUANTITY, nullable=False),
        sa.Column("original_unit", sa.String(), nullable=False),
        sa.Column("posted_at", TIME, nullable=False),
        sa.Column("entered_at", TIME, nullable=True),
        sa.Column("reverses", sa.String(), server_default="", nullable=False),
        sa.Column("order_ref", sa.String(), server_default="", nullable=False),
        sa.Column("loaded_at", TIME, nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.CheckConstraint(MOVEMENT_KIND_CHECK, name=op.f("ck_movements_kind")),
        sa.CheckConstraint(STOCK_STATUS_CHECK, name=op.f("ck_movements_status")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_movements_run_id_sync_runs")
        ),
        sa.ForeignKeyConstraint(
            ["source"], ["sources.name"], name=op.f("fk_movements_source_sources")
        ),
        sa.PrimaryKeyConstraint(
            "source", "document", "line", "year", name=op.f("pk_movements")
        ),
    )
    op.create_index(
        "ix_movements_material_posted_at",
        "movements",
        ["material", "posted_at"],
        unique=False,
    )
    op.create_index(
        "ix_movements_source_posted_at",
        "movements",
        ["source", "posted_at"],
        unique=False,
    )
    op.create_table(
        "rejects",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("stream", sa.String(), nullable=False),
        sa.Column("record_key", sa.String(), server_default="", nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("retry_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retried_at", TIME, nullable=True),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_rejects_run_id_sync_runs")
        ),
        sa.ForeignKeyConstraint(
            ["source"], ["sources.name"], name=op.f("fk_rejects_source_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejects")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_rejects_run_id", "rejects", ["run_id"], unique=False)
    op.create_index(
        "ix_rejects_source_stream_record_key",
        "rejects",
        ["source", "stream", "record_key"],
        unique=False,
    )
    op.create_table(
        "materials",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("material", sa.String(), nullable=False),
        sa.Column("name", sa.String(), server_default="", nullable=False),
        sa.Column("base_unit", sa.String(), nullable=False),
        sa.Column(
            "batch_managed", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("safety_stock", QUANTITY, nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_materials_run_id_sync_runs")
        ),
        sa.ForeignKeyConstraint(
            ["source"], ["sources.name"], name=op.f("fk_materials_source_sources")
        ),
        sa.PrimaryKeyConstraint("source", "material", name=op.f("pk_materials")),
    )
    op.create_table(
        "locations",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("warehouse", sa.String(), nullable=False),
        sa.Column("location", sa.String(), server_default="", nullable=False),
        sa.Column("name", sa.String(), server_default="", nullable=False),
        sa.Column("line_side", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_locations_run_id_sync_runs")
        ),
        sa.ForeignKeyConstraint(
            ["source"], ["sources.name"], name=op.f("fk_locations_source_sources")
        ),
        sa.PrimaryKeyConstraint(
            "source", "site", "warehouse", "location", name=op.f("pk_locations")
        ),
    )
    op.create_table(
        "unit_conversions",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("material", sa.String(), server_default="", nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("base_unit", sa.String(), nullable=False),
        sa.Column("numerator", sa.BigInteger(), nullable=False),
        sa.Column("denominator", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("run_id", ID, nullable=True),
        sa.CheckConstraint(
            "numerator > 0 AND denominator > 0", name=op.f("ck_unit_conversions_factor")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_unit_conversions_run_id_sync_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["source"],
            ["sources.name"],
            name=op.f("fk_unit_conversions_source_sources"),
        ),
        sa.PrimaryKeyConstraint(
            "source", "material", "unit", name=op.f("pk_unit_conversions")
        ),
    )
    op.create_table(
        "consolidated_stock",
        sa.Column("material", sa.String(), nullable=False),
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("warehouse", sa.String(), nullable=False),
        sa.Column("location", sa.String(), server_default="", nullable=False),
        sa.Column("batch", sa.String(), server_default="", nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("reserved", QUANTITY, server_default="0", nullable=False),
        sa.Column("available", QUANTITY, nullable=False),
        sa.Column("safety_stock", QUANTITY, nullable=True),
        sa.Column("days_of_cover", QUANTITY, nullable=True),
        sa.Column("chosen_source", sa.String(), nullable=True),
        sa.Column("rule", sa.String(), server_default="", nullable=False),
        sa.Column("source_values", sa.Text(), nullable=False),
        sa.Column("conflict", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "single_source", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("as_of", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.CheckConstraint(
            STOCK_STATUS_CHECK, name=op.f("ck_consolidated_stock_status")
        ),
        sa.PrimaryKeyConstraint(
            "material",
            "site",
            "warehouse",
            "location",
            "batch",
            "status",
            name=op.f("pk_consolidated_stock"),
        ),
    )
    op.create_table(
        "conflicts",
        sa.Column("id", ID, nullable=False),
        sa.Column("material", sa.String(), nullable=False),
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("warehouse", sa.String(), nullable=False),
        sa.Column("location", sa.String(), server_default="", nullable=False),
        sa.Column("batch", sa.String(), server_default="", nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("source_values", sa.Text(), nullable=False),
        sa.Column("difference", QUANTITY, nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("first_seen_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.CheckConstraint(STOCK_STATUS_CHECK, name=op.f("ck_conflicts_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "uq_conflicts_open_key",
        "conflicts",
        ["material", "site", "warehouse", "location", "batch", "status"],
        unique=True,
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    op.create_table(
        "alert_state",
        sa.Column("dedup_key", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("fired_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("last_notified_at", TIME, nullable=True),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('firing', 'resolved')", name=op.f("ck_alert_state_status")
        ),
        sa.PrimaryKeyConstraint("dedup_key", name=op.f("pk_alert_state")),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("dedup_key", sa.String(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=True),
        sa.Column("sent_at", TIME, nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed')",
            name=op.f("ck_alert_outbox_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_alert_outbox_status_next_attempt_at",
        "alert_outbox",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "audit_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), server_default="", nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("remote_addr", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_table(
        "leases",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("acquired_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(), server_default="", nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_used_at", TIME, nullable=True),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    """Drop every table, children before parents."""
    op.drop_table("api_tokens")
    op.drop_table("leases")
    op.drop_table("audit_log")
    op.drop_table("alert_outbox")
    op.drop_table("alert_state")
    op.drop_table("conflicts")
    op.drop_table("consolidated_stock")
    op.drop_table("unit_conversions")
    op.drop_table("locations")
    op.drop_table("materials")
    op.drop_table("rejects")
    op.drop_table("movements")
    op.drop_table("stock_lines")
    op.drop_table("current_snapshots")
    op.drop_table("stock_snapshots")
    op.drop_table("cursors")
    op.drop_table("sync_runs")
    op.drop_table("sources")
