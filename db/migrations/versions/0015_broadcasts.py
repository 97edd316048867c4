"""broadcasts: a message to a segment of people, and each recipient's line or reason for being skipped

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", Id, nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("text_sq", sa.Text(), nullable=False),
        sa.Column("text_sr", sa.Text(), nullable=False),
        sa.Column("segment", sa.JSON(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
        sa.UniqueConstraint("token", name=op.f("uq_broadcasts_token")),
    )
    op.create_table(
        "broadcast_recipients",
        sa.Column("id", Id, nullable=False),
        sa.Column("broadcast_id", Id, nullable=False),
        sa.Column("beneficiary_id", Id, nullable=True),
        sa.Column("message_id", Id, nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.Column("skipped", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_recipients_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name=op.f("fk_broadcast_recipients_beneficiary_id_beneficiaries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_broadcast_recipients_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_recipients")),
    )
    op.create_index(
        op.f("ix_broadcast_recipients_broadcast_id"), "broadcast_recipients", ["broadcast_id"], unique=False
    )
    op.create_index(
        op.f("ix_broadcast_recipients_beneficiary_id"), "broadcast_recipients", ["beneficiary_id"], unique=False
    )
    op.create_index(op.f("ix_broadcast_recipients_message_id"), "broadcast_recipients", ["message_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_broadcast_recipients_message_id"), table_name="broadcast_recipients")
    op.drop_index(op.f("ix_broadcast_recipients_beneficiary_id"), table_name="broadcast_recipients")
    op.drop_index(op.f("ix_broadcast_recipients_broadcast_id"), table_name="broadcast_recipients")
    op.drop_table("broadcast_recipients")
    op.drop_table("broadcasts")
