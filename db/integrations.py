"""Integration tables: API tokens of other systems, their webhook subscriptions, and each webhook sent.

An *integration* is another system a field team wires to Homeward (a case-management system, an
M&E dashboard). It reads through the REST API with a token whose scopes say what it may read or
do, and it is told of new hand-offs, submissions and sign-ups by signed webhooks. Only a hash of a
token is kept; a webhook's signing secret is kept encrypted, since it must be used again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.encryption import EncryptedText
from db.models import Base, Id


class IntegrationToken(Base):
    """A bearer token of one integration: its scopes, who made it, and whether it still works."""

    __tablename__ = "integration_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebhookSubscription(Base):
    """Where to send which events, and the secret their signatures are made with."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(512))
    secret: Mapped[str] = mapped_column(EncryptedText)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Per event kind, the time of the last event already queued: a new subscription hears what follows it.
    cursors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event for one subscription: sent, waiting for its next try, or given up, with what happened."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_key", name="uq_webhook_deliveries_subscription_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(24))  # handoff | submission | signup
    event_key: Mapped[str] = mapped_column(String(96))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
