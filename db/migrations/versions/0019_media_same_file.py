"""media: the same file sent on two lines is kept for each line

Telegram names a file by the same id each time it is sent to the bot (sent twice, or forwarded by
two people), so the unique key (channel, file_ref) kept the first line's file and left the second
without one. Each line keeps its own (`message_id` stays unique); (channel, file_ref) becomes an
index for joining a web chat upload to its line.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.drop_constraint("uq_media_channel_file_ref", type_="unique")
        batch.create_index("ix_media_channel_file_ref", ["channel", "file_ref"], unique=False)


def downgrade() -> None:
    # Lines that share a file keep the lowest id's row; the others lose theirs (as before this revision).
    op.execute("DELETE FROM media WHERE id NOT IN (SELECT min(id) FROM media GROUP BY channel, file_ref)")
    with op.batch_alter_table("media") as batch:
        batch.drop_index("ix_media_channel_file_ref")
        batch.create_unique_constraint("uq_media_channel_file_ref", ["channel", "file_ref"])
