"""A conversation as caseworkers see it, and what they do with it.

Reading a transcript is audited; so is every change. Who owns the conversation is decided by
`bot.ownership`, the same rules the engine follows. A caseworker's reply goes through the outbox
like any bot reply, and appears in the transcript under `staff:<name>`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import handoffs, ownership
from bot.i18n import N_, Translations
from bot.media import Kept, summaries
from bot.outbox import LANE_CASEWORKER, queue_reply
from bot.text import cyrillic_to_latin
from console import audit
from console.access import Staff
from db.models import AuditEntry, Beneficiary, Conversation, Message
from db.staff import Note, StaffUser
from handlers.turn import Reply

MAX_REPLY = 4000
MAX_LABELS = 10


REASONS = {
    "empty": N_("The reply is empty."),
    "long": N_("The reply is too long."),
    "not_owner": N_("Take over the conversation before you reply."),
    "unreachable": N_("This person cannot be reached: they did not agree that we keep their messages."),
    "erased": N_("This person erased their data. Nothing can be sent to them and the conversation cannot continue."),
    "blocked": N_("This person has blocked the bot; the reply cannot be delivered."),
    "assignee": N_("That person cannot be assigned."),
    "assignee_place": N_(
        "That caseworker works in other municipalities and could not see this conversation. "
        "Choose a caseworker of the person's municipality."
    ),
    "empty_note": N_("The note is empty."),
    "canned": N_("A canned reply needs a title and both languages."),
    "return_date": N_("Enter a return date that is a real date and not in the future."),
    "wave_done": N_("This wave has already been sent or answered."),
    "followup_unreachable": N_(
        "This person has not agreed to follow-up questions, has stopped them, or has blocked the bot."
    ),
    "wave_in_handoff": N_("Hand the conversation back to the bot first: the bot asks the follow-up questions."),
    "snooze_time": N_("Choose a time to snooze until, later than now and within 90 days."),
    "snooze_urgent": N_("An urgent conversation cannot be snoozed. Remove the urgent flag first."),
    "status_closed": N_("This conversation is closed. It opens again when the person writes."),
    "taken": N_("Another caseworker has taken over this conversation. Your reply was not sent."),
    "changed": N_(
        "Another caseworker took over or handed back this conversation while you had it open. "
        "Nothing was changed. Check who has it now and choose again."
    ),
}
MAX_SNOOZE = timedelta(days=90)


class Refused(Exception):
    """An action that cannot be done now; `reason` is a key of REASONS, shown in the caseworker's language."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Transcript:
    conversation: Conversation
    person: Beneficiary
    messages: list[Message]
    notes: list[Note] = field(default_factory=list)
    staff_names: dict[int, str] = field(default_factory=dict)
    assignable: dict[int, str] = field(default_factory=dict)  # who may be given this conversation
    auto_assigned: tuple[datetime, int | None] | None = None  # the last automatic assignment: when, to whom
    media: dict[int, Kept] = field(default_factory=dict)  # files kept, by transcript line
    erased_at: datetime | None = None  # when the person erased their data (/delete), if they did


async def _find(
    session: AsyncSession, staff: Staff, conversation_id: int, now: datetime, *, lock: bool = False
) -> tuple[Conversation, Beneficiary] | None:
    query = (
        select(Conversation, Beneficiary)
        .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
        .where(Conversation.id == conversation_id)
    )
    if lock and session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update(of=Conversation)
    found = (await session.execute(query)).first()
    if found is None:
        return None
    conversation, person = found
    if not staff.sees(person):
        audit.record(
            session,
            actor=staff.actor,
            action="transcript.denied",
            now=now,
            target=f"conversation:{conversation_id}",
        )
        return None
    return conversation, person


