"""console: staff, sessions, login attempts, notes, canned replies, inbox indexes, transcript search

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = db.models.UTCDateTime(timezone=True)

# SQLite: an external-content FTS5 index over the folded text, kept in sync by triggers. Only
# changes of norm_text touch it, so delivery updating a message's status costs nothing here.
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5(norm_text, content='messages', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='3')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.norm_text IS NOT NULL BEGIN "
    "INSERT INTO messages_fts(rowid, norm_text) VALUES (new.id, new.norm_text); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.norm_text IS NOT NULL BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, norm_text) VALUES ('delete', old.id, old.norm_text); END",
    "CREATE TRIGGER messages_fts_update_old AFTER UPDATE OF norm_text ON messages "
    "WHEN old.norm_text IS NOT NULL BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, norm_text) VALUES ('delete', old.id, old.norm_text); END",
    "CREATE TRIGGER messages_fts_update_new AFTER UPDATE OF norm_text ON messages "
    "WHEN new.norm_text IS NOT NULL BEGIN "
    "INSERT INTO messages_fts(rowid, norm_text) VALUES (new.id, new.norm_text); END",
    "INSERT INTO messages_fts(rowid, norm_text) SELECT id, norm_text FROM messages WHERE norm_text IS NOT NULL",
)
POSTGRES_SEARCH = (
    "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple', regexp_replace(coalesce(norm_text, ''), '[^[:alnum:]]+', ' ', 'g'))) STORED",
    "CREATE INDEX ix_messages_norm_fts ON messages USING gin (search_vector)",
)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("municipalities", sa.JSON(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("password_changed_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("name", name=op.f("uq_staff_users_name")),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", Id, nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("last_seen_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_sessions_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    op.create_index(op.f("ix_staff_sessions_staff_id"), "staff_sessions", ["staff_id"], unique=False)
    op.create_table(
        "login_attempts",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index("ix_login_attempts_name_at", "login_attempts", ["name", "at"], unique=False)
    op.create_index("ix_login_attempts_address_at", "login_attempts", ["address", "at"], unique=False)
    op.create_table(
        "notes",
        sa.Column("id", Id, nullable=False),
        sa.Column("conversation_id", Id, nullable=False),
        sa.Column("author_id", Id, nullable=True),
        sa.Column("author_name", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["staff_users.id"],
            name=op.f("fk_notes_author_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_notes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(op.f("ix_notes_conversation_id"), "notes", ["conversation_id"], unique=False)
    op.create_table(
        "canned_replies",
        sa.Column("id", Id, nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("text_sq", sa.Text(), nullable=False),
        sa.Column("text_sr", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
    )
    op.create_index("ix_conversations_last_message_at", "conversations", ["last_message_at"])
    op.create_index("ix_conversations_updated_at", "conversations", ["updated_at"])
    op.create_index("ix_conversations_needs_human", "conversations", ["needs_human", "last_message_at"])
    op.create_index("ix_conversations_urgent", "conversations", ["urgent", "last_message_at"])
    op.create_index("ix_conversations_mode", "conversations", ["mode", "last_message_at"])
    op.create_index("ix_conversations_assignee", "conversations", ["assignee_id", "last_message_at"])
    op.create_index("ix_beneficiaries_municipality", "beneficiaries", ["municipality", "id"])
    op.create_index("ix_beneficiaries_locale", "beneficiaries", ["locale"])
    for statement in SQLITE_SEARCH if op.get_bind().dialect.name == "sqlite" else POSTGRES_SEARCH:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update_old", "update_new"):
            op.execute(f"DROP TRIGGER IF EXISTS messages_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS messages_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_messages_norm_fts")
        op.execute("ALTER TABLE messages DROP COLUMN IF EXISTS search_vector")
    for index, table in (
        ("ix_beneficiaries_locale", "beneficiaries"),
        ("ix_beneficiaries_municipality", "beneficiaries"),
        ("ix_conversations_assignee", "conversations"),
        ("ix_conversations_mode", "conversations"),
        ("ix_conversations_urgent", "conversations"),
        ("ix_conversations_needs_human", "conversations"),
        ("ix_conversations_last_message_at", "conversations"),
        ("ix_conversations_updated_at", "conversations"),
    ):
        op.drop_index(index, table_name=table)
    op.drop_table("canned_replies")
    op.drop_index(op.f("ix_notes_conversation_id"), table_name="notes")
    op.drop_table("notes")
    op.drop_index("ix_login_attempts_address_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_name_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_index(op.f("ix_staff_sessions_staff_id"), table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")
