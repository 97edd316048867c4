"""conversation status: pending and snoozed beside open and closed; whose turn it is in automatic assignment

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

When = db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=8), nullable=False, server_default="open"))
        batch_op.add_column(sa.Column("snoozed_until", When, nullable=True))
        batch_op.create_index(batch_op.f("ix_conversations_snoozed_until"), ["snoozed_until"], unique=False)
    op.create_table(
        "assignment_turns",
        sa.Column("pool", sa.String(length=48), nullable=False),
        sa.Column("last_staff_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("pool", name=op.f("pk_assignment_turns")),
    )


def downgrade() -> None:
    op.drop_table("assignment_turns")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_snoozed_until"))
        batch_op.drop_column("snoozed_until")
        batch_op.drop_column("status")
