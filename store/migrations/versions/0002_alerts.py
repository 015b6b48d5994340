"""Alert delivery attempts: the history of each outbox message, and rate limits.

Revision ID: 0002
Revises: 0001

Written out in full, like 0001: a revision records what it created.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create `alert_attempts`."""
    op.create_table(
        "alert_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("outbox_id", ID, nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("attempted_at", TIME, nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('sent', 'retry', 'throttled', 'failed')",
            name=op.f("ck_alert_attempts_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["alert_outbox.id"],
            name=op.f("fk_alert_attempts_outbox_id_alert_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_attempts")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_alert_attempts_channel_attempted_at",
        "alert_attempts",
        ["channel", "attempted_at"],
        unique=False,
    )
    op.create_index(
        "ix_alert_attempts_outbox_id", "alert_attempts", ["outbox_id"], unique=False
    )


def downgrade() -> None:
    """Drop `alert_attempts`."""
    op.drop_index("ix_alert_attempts_outbox_id", table_name="alert_attempts")
    op.drop_index("ix_alert_attempts_channel_attempted_at", table_name="alert_attempts")
    op.drop_table("alert_attempts")
