"""inbox indexes: each of the inbox's filters reads its own index alone, counts included

The indexes of migration 0002 that lead with a flag (needs a caseworker, urgent, mode, assignee)
now also carry what the other filters test and the person's id, so counting a filter reads its
index without the table; conversations get one by status (pending, snoozed); people one by app and
consent, and a small one with what narrows the inbox (checked row by row while a filter is read);
follow-up invitations one by status and person. People by municipality also carry what else narrows
the inbox.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# name -> (table, columns before, columns after); "before" None: new here.
CHANGED: dict[str, tuple[str, list[str] | None, list[str]]] = {
    "ix_conversations_needs_human": (
        "conversations",
        ["needs_human", "last_message_at"],
        ["needs_human", "last_message_at", "status", "urgent", "beneficiary_id"],
    ),
    "ix_conversations_urgent": (
        "conversations",
        ["urgent", "last_message_at"],
        ["urgent", "last_message_at", "beneficiary_id"],
    ),
    "ix_conversations_mode": (
        "conversations",
        ["mode", "last_message_at"],
        ["mode", "last_message_at", "beneficiary_id"],
    ),
    "ix_conversations_assignee": (
        "conversations",
        ["assignee_id", "last_message_at"],
        ["assignee_id", "last_message_at", "mode", "status", "urgent", "beneficiary_id"],
    ),
    "ix_conversations_status": (
        "conversations",
        None,
        ["status", "last_message_at", "mode", "urgent", "beneficiary_id"],
    ),
    "ix_beneficiaries_municipality": (
        "beneficiaries",
        ["municipality", "id"],
        ["municipality", "id", "channel", "consent", "locale"],
    ),
    "ix_beneficiaries_channel": ("beneficiaries", None, ["channel", "consent"]),
    "ix_beneficiaries_inbox": ("beneficiaries", None, ["id", "channel", "consent", "locale", "municipality"]),
    "ix_followup_contacts_open": ("followup_contacts", None, ["status", "beneficiary_id", "submission_id"]),
}


def upgrade() -> None:
    # Plain index operations, no batch: that would rebuild the tables.
    for name, (table, before, after) in CHANGED.items():
        if before is not None:
            op.drop_index(name, table_name=table)
        op.create_index(name, table, after)


def downgrade() -> None:
    for name, (table, before, _after) in reversed(CHANGED.items()):
        op.drop_index(name, table_name=table)
        if before is not None:
            op.create_index(name, table, before)
