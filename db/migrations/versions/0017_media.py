"""media: photos, voice messages and documents people sent, kept encrypted

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.encryption
import db.models

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", Id, nullable=False),
        sa.Column("conversation_id", Id, nullable=False),
        sa.Column("message_id", Id, nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("file_ref", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("file_name", sa.String(length=128), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("content", db.encryption.EncryptedBytes(), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_media_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_media_message_id_messages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("channel", "file_ref", name="uq_media_channel_file_ref"),
        sa.UniqueConstraint("message_id", name=op.f("uq_media_message_id")),
    )
    op.create_index(op.f("ix_media_conversation_id"), "media", ["conversation_id"], unique=False)
    op.create_index(op.f("ix_media_created_at"), "media", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_media_created_at"), table_name="media")
    op.drop_index(op.f("ix_media_conversation_id"), table_name="media")
    op.drop_table("media")