async def staff_names(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(
        select(StaffUser.id, StaffUser.name).where(
            StaffUser.active.is_(True), StaffUser.role.in_(("admin", "caseworker"))
        )
    )
    return dict(rows.all())


async def assignable(session: AsyncSession, person: Beneficiary) -> dict[int, str]:
    """Active admins and caseworkers who can see this person: only they may be assigned the conversation."""
    rows = await session.execute(
        select(StaffUser.id, StaffUser.name, StaffUser.role, StaffUser.municipalities)
        .where(StaffUser.active.is_(True), StaffUser.role.in_(("admin", "caseworker")))
        .order_by(StaffUser.name)
    )
    return {
        staff_id: name
        for staff_id, name, role, places in rows.all()
        if role == "admin" or not places or person.municipality in places
    }


async def open_transcript(
    session: AsyncSession, staff: Staff, conversation_id: int, now: datetime
) -> Transcript | None:
    """The whole transcript in the order things happened, with notes; None if absent or out of scope."""
    found = await _find(session, staff, conversation_id, now)
    if found is None:
        return None
    conversation, person = found
    messages = list(
        (
            await session.execute(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            )
        ).scalars()
    )
    notes = list(
        (await session.execute(select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id))).scalars()
    )
    audit.record(
        session,
        actor=staff.actor,
        action="transcript.read",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={"messages": len(messages), "last": messages[-1].id if messages else None},
    )
    return Transcript(
        conversation,
        person,
        messages,
        notes,
        await staff_names(session),
        await assignable(session, person),
        await auto_assigned(session, conversation_id),
        await summaries(session, [m.id for m in messages if m.file_id]),
        await erased_at(session, person) if person.consent == "erased" else None,
    )


async def erased_at(session: AsyncSession, person: Beneficiary) -> datetime | None:
    """When the person erased their data: the moment of the erasure's audit entry."""
    return (
        await session.execute(
            select(func.max(AuditEntry.at)).where(
                AuditEntry.action == "erase", AuditEntry.target == f"beneficiary:{person.id}"
            )
        )
    ).scalar_one()


def _not_erased(person: Beneficiary) -> None:
    """Nothing can be done for a person who erased their data: no one is there to answer."""
    if person.consent == "erased":
        raise Refused("erased")


async def auto_assigned(session: AsyncSession, conversation_id: int) -> tuple[datetime, int | None] | None:
    """The last automatic assignment of a conversation: when, and to whom."""
    automatic = (
        await session.execute(
            select(AuditEntry.at, AuditEntry.detail)
            .where(
                AuditEntry.action == "conversation.auto_assign", AuditEntry.target == f"conversation:{conversation_id}"
            )
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    ).first()
    return (automatic[0], (automatic[1] or {}).get("to")) if automatic else None


def owner_key(conversation: Conversation) -> str:
    """Who has a conversation, as its page's take over, hand back and close buttons saw it: the bot, a caseworker
    (which one) or no one. An action sent from a page that saw another owner is refused (`_as_seen`)."""
    if conversation.mode == ownership.HUMAN:
        return f"{ownership.HUMAN}-{conversation.assignee_id or 0}"
    return conversation.mode


def _as_seen(conversation: Conversation, seen: str) -> None:
    """A page out of date asks for nothing: its caseworker decided on an owner that is no longer there. An empty
    `seen` (a client that does not send it) is not checked."""
    if seen and seen != owner_key(conversation):
        raise Refused("changed")


def state_key(conversation: Conversation) -> str:
    """What the head of a conversation's page shows (owner, status, snooze, assignee, flags), as a short key:
    an open page whose key differs is out of date."""
    until = conversation.snoozed_until.isoformat() if conversation.snoozed_until else ""
    shown = (conversation.mode, ownership.status_of(conversation), until, conversation.assignee_id)
    flags = (conversation.needs_human, conversation.urgent)
    return hashlib.sha256(repr((shown, flags)).encode()).hexdigest()[:16]


async def messages_after(
    session: AsyncSession, staff: Staff, conversation_id: int, after: int, now: datetime
) -> tuple[Conversation, list[Message]] | None:
    """New lines for a live page; reading them is audited like the page itself."""
    found = await _find(session, staff, conversation_id, now)
    if found is None:
        return None
    messages = list(
        (
            await session.execute(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > after)
                .order_by(Message.id)
            )
        ).scalars()
    )
    if messages:
        audit.record(
            session,
            actor=staff.actor,
            action="transcript.read",
            now=now,
            target=f"conversation:{conversation_id}",
            detail={
                "messages": len(messages),
                "first": messages[0].id,
                "last": messages[-1].id,
                "live": True,
            },
        )
    return found[0], messages


async def media_message(
    session: AsyncSession, staff: Staff, conversation_id: int, message_id: int, now: datetime
) -> tuple[Message, str] | None:
    """A message with a file, and the person's channel, if the staff member may see that conversation."""
    found = await _find(session, staff, conversation_id, now)
    message = await session.get(Message, message_id)
    if found is None or message is None or message.conversation_id != conversation_id:
        return None
    return message, found[1].channel


