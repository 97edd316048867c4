"""The tables: people, their conversations and transcripts, the raw inbox and the outbox.

Naming follows the field: a *beneficiary* is a person the mission serves, a *conversation* is
their thread with the mission, a *message* is one line of the transcript.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from db.encryption import EncryptedBytes, EncryptedJSON

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value.tzinfo is not UTC:  # the clock's own: already UTC
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, straight to the text SQLite keeps (`YYYY-MM-DD HH:MM:SS.ffffff`, as SQLAlchemy's
        own DATETIME writes it), in one step: a turn and each recorded send write several."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # A row often carries one moment in several columns (an outbox row's created_at and
        # next_attempt_at, a conversation's updated_at and last_message_at): the last one written is
        # kept with its text, not formatted again.
        last: tuple[datetime | None, str | None] = (None, None)

        def process(value: datetime | None) -> str | None:
            nonlocal last
            if value is None:
                return None
            seen, written = last
            if value is seen:
                return written
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            utc = value if value.tzinfo is UTC else value.astimezone(UTC)
            written = utc.replace(tzinfo=None).isoformat(" ", "microseconds")
            last = (value, written)
            return written

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite wants INTEGER PRIMARY KEY for autoincrement; PostgreSQL gets BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime()}


class Beneficiary(Base):
    """A person the mission serves, on one channel.

    `channel_ref` is a keyed hash of the channel identity, so a person who declined consent can
    be recognised (and left alone) without keeping who they are. `channel_user_id` and `chat_id`
    are kept only while consent is pending or given.
    """

    __tablename__ = "beneficiaries"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_ref: Mapped[str] = mapped_column(String(64), unique=True)
    channel_user_id: Mapped[str | None] = mapped_column(String(64))
    chat_id: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(256))
    locale: Mapped[str | None] = mapped_column(String(8))
    consent: Mapped[str] = mapped_column(String(12), default="pending")  # pending | given | declined
    consent_version: Mapped[int | None] = mapped_column(Integer)
    consent_at: Mapped[datetime | None]
    consent_locale: Mapped[str | None] = mapped_column(String(8))
    municipality: Mapped[str | None] = mapped_column(String(32))
    return_date: Mapped[date | None] = mapped_column(Date)
    followup_consent: Mapped[bool | None] = mapped_column(Boolean)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_contact_at: Mapped[datetime | None]

    conversation: Mapped[Conversation | None] = relationship(back_populates="beneficiary", uselist=False)


class LinkedIdentity(Base):
    """Another app a person linked to their record: the same person, transcript and consents.

    The beneficiary's own `channel` and `chat_id` are the app they wrote from last (where follow-ups
    and caseworkers' replies go); this row recognises them when they write from a linked app.
    """

    __tablename__ = "linked_identities"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_ref: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class LinkCode(Base):
    """A short one-time code that links the app it is typed in to the person who asked for it."""

    __tablename__ = "link_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]


class Conversation(Base):
    """The thread between a beneficiary and the mission: who owns it, and where the bot is in it."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"), unique=True)
    mode: Mapped[str] = mapped_column(String(8), default="bot")  # bot | human | closed
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_human: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_message_at: Mapped[datetime | None]
    handoff_at: Mapped[datetime | None] = mapped_column(index=True)  # when the person last began to wait
    # open | pending (waiting on the person or another party) | snoozed (hidden until `snoozed_until`);
    # a closed conversation is closed by its mode, whatever this says (see `bot.ownership.status_of`).
    status: Mapped[str] = mapped_column(String(8), default="open")
    snoozed_until: Mapped[datetime | None] = mapped_column(index=True)

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="conversation")

    @classmethod
    def opened(cls, beneficiary_id: int, now: datetime) -> Conversation:
        """A new conversation with the bot, nothing in it yet."""
        return cls(
            beneficiary_id=beneficiary_id,
            mode="bot",
            state={},
            urgent=False,
            needs_human=False,
            labels=[],
            status="open",
            created_at=now,
            updated_at=now,
        )


class Handoff(Base):
    """One wait for a caseworker: when it began, when a caseworker first answered, when it ended.

    Kept for reports (first-response and resolution times); it holds no words of the person.
    """

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    requested_at: Mapped[datetime] = mapped_column(index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    first_response_at: Mapped[datetime | None]
    first_response_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(12))  # returned | closed


class ConversationRead(Base):
    """How far a staff member has read a conversation: what is newer from the person is unread for them."""

    __tablename__ = "conversation_reads"

    staff_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    last_message_id: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[datetime]


