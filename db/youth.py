"""Youth programme tables: programmes, their cohorts, sign-ups (enrolments) and announcements to a cohort.

A programme holds the rules (age range, how long an offered place waits for an answer); a cohort
is one group with a start date, a municipality (or any) and a number of places. An enrolment is one
young person's sign-up: their place, waiting-list turn or open offer, and their guardian's consent.
The answers themselves stay in the questionnaire submission the enrolment points to.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.encryption import EncryptedText
from db.models import Base, Id


class Programme(Base):
    """A youth programme as coordinators set it up; names in Albanian and Serbian (Cyrillic)."""

    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_sq: Mapped[str] = mapped_column(String(200))
    name_sr: Mapped[str] = mapped_column(String(200))
    min_age: Mapped[int] = mapped_column(Integer, default=15)
    max_age: Mapped[int] = mapped_column(Integer, default=24)
    offer_hours: Mapped[int] = mapped_column(Integer, default=48)  # how long a freed place waits for a yes
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Cohort(Base):
    """One group of a programme: where (a municipality id, or None for any), when, and how many places."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    name_sq: Mapped[str] = mapped_column(String(200))
    name_sr: Mapped[str] = mapped_column(String(200))
    municipality: Mapped[str | None] = mapped_column(String(32))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class Enrolment(Base):
    """One sign-up.

    status: draft (answering the form) · choosing (form done, picking a cohort) · confirmed ·
    pending_guardian (place held until a parent or guardian consents) · waiting · offered (a freed
    place, until `offer_expires_at`) · interested (no cohort in their area yet) · cancelled ·
    lapsed (an offer expired) · duplicate (same name and date of birth as an active sign-up).
    guardian_state: not_needed · pending · confirmed · refused. The one-time link for the
    guardian is stored only as a hash, and cleared once used.
    """

    __tablename__ = "enrolments"
    __table_args__ = (Index("ix_enrolments_cohort_status", "cohort_id", "status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id", ondelete="SET NULL"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(64))
    # Names and the guardian's phone are encrypted at rest, like the answers in the submission.
    full_name: Mapped[str | None] = mapped_column(EncryptedText)
    birth_date: Mapped[date | None] = mapped_column(Date)
    municipality: Mapped[str | None] = mapped_column(String(32))
    media_consent: Mapped[bool | None] = mapped_column(Boolean)
    guardian_state: Mapped[str] = mapped_column(String(12), default="not_needed")
    guardian_name: Mapped[str | None] = mapped_column(EncryptedText)
    guardian_contact: Mapped[str | None] = mapped_column(EncryptedText)
    guardian_confirmed_at: Mapped[datetime | None]
    guardian_confirmed_by: Mapped[str | None] = mapped_column(String(80))  # telegram | staff:<name>
    guardian_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    guardian_token_expires_at: Mapped[datetime | None]
    guardian_claimed_by: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id", ondelete="SET NULL"))
    waiting_since: Mapped[datetime | None]
    offer_expires_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(24))  # person | guardian_refused | offer_declined
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CohortAnnouncement(Base):
    """A message a coordinator sent to a cohort, with how many it reached and how many were skipped."""

    __tablename__ = "cohort_announcements"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    text_sq: Mapped[str] = mapped_column(Text)
    text_sr: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(80))
    queued: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


__all__ = ["Cohort", "CohortAnnouncement", "Enrolment", "Programme"]
