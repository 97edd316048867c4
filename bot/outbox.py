"""Queueing outgoing messages: each goes into the transcript and the outbox in the caller's transaction.

Nothing here talks to a channel; the delivery worker (`bot.delivery`) sends what is queued.
Transcript lines and outbox rows are appended rows (`db.session.append`): written together with
the transaction's other appends, each outbox row pointing at its line by id.
Long text is split under Telegram's 4096-character limit at paragraph, then sentence, then word
boundaries, and the buttons ride on the last part. Rows for WhatsApp and Viber also carry the
person's locale, their transcript line and (WhatsApp) when the 24-hour window closes: those senders
render the row within their platform's limits at send time (`bot.channels.whatsapp.render`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import Reply
from bot.text import fold
from db.models import Beneficiary, Conversation, Message, OutboxItem
from db.session import append

# Lines written by people (the person, a caseworker, a staff member's announcement) are searchable;
# the bot's own are not. They are catalog and knowledge-base text, most of it the same for everyone,
# so their words matched nearly every transcript and filled the newest matches a search reads
# (`console.search`); and indexing them cost about as much as the rest of writing a turn's two
# lines. What the bot tells one person (a sign-up's place on the waiting list, an invitation) is not
# found by search either: caseworkers reach it through the person and the inbox's filters.
# A line's searchable form is kept at hand: announcements repeat one for many people.
BOT = "bot"
_fold_line = lru_cache(maxsize=1024)(fold)

MAX_TEXT = 4096
LANE_REPLY, LANE_CASEWORKER, LANE_FOLLOWUP, LANE_ANNOUNCEMENT = 0, 1, 2, 3
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
# Channels whose sender renders a row itself (in the person's locale) and reports delivery by line id.
RENDERED_BY_SENDER = frozenset({"whatsapp", "viber"})
# Channels that accept free messages only for a while after the person last wrote (WhatsApp: 24 hours).
WINDOWS = {"whatsapp": timedelta(hours=24)}
# Outside such a window a row goes as the template configured for its purpose, named after its lane.
PURPOSES = {LANE_CASEWORKER: "caseworker", LANE_FOLLOWUP: "followup", LANE_ANNOUNCEMENT: "announcement"}


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Parts of at most `limit` characters, cut where a reader would pause."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = window.rfind("\n\n")
        if cut < limit // 3:
            ends = [m.end() for m in _SENTENCE_END.finditer(window)]
            cut = ends[-1] if ends and ends[-1] >= limit // 3 else window.rfind(" ")
        if cut < limit // 3:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _buttons_payload(reply: Reply) -> list[list[dict[str, str]]]:
    return [[{"text": b.label, "data": b.data} for b in row] for row in reply.buttons]


async def queue_reply(
    session: AsyncSession,
    *,
    person: Beneficiary,
    conversation: Conversation,
    chat_id: str,
    reply: Reply,
    now: datetime,
    author: str = BOT,
    lane: int = LANE_REPLY,
    keep: bool = True,
) -> list[int | None]:
    """Add `reply` to the transcript (when `keep`) and to the outbox, in the caller's transaction.

    Returns the transcript lines queued, one per part (None for each when not `keep`)."""
    sends: list[tuple[str, str, str, dict[str, object]]] = []  # (kind, text, method, payload)
    if reply.document is not None:
        name, content = reply.document
        document: dict[str, object] = {"caption": reply.text[:1024], "file_name": name, "content": content.decode()}
        sends.append(("document", reply.text, "sendDocument", document))
    else:
        parts = split_text(reply.text)
        for i, part in enumerate(parts):
            message: dict[str, object] = {"text": part}
            if i == len(parts) - 1 and reply.buttons:
                message["buttons"] = _buttons_payload(reply)
            sends.append(("text", part, "sendMessage", message))
    lines: list[int | None] = []
    for kind, text, method, payload in sends:
        line = await _queue(
            session,
            person,
            conversation,
            chat_id,
            now,
            author,
            lane,
            keep,
            kind=kind,
            text=text,
            method=method,
            payload=payload,
        )
        lines.append(line)
    return lines


async def _queue(
    session: AsyncSession,
    person: Beneficiary,
    conversation: Conversation,
    chat_id: str,
    now: datetime,
    author: str,
    lane: int,
    keep: bool,
    *,
    kind: str,
    text: str,
    method: str,
    payload: dict[str, object],
) -> int | None:
    line_id = None
    if keep:
        line_id = await append(
            session,
            Message,
            {
                "conversation_id": conversation.id,
                "direction": "out",
                "author": author,
                "kind": kind,
                "text": text,
                "norm_text": None if author == BOT else _fold_line(text),
                "payload": {"buttons": payload["buttons"]} if "buttons" in payload else None,
                "status": "queued",
                "channel": person.channel,
                "created_at": now,
            },
        )
    if person.channel in RENDERED_BY_SENDER:
        payload = {**payload, **channel_context(person, lane, line_id)}
    await queue_call(
        session,
        channel=person.channel,
        chat_id=chat_id,
        method=method,
        payload=payload,
        now=now,
        beneficiary_id=person.id,
        lane=lane,
        message_id=line_id,
    )
    return line_id


def channel_context(person: Beneficiary, lane: int, line_id: int | None) -> dict[str, object]:
    """What a rendering sender needs besides the text: the locale, the line to report on, the window."""
    context: dict[str, object] = {"locale": person.locale or "sq"}
    if line_id is not None:
        context["line"] = line_id
    window = WINDOWS.get(person.channel)
    if window is not None and person.last_contact_at is not None:
        context["window_until"] = (person.last_contact_at + window).isoformat()
        if lane in PURPOSES:
            context["purpose"] = PURPOSES[lane]
    return context


async def queue_call(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    method: str,
    payload: dict[str, object],
    now: datetime,
    beneficiary_id: int | None = None,
    lane: int = LANE_REPLY,
    message_id: int | None = None,
) -> None:
    """An outbox row: a call to the channel that sends transcript line `message_id`, or that is no line
    of the transcript at all (answering a button press, a notice to a group)."""
    await append(
        session,
        OutboxItem,
        {
            "channel": channel,
            "chat_id": chat_id,
            "beneficiary_id": beneficiary_id,
            "message_id": message_id,
            "method": method,
            "payload": payload,
            "lane": lane,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
