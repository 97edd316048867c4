"""Transcript export: every message and caseworker note of every conversation, as JSONL, CSV or XLSX.

Each record also carries its conversation's status (`open`, `pending`, `snoozed`, `closed`) and, when
snoozed, `snoozed_until_local`. Each record carries its time twice: `created_at` in UTC (what integrations read) and
`created_at_local` in Kosovo time with the offset. A button press shows the label the person
tapped, never the button's data. Caseworker notes are records of their own (`kind: note`, author
`staff:<name>`), in time order among the messages of their conversation.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import ownership
from bot.redaction import redact
from bot.spreadsheet import Sheet
from bot.tapped import tapped_label
from db.models import Beneficiary, Conversation, Message
from db.session import Database
from db.staff import Note

KOSOVO = "Europe/Belgrade"
PAGE = 1000
FIELDS = (
    "beneficiary",
    "conversation",
    "message",
    "direction",
    "author",
    "kind",
    "text",
    "file_id",
    "created_at",
    "created_at_local",
    "channel_message_id",
    "status",
    "error",
    "channel",
    "municipality",
    "labels",
    "conversation_status",
    "snoozed_until_local",
)
BUTTON_DATA = re.compile(r"^[a-z][a-z0-9_]*:\S*$")  # "kb:t:health.costs:6", "menu:services"


async def _tapped(session: AsyncSession, message: Message) -> str | None:
    """What the person tapped, in words; None when only the button's data is known."""
    data = str((message.payload or {}).get("data") or "")
    text = message.text or ""
    if text and text != data and not BUTTON_DATA.match(text):
        return text
    return await tapped_label(session, message.conversation_id, data or text, before=message.id)


async def _notes(
    session: AsyncSession, since: datetime | None, where: ColumnElement[bool] | None
) -> dict[int, list[Note]]:
    query = (
        select(Note)
        .join(Conversation, Conversation.id == Note.conversation_id)
        .order_by(Note.conversation_id, Note.created_at, Note.id)
    )
    if since is not None:
        query = query.where(Note.created_at >= since)
    if where is not None:
        query = query.where(where)
    found: dict[int, list[Note]] = {}
    for note in (await session.execute(query)).scalars():
        found.setdefault(note.conversation_id, []).append(note)
    return found


# What every record of a conversation repeats: beneficiary, name, channel, municipality, labels, and the
# conversation's status with the end of its snooze.
Context = tuple[int, str | None, str, str | None, list[str], str, datetime | None]
CONTEXT_COLUMNS = (
    Beneficiary.municipality,
    Conversation.labels,
    Conversation.mode,
    Conversation.status,
    Conversation.snoozed_until,
)


def _context(beneficiary_id: int, name: str | None, channel: str, row: Sequence[Any]) -> Context:
    municipality, labels, mode, status, until = row
    shown = ownership.CLOSED if mode == ownership.CLOSED else status or ownership.OPEN
    return (beneficiary_id, name, channel, municipality, list(labels or []), shown, until)


async def _contexts(session: AsyncSession, ids: list[int]) -> dict[int, Context]:
    """The context of the conversations that only hold notes."""
    if not ids:
        return {}
    query = (
        select(Conversation.id, Beneficiary.id, Beneficiary.display_name, Beneficiary.channel)
        .add_columns(*CONTEXT_COLUMNS)
        .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
        .where(Conversation.id.in_(ids))
    )
    return {row[0]: _context(row[1], row[2], row[3], row[4:]) for row in await session.execute(query)}


