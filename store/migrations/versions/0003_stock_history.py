"""Snapshot history: each switched snapshot's total per key, for the ledger check.

Revision ID: 0003
Revises: 0002

Written out in full, like 0001: a revision records what it created.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
QUANTITY = sa.BigInteger()
TIME = sa.DateTime(timezone=True)
STOCK_STATUS_CHECK = (
    "status IN ('unrestricted', 'quality_inspection', 'blocked', 'in_transit', "
    "'restricted')"
)


def upgrade() -> None:
    """Create `stock_history`."""
    op.create_table(
        "stock_history",
        sa.Column("snapshot_id", ID, nullable=False),
        sa.Column("material", sa.String(), nullable=False),
        sa.Column("site", sa.String(), nullable=False),
        sa.Column("warehouse", sa.String(), nullable=False),
        sa.Column("location", sa.String(), server_default="", nullable=False),
        sa.Column("batch", sa.String(), server_default="", nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), server_default="", nullable=False),
        sa.Column("as_of", TIME, nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.CheckConstraint(STOCK_STATUS_CHECK, name=op.f("ck_stock_history_status")),
        sa.ForeignKeyConstraint(
            ["source"], ["sources.name"], name=op.f("fk_stock_history_source_sources")
        ),
        sa.PrimaryKeyConstraint(
            "snapshot_id",
            "material",
            "site",
            "warehouse",
            "location",
            "batch",
            "status",
            name=op.f("pk_stock_history"),
        ),
    )
    op.create_index(
        "ix_stock_history_source_scope_as_of",
        "stock_history",
        ["source", "scope", "as_of"],
        unique=False,
    )


def downgrade() -> None:
    """Drop `stock_history`."""
    op.drop_index("ix_stock_history_source_scope_as_of", table_name="stock_history")
    op.drop_table("stock_history")
