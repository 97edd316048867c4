"""What a person tapped, in words: the label of the button whose data came back.

A button press arrives as its data ("kb:t:health.costs_insurance:6"); caseworkers should read what
the person saw and chose ("Health insurance"). The label is found on the bot's recent messages in
the same conversation, which keep their buttons.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Message

RECENT = 30  # how many of the bot's latest messages with buttons are searched


async def tapped_label(
    session: AsyncSession, conversation_id: int, data: str, *, before: int | None = None
) -> str | None:
    """The label of the most recent button with this data that the bot sent here, or None.

    `before` (a message id) looks only at what the bot had sent before that message, as an export
    does for a press recorded long ago.
    """
    if not data:
        return None
    query = select(Message.payload).where(
        Message.conversation_id == conversation_id,
        Message.direction == "out",
        Message.payload.is_not(None),
    )
    if before is not None:
        query = query.where(Message.id < before)
    payloads = (await session.execute(query.order_by(Message.id.desc()).limit(RECENT))).scalars()
    for payload in payloads:
        for row in (payload or {}).get("buttons") or []:
            for button in row:
                if isinstance(button, dict) and button.get("data") == data and button.get("text"):
                    return str(button["text"])
    return None