async def transcript_records(
    db: Database,
    since: datetime | None = None,
    *,
    where: ColumnElement[bool] | None = None,
    redacted: bool = False,
    timezone: str = KOSOVO,
) -> AsyncIterator[dict[str, Any]]:
    """Records in the order things happened, streamed so a large transcript needs little memory.

    `where` narrows the conversations (the console exports one conversation, or what a caseworker may see);
    `redacted` masks names, phone numbers, e-mail addresses, dates and ID-like numbers in the text of
    messages and notes.
    """
    zone = ZoneInfo(timezone)

    def about(context: Context) -> dict[str, Any]:
        _, _, channel, municipality, labels, status, until = context
        return {
            "channel": channel,
            "municipality": municipality,
            "labels": labels,
            "conversation_status": status,
            "snoozed_until_local": until.astimezone(zone).isoformat() if until else None,
        }

    def note_record(note: Note, context: Context) -> dict[str, Any]:
        beneficiary_id, name = context[0], context[1]
        return {
            "beneficiary": beneficiary_id,
            "conversation": note.conversation_id,
            "message": None,
            "direction": None,
            "author": f"staff:{note.author_name}",
            "kind": "note",
            "text": redact(note.text, [name or ""]) if redacted else note.text,
            "file_id": None,
            "created_at": note.created_at.isoformat(),
            "created_at_local": note.created_at.astimezone(zone).isoformat(),
            "channel_message_id": None,
            "status": None,
            "error": None,
            **about(context),
        }

    query = (
        select(Message, Conversation.beneficiary_id, Beneficiary.display_name, Beneficiary.channel)
        .add_columns(*CONTEXT_COLUMNS)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
        .order_by(Message.conversation_id, Message.id)
        .limit(PAGE)
    )
    if since is not None:
        query = query.where(Message.created_at >= since)
    if where is not None:
        query = query.where(where)
    async with db.sessions() as session:
        notes = await _notes(session, since, where)
        pending = sorted(notes)  # conversations whose notes are still to be written, in order
        current: int | None = None
        context: Context | None = None
        after = (0, 0)
        while True:
            # Pages by key rather than one open cursor, so the session stays free for the look-ups between.
            rows = (
                await session.execute(
                    query.where(
                        or_(
                            Message.conversation_id > after[0],
                            and_(Message.conversation_id == after[0], Message.id > after[1]),
                        )
                    )
                )
            ).all()
            if not rows:
                break
            after = (rows[-1][0].conversation_id, rows[-1][0].id)
            for message, beneficiary_id, name, channel, *rest in rows:
                if message.conversation_id != current:
                    if current is not None and context is not None:
                        for note in notes.pop(current, []):
                            yield note_record(note, context)
                    before = [c for c in pending if c < message.conversation_id]
                    pending = [c for c in pending if c > message.conversation_id]
                    contexts = await _contexts(session, before)
                    for conversation_id in before:
                        for note in notes.pop(conversation_id):
                            yield note_record(note, contexts[conversation_id])
                    current = message.conversation_id
                    context = _context(beneficiary_id, name, channel, rest)
                waiting = notes.get(message.conversation_id, [])
                while waiting and context is not None and waiting[0].created_at < message.created_at:
                    yield note_record(waiting.pop(0), context)
                text = await _tapped(session, message) if message.kind == "button" else message.text
                yield {
                    "beneficiary": beneficiary_id,
                    "conversation": message.conversation_id,
                    "message": message.id,
                    "direction": message.direction,
                    "author": message.author,
                    "kind": message.kind,
                    "text": redact(text, [name or ""]) if redacted and text else text,
                    "file_id": message.file_id,
                    "created_at": message.created_at.isoformat(),
                    "created_at_local": message.created_at.astimezone(zone).isoformat(),
                    "channel_message_id": message.channel_message_id,
                    "status": message.status,
                    "error": message.error,
                    **about(context or _context(beneficiary_id, name, channel, rest)),
                }
        if current is not None and context is not None:
            for note in notes.pop(current, []):
                yield note_record(note, context)
        contexts = await _contexts(session, pending)
        for conversation_id in pending:
            for note in notes.pop(conversation_id):
                yield note_record(note, contexts[conversation_id])


def _cell(field: str, value: Any) -> Any:
    return "; ".join(value) if field == "labels" else value


async def export(
    db: Database,
    fmt: str,
    out: IO[str] | IO[bytes],
    since: datetime | None = None,
    *,
    where: ColumnElement[bool] | None = None,
    redacted: bool = False,
    timezone: str = KOSOVO,
) -> int:
    """Write every record to `out` (text for jsonl/csv, binary for xlsx); returns the count."""
    count = 0
    records = transcript_records(db, since, where=where, redacted=redacted, timezone=timezone)
    if fmt == "jsonl":
        async for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")  # type: ignore[call-overload]
            count += 1
    elif fmt in ("csv", "xlsx"):
        sheet = Sheet(fmt, out, "transcripts", FIELDS)
        async for record in records:
            sheet.append(_cell(f, record[f]) for f in FIELDS)
            count += 1
        sheet.close()
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return count
