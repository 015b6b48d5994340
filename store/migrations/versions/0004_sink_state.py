"""Sink state: the last successful push to each sink.

Revision ID: 0004
Revises: 0003

Written out in full, like 0001: a revision records what it created.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create `sink_state`."""
    op.create_table(
        "sink_state",
        sa.Column("sink", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("link_hash", sa.String(), server_default="", nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("pushed_at", TIME, nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint("rows >= 0", name=op.f("ck_sink_state_rows")),
        sa.PrimaryKeyConstraint("sink", name=op.f("pk_sink_state")),
    )


def downgrade() -> None:
    """Drop `sink_state`."""
    op.drop_table("sink_state")
