"""A person's data: everything kept about them (for /mydata) and erasing it (for /delete and retention).

Capabilities that keep personal data add a *section* (what to show) and an *eraser* (how to
remove it) to a `PersonalData` registry built by the composition root, so neither /mydata nor
erasure can forget a table that a later capability adds.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import LANE_CASEWORKER
from db import erasure
from db.models import (
    AuditEntry,
    Beneficiary,
    Consent,
    Conversation,
    FollowupContact,
    InboxUpdate,
    KbQuestion,
    Message,
    OutboxItem,
    Submission,
)
from db.staff import Note

Section = Callable[[AsyncSession, Beneficiary], Awaitable[tuple[str, Any]]]
Eraser = Callable[[AsyncSession, Beneficiary], Awaitable[None]]


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _profile(session: AsyncSession, person: Beneficiary) -> tuple[str, Any]:
    return "profile", {
        "channel": person.channel,
        "name": person.display_name,
        "language": person.locale,
        "municipality": person.municipality,
        "return_date": person.return_date.isoformat() if person.return_date else None,
        "first_contact": _when(person.created_at),
        "last_contact": _when(person.last_contact_at),
        "source": person.source,
        "follow_up_consent": person.followup_consent,
        "opted_out": person.opted_out,
    }


async def _consents(session: AsyncSession, person: Beneficiary) -> tuple[str, Any]:
    rows = (
        await session.execute(select(Consent).where(Consent.beneficiary_id == person.id).order_by(Consent.id))
    ).scalars()
    return "consents", [
        {
            "purpose": c.purpose,
            "version": c.version,
            "granted": c.granted,
            "language": c.locale,
            "at": _when(c.created_at),
        }
        for c in rows
    ]


async def _transcript(session: AsyncSession, person: Beneficiary) -> tuple[str, Any]:
    rows = (
        await session.execute(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.beneficiary_id == person.id)
            .order_by(Message.id)
        )
    ).scalars()
    return "transcript", [
        {
            "at": _when(m.created_at),
            "direction": m.direction,
            "author": m.author,
            "kind": m.kind,
            "text": m.text,
            "file_id": m.file_id,
        }
        for m in rows
    ]


async def _answers(session: AsyncSession, person: Beneficiary) -> tuple[str, Any]:
    rows = (
        await session.execute(select(Submission).where(Submission.beneficiary_id == person.id).order_by(Submission.id))
    ).scalars()
    return "questionnaires", [
        {
            "form": s.form_id,
            "wave": s.wave,
            "status": s.status,
            "started": _when(s.started_at),
            "completed": _when(s.completed_at),
            "answers": s.state.get("values", s.state),
            "scores": s.scores,
        }
        for s in rows
    ]


async def _followups(session: AsyncSession, person: Beneficiary) -> tuple[str, Any]:
    rows = (
        await session.execute(
            select(FollowupContact).where(FollowupContact.beneficiary_id == person.id).order_by(FollowupContact.wave)
        )
    ).scalars()
    return "follow_up_schedule", [
        {"wave": c.wave, "months": c.months, "due": _when(c.due_at), "status": c.status, "reason": c.reason}
        for c in rows
    ]


async def _questions(session: AsyncSession, person: Beneficiary) -> tuple[str, Any]:
    rows = (
        await session.execute(
            select(KbQuestion)
            .join(Conversation, Conversation.id == KbQuestion.conversation_id)
            .where(Conversation.beneficiary_id == person.id)
            .order_by(KbQuestion.id)
        )
    ).scalars()
    return "questions", [
        {"at": _when(q.created_at), "text": q.text, "topic": q.topic, "helpful": q.helpful} for q in rows
    ]


async def _erase_core(session: AsyncSession, person: Beneficiary) -> None:
    conversation_ids = select(Conversation.id).where(Conversation.beneficiary_id == person.id)
    removed = await session.execute(delete(Message).where(Message.conversation_id.in_(conversation_ids)))
    if removed.rowcount:  # type: ignore[attr-defined]
        # Cleaning the transcript's search index rewrites it whole: only when transcript lines went.
        erasure.touched(session, {Message.__tablename__})
    await session.execute(delete(KbQuestion).where(KbQuestion.conversation_id.in_(conversation_ids)))
    await session.execute(
        update(FollowupContact).where(FollowupContact.beneficiary_id == person.id).values(submission_id=None)
    )
    await session.execute(delete(FollowupContact).where(FollowupContact.beneficiary_id == person.id))
    await session.execute(delete(Submission).where(Submission.beneficiary_id == person.id))
    await session.execute(delete(Consent).where(Consent.beneficiary_id == person.id))
    await session.execute(
        delete(OutboxItem).where(OutboxItem.beneficiary_id == person.id, OutboxItem.status.in_(("sent", "failed")))
    )
    # Follow-ups and announcements still queued will not go out ("we will not write to you again");
    # the replies of this very turn (lane 0) still do.
    await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.beneficiary_id == person.id,
            OutboxItem.status == "pending",
            OutboxItem.lane > LANE_CASEWORKER,
        )
        .values(status="failed", payload={}, chat_id="", last_error="erased")
    )
    await session.execute(update(OutboxItem).where(OutboxItem.beneficiary_id == person.id).values(message_id=None))
    await session.execute(delete(Note).where(Note.conversation_id.in_(conversation_ids)))
    await session.execute(
        update(Conversation)
        .where(Conversation.beneficiary_id == person.id)
        .values(state={}, labels=[], urgent=False, needs_human=False, assignee_id=None, mode="bot")
    )


class PersonalData:
    """Every place personal data lives, for copying it to the person or erasing it."""

    def __init__(self) -> None:
        self.sections: list[Section] = [_profile, _consents, _transcript, _answers, _followups, _questions]
        self.erasers: list[Eraser] = [_erase_core]

    async def collect(self, session: AsyncSession, person: Beneficiary) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for section in self.sections:
            key, value = await section(session, person)
            data[key] = value
        return data

    async def erase(
        self, session: AsyncSession, person: Beneficiary, *, actor: str, chat_key: str | None, now: datetime
    ) -> None:
        """Remove everything about `person`; keep a tombstone that stops every future contact.

        Once the transaction commits, what the removed rows leave in the database files is cleaned too.
        """
        erasure.touched(session, erasure.personal_tables() - {Message.__tablename__}, [person.id])
        for eraser in self.erasers:
            await eraser(session, person)
        if chat_key is not None:
            await session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.chat_key == chat_key, InboxUpdate.status != "pending")
                .values(raw=None)
            )
        person.channel_user_id = None
        person.chat_id = None
        person.display_name = None
        person.locale = None
        person.municipality = None
        person.return_date = None
        person.source = None
        person.followup_consent = False
        person.consent = "erased"
        person.consent_version = None
        person.consent_at = None
        person.consent_locale = None
        person.opted_out = True
        session.add(AuditEntry(at=now, actor=actor, action="erase", target=f"beneficiary:{person.id}", detail=None))


def as_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)
