"""Broadcasts: one message from coordinators to a segment of people, and what became of it for each.

A broadcast keeps its texts (Albanian, Serbian Cyrillic), the segment it went to and who sent it.
Each person of the segment has a recipient row: either the reason they were skipped when it was
sent, or the transcript line queued for them, whose delivery status the counts read. An erased
person's line goes with their transcript (the row's `message_id` becomes NULL), and they are
counted as erased.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, Id


class Broadcast(Base):
    """A message sent to a segment (language, municipality, cohort, follow-up status, channel)."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # Given with the preview and sent back with the confirmation: a second press of "send" finds it taken.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    author: Mapped[str] = mapped_column(String(80))
    text_sq: Mapped[str] = mapped_column(Text)
    text_sr: Mapped[str] = mapped_column(Text)  # Cyrillic; Latin readers get it transliterated
    segment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The municipalities the author was limited to when sending (None: every municipality).
    scope: Mapped[list[str] | None] = mapped_column(JSON)
    recipients: Mapped[int] = mapped_column(Integer, default=0)  # people in the segment when it was sent
    created_at: Mapped[datetime]
    # Queued in batches in the background (`bot.broadcasts.Queue`): "queuing" until everyone up to `upto`
    # (the newest person when it was sent) is handled, in the order of their ids; `through` is the last
    # person handled, written in the same transaction as their line, so a restart resumes after them.
    state: Mapped[str] = mapped_column(String(10), default="queued", server_default="queued")
    through: Mapped[int] = mapped_column(Id, default=0, server_default="0")
    upto: Mapped[int] = mapped_column(Id, default=0, server_default="0")
    progress_at: Mapped[datetime | None]  # when the last batch was queued: a queue left this long ago resumes


class BroadcastRecipient(Base):
    """One person of a broadcast's segment: skipped (and why), or the transcript line queued for them."""

    __tablename__ = "broadcast_recipients"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True)
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id", ondelete="SET NULL"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str | None] = mapped_column(String(8))
    skipped: Mapped[str | None] = mapped_column(String(24))  # opted_out | no_consent | blocked | … | None


__all__ = ["Broadcast", "BroadcastRecipient"]