async def statuses(session: AsyncSession, conversation_id: int, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    """Delivery status of the given messages of one conversation."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Message.id, Message.status, Message.error).where(
            Message.conversation_id == conversation_id, Message.id.in_(ids)
        )
    )
    return {mid: (status, error) for mid, status, error in rows.all()}


async def acting(
    session: AsyncSession, staff: Staff, conversation_id: int, now: datetime, seen: str | None = None
) -> tuple[Conversation, Beneficiary]:
    """The conversation and its person, locked for a change; LookupError if absent or out of scope.
    With `seen`, the owner the acting page showed: refused when that is no longer who has it (`_as_seen`)."""
    found = await _find(session, staff, conversation_id, now, lock=True)
    if found is None:
        raise LookupError(conversation_id)
    if seen is not None:
        _as_seen(found[0], seen)
    return found


async def _tell(
    session: AsyncSession,
    translations: Translations,
    person: Beneficiary,
    conversation: Conversation,
    message: str,
    now: datetime,
) -> None:
    """A short notice to the person from the bot, in their language, when they can be reached."""
    if person.chat_id and person.consent == "given" and not person.blocked:
        t = translations(person.locale or "sq")
        await queue_reply(
            session,
            person=person,
            conversation=conversation,
            chat_id=person.chat_id,
            reply=Reply(t.gettext(message)),
            now=now,
            lane=LANE_CASEWORKER,
        )


async def take_over(
    session: AsyncSession,
    staff: Staff,
    translations: Translations,
    conversation_id: int,
    now: datetime,
    seen: str = "",
) -> None:
    conversation, person = await acting(session, staff, conversation_id, now, seen)
    _not_erased(person)
    previous = conversation.assignee_id
    was_owner = conversation.mode == ownership.HUMAN and previous == staff.id
    ownership.take_over(conversation, staff.id, now)
    if not was_owner:
        # The person learns that a human now reads and answers, not only when the bot takes back.
        await _tell(
            session,
            translations,
            person,
            conversation,
            N_("A caseworker has joined the conversation and will answer you here."),
            now,
        )
    audit.record(
        session,
        actor=staff.actor,
        action="conversation.take_over",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={"previous_assignee": previous},
    )


async def reply(session: AsyncSession, staff: Staff, conversation_id: int, text: str, now: datetime) -> None:
    conversation, person = await acting(session, staff, conversation_id, now)
    _not_erased(person)
    text = text.strip()
    if not text:
        raise Refused("empty")
    if len(text) > MAX_REPLY:
        raise Refused("long")
    if not ownership.can_reply(conversation, staff.id):
        taken = conversation.mode == ownership.HUMAN and conversation.assignee_id not in (None, staff.id)
        raise Refused("taken" if taken else "not_owner")
    if not person.chat_id or person.consent != "given":
        raise Refused("unreachable")
    if person.blocked:
        raise Refused("blocked")
    await queue_reply(
        session,
        person=person,
        conversation=conversation,
        chat_id=person.chat_id,
        # Caseworkers write Serbian in Cyrillic; a person who reads Latin gets it in Latin, as canned replies.
        reply=Reply(cyrillic_to_latin(text) if person.locale == "sr-Latn" else text),
        now=now,
        author=staff.actor,
        lane=LANE_CASEWORKER,
    )
    ownership.replied(conversation, now)
    await handoffs.answered(session, conversation.id, staff.actor, now)
    audit.record(
        session,
        actor=staff.actor,
        action="conversation.reply",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={"characters": len(text)},
    )


async def return_to_bot(
    session: AsyncSession,
    staff: Staff,
    translations: Translations,
    conversation_id: int,
    now: datetime,
    seen: str = "",
) -> None:
    conversation, person = await acting(session, staff, conversation_id, now, seen)
    was_human = conversation.mode == ownership.HUMAN
    ownership.return_to_bot(conversation, now)
    await handoffs.ended(session, conversation.id, "returned", now)
    if was_human:
        await _tell(
            session,
            translations,
            person,
            conversation,
            N_(
                "The caseworker has handed the conversation back to me, the assistant. "
                "Send /menu to see what I can do, or /human to reach a caseworker again."
            ),
            now,
        )
    audit.record(
        session,
        actor=staff.actor,
        action="conversation.return_to_bot",
        now=now,
        target=f"conversation:{conversation_id}",
    )


async def close(
    session: AsyncSession,
    staff: Staff,
    translations: Translations,
    conversation_id: int,
    now: datetime,
    seen: str = "",
) -> None:
    conversation, person = await acting(session, staff, conversation_id, now, seen)
    was_human = conversation.mode == ownership.HUMAN
    ownership.close(conversation, now)
    await handoffs.ended(session, conversation.id, "closed", now)
    if was_human:
        await _tell(
            session,
            translations,
            person,
            conversation,
            N_("The caseworker has closed this conversation. Write here at any time if you need more help."),
            now,
        )
    audit.record(
        session,
        actor=staff.actor,
        action="conversation.close",
        now=now,
        target=f"conversation:{conversation_id}",
    )


async def assign(
    session: AsyncSession, staff: Staff, conversation_id: int, assignee_id: int | None, now: datetime
) -> None:
    conversation, person = await acting(session, staff, conversation_id, now)
    if assignee_id is not None and assignee_id not in await staff_names(session):
        raise Refused("assignee")
    if assignee_id is not None and assignee_id not in await assignable(session, person):
        raise Refused("assignee_place")
    previous = conversation.assignee_id
    ownership.assign(conversation, assignee_id, now)
    audit.record(
        session,
        actor=staff.actor,
        action="conversation.assign",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={"from": previous, "to": assignee_id},
    )


async def set_labels(session: AsyncSession, staff: Staff, conversation_id: int, labels: str, now: datetime) -> None:
    conversation, _ = await acting(session, staff, conversation_id, now)
    chosen: list[str] = []
    for label in labels.split(","):
        label = " ".join(label.split())[:40]
        if label and label not in chosen:
            chosen.append(label)
    previous = list(conversation.labels or [])
    conversation.labels = chosen[:MAX_LABELS]
    conversation.updated_at = now
    audit.record(
        session,
        actor=staff.actor,
        action="conversation.labels",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={"from": previous, "to": conversation.labels},
    )


def snooze_time(value: str, tz: ZoneInfo, now: datetime) -> datetime:
    """A time typed on the page (a local date and time, in Kosovo) as UTC; Refused if not a later time."""
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise Refused("snooze_time") from exc
    until = (local if local.tzinfo else local.replace(tzinfo=tz)).astimezone(now.tzinfo)
    if not now < until <= now + MAX_SNOOZE:
        raise Refused("snooze_time")
    return until


async def set_status(
    session: AsyncSession,
    staff: Staff,
    conversation_id: int,
    status: str,
    until: datetime | None,
    now: datetime,
) -> None:
    """Open, pending, or snoozed until a time (closing is `close`: the person is told)."""
    conversation, _ = await acting(session, staff, conversation_id, now)
    if status not in (ownership.OPEN, ownership.PENDING, ownership.SNOOZED):
        raise Refused("snooze_time")
    if conversation.mode == ownership.CLOSED:
        raise Refused("status_closed")
    previous, previous_until = ownership.status_of(conversation), conversation.snoozed_until
    if status == ownership.SNOOZED and conversation.urgent:
        # An urgent conversation always shows: the flag comes off first, on purpose.
        raise Refused("snooze_urgent")
    ownership.set_status(conversation, status, now, until if status == ownership.SNOOZED else None)
    audit.record(
        session,
        actor=staff.actor,
        action="conversation.status",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={
            "from": previous,
            "to": status,
            **({"until": until.isoformat()} if status == ownership.SNOOZED and until else {}),
            **({"was_until": previous_until.isoformat()} if previous_until else {}),
        },
    )


async def set_urgent(session: AsyncSession, staff: Staff, conversation_id: int, urgent: bool, now: datetime) -> None:
    conversation, person = await acting(session, staff, conversation_id, now)
    if urgent:
        _not_erased(person)
    conversation.urgent = urgent
    conversation.updated_at = now
    if urgent:
        await handoffs.turned_urgent(session, conversation_id)  # the reports count the wait as urgent
    if urgent and ownership.wake(conversation, now):
        audit.record(
            session, actor=staff.actor, action="conversation.woke", now=now, target=f"conversation:{conversation_id}"
        )
    audit.record(
        session,
        actor=staff.actor,
        action="conversation.urgent",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={"urgent": urgent},
    )


async def add_note(session: AsyncSession, staff: Staff, conversation_id: int, text: str, now: datetime) -> None:
    conversation, _ = await acting(session, staff, conversation_id, now)
    text = text.strip()
    if not text:
        raise Refused("empty_note")
    session.add(
        Note(
            conversation_id=conversation.id,
            author_id=staff.id,
            author_name=staff.name,
            text=text[:10000],
            created_at=now,
        )
    )
    await session.flush()
    audit.record(session, actor=staff.actor, action="note.add", now=now, target=f"conversation:{conversation_id}")
