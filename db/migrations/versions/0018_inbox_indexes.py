"""inbox indexes: conversations by status, newest first; people by the app they write from

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain indexes, no batch operation: that would rebuild the tables (and `messages` keeps triggers).
    op.create_index("ix_conversations_status", "conversations", ["status", "last_message_at"])
    op.create_index("ix_beneficiaries_channel", "beneficiaries", ["channel"])


def downgrade() -> None:
    op.drop_index("ix_beneficiaries_channel", table_name="beneficiaries")
    op.drop_index("ix_conversations_status", table_name="conversations")
