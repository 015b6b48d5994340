"""Planner figures: consumption per day and projected stock-out on each row.

Revision ID: 0005
Revises: 0004

`consolidated_stock` already had `days_of_cover` (never filled before this
revision). Both new columns are nullable: a site with no consumption has
neither. The table is rebuilt by every consolidation, so existing rows get
their figures at the next one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

QUANTITY = sa.BigInteger()
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add `consumption_per_day` and `stockout_at` to `consolidated_stock`."""
    with op.batch_alter_table("consolidated_stock") as batch:
        batch.add_column(sa.Column("consumption_per_day", QUANTITY, nullable=True))
        batch.add_column(sa.Column("stockout_at", TIME, nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("consolidated_stock") as batch:
        batch.drop_column("stockout_at")
        batch.drop_column("consumption_per_day")
