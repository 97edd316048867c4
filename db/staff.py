"""Console tables: staff accounts and their sessions, login attempts, notes and canned replies.

Also the inbox indexes on conversations and beneficiaries: the console is what reads those
tables by filter and recency, so the indexes that serve it are declared here, next to it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, Beneficiary, Conversation, Id

ROLES = ("admin", "caseworker", "youth_coordinator", "viewer")


class StaffUser(Base):
    """A console account; `municipalities` limits a caseworker to people living there (empty: all)."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))  # admin | caseworker | youth_coordinator | viewer
    municipalities: Mapped[list[str]] = mapped_column(JSON, default=list)
    locale: Mapped[str | None] = mapped_column(String(8))  # interface language; None until chosen
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]


class StaffSession(Base):
    """A signed-in browser; only a hash of the cookie's token is stored, so a leaked row opens nothing."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie token
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class LoginAttempt(Base):
    """One try to sign in, kept to slow down password guessing per name and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_name_at", "name", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]


class Note(Base):
    """A caseworker's private note on a conversation; never sent to the person."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class CannedReply(Base):
    """A prepared answer in Albanian and Serbian (written in Cyrillic; the Latin script is derived)."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    text_sq: Mapped[str] = mapped_column(Text)
    text_sr: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    position: Mapped[int] = mapped_column(Integer, default=0)


class AssignmentTurn(Base):
    """Whose turn it is in one pool of automatic assignment: the last caseworker given a hand-off there.

    Kept in the database, so that every process that runs turns follows one rotation.
    """

    __tablename__ = "assignment_turns"

    pool: Mapped[str] = mapped_column(String(48), primary_key=True)  # "municipality:<id>" or "all"
    last_staff_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


# The inbox reads conversations newest first, narrowed by one filter at a time. Each filter's index
# also carries what the filters test and the person's id, so that counting a filter reads the index
# alone (migration 0020).
_conversations = Conversation.__table__.c
_people = Beneficiary.__table__.c
_inbox = (_conversations.last_message_at,)
Index("ix_conversations_last_message_at", _conversations.last_message_at)
Index("ix_conversations_updated_at", _conversations.updated_at)  # what live pages watch
Index(
    "ix_conversations_needs_human",
    _conversations.needs_human,
    *_inbox,
    _conversations.status,
    _conversations.urgent,
    _conversations.beneficiary_id,
)
Index("ix_conversations_urgent", _conversations.urgent, *_inbox, _conversations.beneficiary_id)
Index("ix_conversations_mode", _conversations.mode, *_inbox, _conversations.beneficiary_id)
Index(
    "ix_conversations_assignee",
    _conversations.assignee_id,
    *_inbox,
    _conversations.mode,
    _conversations.status,
    _conversations.urgent,
    _conversations.beneficiary_id,
)
Index(
    "ix_conversations_status",  # open, pending, snoozed
    _conversations.status,
    *_inbox,
    _conversations.mode,
    _conversations.urgent,
    _conversations.beneficiary_id,
)
Index(
    "ix_beneficiaries_municipality", _people.municipality, _people.id, _people.channel, _people.consent, _people.locale
)
Index("ix_beneficiaries_locale", _people.locale)
Index("ix_beneficiaries_channel", _people.channel, _people.consent)  # one app; web visitors yet to consent
# What narrows the inbox, by person: checked row by row while a filter's index is read, from a small index.
Index("ix_beneficiaries_inbox", _people.id, _people.channel, _people.consent, _people.locale, _people.municipality)

__all__ = ["ROLES", "AssignmentTurn", "CannedReply", "LoginAttempt", "Note", "StaffSession", "StaffUser"]
