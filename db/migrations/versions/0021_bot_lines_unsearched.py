"""the bot's own transcript lines leave the search index

Lines written by the bot are no longer searchable (`bot.outbox`): their folded text is cleared,
which takes them out of SQLite's FTS5 index (its update trigger) and out of PostgreSQL's generated
search vector. What a person, a caseworker or a staff member wrote stays searchable; the transcript
itself is unchanged. The lines are cleared a range of ids at a time, and on SQLite the index is then
rewritten without the words it had marked deleted. The downgrade folds the text again.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.text import fold

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

RANGE = 10_000  # ids per UPDATE: one statement over millions of lines would be one long transaction's worth
MESSAGES = sa.table(
    "messages",
    sa.column("id", sa.Integer),
    sa.column("author", sa.String),
    sa.column("text", sa.Text),
    sa.column("norm_text", sa.Text),
)


def upgrade() -> None:
    connection = op.get_bind()
    last = connection.execute(sa.select(sa.func.max(MESSAGES.c.id))).scalar() or 0
    for start in range(0, last, RANGE):
        connection.execute(
            MESSAGES.update()
            .where(
                MESSAGES.c.id > start,
                MESSAGES.c.id <= start + RANGE,
                MESSAGES.c.author == "bot",
                MESSAGES.c.norm_text.is_not(None),
            )
            .values(norm_text=None)
        )
    if connection.dialect.name == "sqlite":
        op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('optimize')")


def downgrade() -> None:
    connection = op.get_bind()
    after = 0
    while True:
        lines = connection.execute(
            sa.select(MESSAGES.c.id, MESSAGES.c.text)
            .where(
                MESSAGES.c.id > after, MESSAGES.c.author == "bot", MESSAGES.c.text.is_not(None), MESSAGES.c.text != ""
            )
            .order_by(MESSAGES.c.id)
            .limit(1000)
        ).all()
        if not lines:
            return
        connection.execute(
            MESSAGES.update().where(MESSAGES.c.id == sa.bindparam("line")).values(norm_text=sa.bindparam("folded")),
            [{"line": line, "folded": fold(text)} for line, text in lines],
        )
        after = lines[-1][0]