class Message(Base):
    """One line of a transcript, inbound or outbound; append-only except for delivery results."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_channel_message", "conversation_id", "channel_message_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    author: Mapped[str] = mapped_column(String(80))  # person | bot | staff:<name>
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    norm_text: Mapped[str | None] = mapped_column(Text)
    file_id: Mapped[str | None] = mapped_column(String(256))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    channel_message_id: Mapped[str | None] = mapped_column(String(128))  # WhatsApp's ids run to about 60
    channel: Mapped[str | None] = mapped_column(String(16))  # the app it came from or went to
    update_id: Mapped[int | None] = mapped_column(BigInteger)
    edit_of: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))  # received | queued | sent | failed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class InboxUpdate(Base):
    """A raw update as the channel delivered it, stored before the channel is told we have it."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "update_id", name="uq_inbox_channel_update"),
        Index("ix_inbox_pending", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_id: Mapped[int] = mapped_column(BigInteger)
    chat_key: Mapped[str] = mapped_column(String(64))
    raw: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class OutboxItem(Base):
    """One call to make on a channel (send a message, answer a button press), in order per chat."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_open", "status", "chat_id", "id"),
        Index("ix_outbox_due", "status", "lane", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    lane: Mapped[int] = mapped_column(Integer, default=0)  # 0 reply, 1 caseworker, 2 follow-up, 3 announcement
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Messages of this call the platform confirmed (a long text in parts, a text then its buttons): a retry
    # resumes after them, so nobody gets a part twice.
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    message: Mapped[Message | None] = relationship()


class Consent(Base):
    """Every consent answer, kept as proof: purpose, text version, language and time."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # general | followup | youth | media
    version: Mapped[int] = mapped_column(Integer)
    granted: Mapped[bool] = mapped_column(Boolean)
    locale: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]


class GroupNotice(Base):
    """Group chats and channels told once that the bot works in private chats only."""

    __tablename__ = "group_notices"

    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """Who read or changed what, and when; written by the application, never edited by it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


__all__ = [
    "AuditEntry",
    "Base",
    "Beneficiary",
    "Consent",
    "Conversation",
    "FollowupContact",
    "FormVersion",
    "GroupNotice",
    "InboxUpdate",
    "KbQuestion",
    "MediaFile",
    "Message",
    "OutboxItem",
    "Submission",
]


class KbQuestion(Base):
    """A question put to the knowledge base, what it answered, and whether that helped.

    For the content team: unanswered questions and feedback. A person who declined consent is
    counted without a link to them and without their words.
    """

    __tablename__ = "kb_questions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    text: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(10))  # answer | unsure | none | emergency
    topic: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None]
    candidates: Mapped[list[str]] = mapped_column(JSON, default=list)
    helpful: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(index=True)


class FormVersion(Base):
    """A questionnaire as it was when people answered it (content hash), so answers stay interpretable."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "sha256", name="uq_form_versions_form_sha"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    form_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]


class Submission(Base):
    """One person's answers to one questionnaire (e.g. one follow-up wave), in progress or complete."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"))
    form_id: Mapped[str] = mapped_column(String(64))
    wave: Mapped[int | None] = mapped_column(Integer)
    # Answers include health and psychosocial items and free text: encrypted at rest.
    state: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    scores: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    status: Mapped[str] = mapped_column(String(12), default="in_progress")  # in_progress | completed
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class FollowupContact(Base):
    """A planned follow-up contact (a wave) with its status, and the reason when it was skipped."""

    __tablename__ = "followup_contacts"
    __table_args__ = (
        UniqueConstraint("beneficiary_id", "wave", name="uq_followup_contacts_beneficiary_wave"),
        Index("ix_followup_contacts_due", "status", "due_at"),
        Index("ix_followup_contacts_open", "status", "beneficiary_id", "submission_id"),  # the inbox's "follow-up due"
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"))
    wave: Mapped[int] = mapped_column(Integer)
    months: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    reminders: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO times still to remind at
    # planned | sent | answered | skipped | expired
    status: Mapped[str] = mapped_column(String(10), default="planned")
    reason: Mapped[str | None] = mapped_column(String(24))  # opted_out | handoff | answered | blocked | expired
    sent_at: Mapped[datetime | None]
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime]


class ChatFile(Base):
    """A file sent to a web chat visitor (their /mydata), kept encrypted for one download before it expires."""

    __tablename__ = "chat_files"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), index=True)  # the visitor's keyed hash
    file_name: Mapped[str] = mapped_column(String(128))
    content: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class MediaFile(Base):
    """A photo, voice message, audio, video or document a person sent, kept encrypted for caseworkers.

    Fetched from the app through its API when it arrives (an upload of the web chat is kept as it
    comes), so it can be opened after the app forgets it (Viber's addresses expire, Meta keeps
    media 30 days). `status` says what is kept: `stored` (the bytes, encrypted), or why nothing
    is: `expired` (the app no longer had it, or the retention period passed), `failed` (the app
    could not be reached), `too_big` or `refused` (a type that is not kept). `file_ref` is the
    app's name for the file (for an upload of the web chat, the one the message carries); the
    same name may come on several lines (a file sent twice, or forwarded), and each line keeps its own.
    """

    __tablename__ = "media"
    __table_args__ = (Index("ix_media_channel_file_ref", "channel", "file_ref"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True, nullable=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    file_ref: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(10))  # stored | expired | failed | too_big | refused
    media_type: Mapped[str | None] = mapped_column(String(100))
    file_name: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    content: Mapped[bytes | None] = mapped_column(EncryptedBytes)
    created_at: Mapped[datetime] = mapped_column(index=True)
