"""broadcast queue: a broadcast is queued in batches in the background, and resumes where it stopped

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Broadcasts sent before this were queued whole, in their request: "queued" already.
    op.add_column("broadcasts", sa.Column("state", sa.String(length=10), nullable=False, server_default="queued"))
    op.add_column("broadcasts", sa.Column("through", Id, nullable=False, server_default="0"))
    op.add_column("broadcasts", sa.Column("upto", Id, nullable=False, server_default="0"))
    op.add_column("broadcasts", sa.Column("progress_at", When, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("progress_at")
        batch.drop_column("upto")
        batch.drop_column("through")
        batch.drop_column("state")
