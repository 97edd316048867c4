"""web chat visitors stored as keyed hashes; files kept for one download

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-06 02:40:00

A web chat visitor id is the only credential to that visitor's transcript. It used to be kept in
clear as the person's channel user id and chat id, in the raw inbox events and in sent outbox
rows; from now on the channel identity is a keyed hash of it. The migration cannot compute that
hash (the secret key is not part of the database), so it removes the clear ids; the person is
still recognised by `channel_ref` (already a keyed hash of the visitor id) and re-keyed the next
time their page is opened.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.encryption
import db.models

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=128), nullable=False),
        sa.Column("content", db.encryption.EncryptedJSON(), nullable=False),
        sa.Column("created_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_files")),
    )
    op.create_index(op.f("ix_chat_files_chat_id"), "chat_files", ["chat_id"], unique=False)
    op.create_index(op.f("ix_chat_files_expires_at"), "chat_files", ["expires_at"], unique=False)
    op.execute(
        "UPDATE beneficiaries SET channel_user_id = NULL, chat_id = NULL "
        "WHERE channel = 'web' AND chat_id IS NOT NULL AND length(chat_id) <> 40"
    )
    op.execute("UPDATE inbox SET raw = NULL WHERE channel = 'web' AND status <> 'pending'")
    op.execute("UPDATE outbox SET chat_id = '' WHERE channel = 'web' AND status <> 'pending'")


def downgrade() -> None:
    op.drop_index(op.f("ix_chat_files_expires_at"), table_name="chat_files")
    op.drop_index(op.f("ix_chat_files_chat_id"), table_name="chat_files")
    op.drop_table("chat_files")
