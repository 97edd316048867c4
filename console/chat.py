"""The web chat page's side of a conversation: who the browser is, what it sent, what it should show.

A browser is identified by a random visitor id in an HttpOnly cookie; the engine knows it only
through the same keyed pseudonym as a Telegram user. What the person types is stored in the inbox
as a `web` event and run as a turn, exactly like a Telegram update.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.app import Homeward
from bot.channels import webchat
from bot.engine import pseudonym
from bot.inbox import store_updates
from db.models import Beneficiary, Conversation, Message

COOKIE = "hw_visitor"


def page_token(secret: bytes, visitor: str) -> str:
    """The token the page sends with each message: proves the request comes from our own page."""
    return hmac.new(secret, f"chat:{visitor}".encode(), hashlib.sha256).hexdigest()[:40]


def valid_visitor(visitor: str | None) -> bool:
    return (
        bool(visitor) and 16 <= len(visitor or "") <= 64 and (visitor or "").replace("-", "").replace("_", "").isalnum()
    )


async def submit(
    app: Homeward,
    visitor: str,
    client_id: str,
    *,
    text: str | None = None,
    data: str | None = None,
    language_code: str | None = None,
) -> None:
    """Store what the person did as an inbox row (idempotent on the browser's id), then run its turn."""
    update_id, raw = webchat.event(
        visitor, client_id, text=text, data=data, language_code=language_code, now=app.clock.now()
    )
    chat_key = app.engine.chat_key(webchat.CHANNEL, visitor)
    for _, inbox_id in await store_updates(app.db, app.clock, webchat.CHANNEL, [(update_id, chat_key, raw)]):
        app.turns.submit(inbox_id)


@dataclass(frozen=True)
class Line:
    """One bubble on the page."""

    id: str
    mine: bool
    text: str
    buttons: list[list[dict[str, str]]] = field(default_factory=list)
    ref: str | None = None  # the browser's own id of a message it sent

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "mine": self.mine, "text": self.text, "buttons": self.buttons, "ref": self.ref}


async def person_of(app: Homeward, visitor: str) -> Beneficiary | None:
    ref = pseudonym(app.services.pseudonym_key, webchat.CHANNEL, visitor)
    async with app.db.sessions() as session:
        return (await session.execute(select(Beneficiary).where(Beneficiary.channel_ref == ref))).scalar_one_or_none()


async def lines_after(app: Homeward, visitor: str, after: int) -> tuple[list[Line], int]:
    """New bubbles since message `after`, and the new cursor.

    From the transcript, in order, up to the first reply not yet delivered; for a person without a
    transcript (consent declined), what delivery handed over since the last look.
    """
    ref = pseudonym(app.services.pseudonym_key, webchat.CHANNEL, visitor)
    async with app.db.sessions() as session:
        found = (
            await session.execute(
                select(Beneficiary.consent, Conversation.id)
                .join(Conversation, Conversation.beneficiary_id == Beneficiary.id)
                .where(Beneficiary.channel_ref == ref)
            )
        ).first()
        if found is None or found[0] == "declined":
            held = app.webchat.collect(visitor)
            return [Line(f"d{d.seq}", False, d.text, d.buttons) for d in held], after
        app.webchat.discard(visitor)
        messages = (
            await session.execute(
                select(
                    Message.id,
                    Message.direction,
                    Message.kind,
                    Message.text,
                    Message.payload,
                    Message.status,
                    Message.channel_message_id,
                )
                .where(Message.conversation_id == found[1], Message.id > after)
                .order_by(Message.id)
            )
        ).all()
    lines: list[Line] = []
    cursor = after
    for mid, direction, kind, text, payload, status, ref in messages:
        if direction == "out" and status in ("queued", "sending"):
            break
        cursor = mid
        if direction == "in" and kind == "button":
            continue  # the page already shows which button was pressed
        buttons = list((payload or {}).get("buttons") or []) if direction == "out" else []
        lines.append(Line(str(mid), direction == "in", text or "", buttons, ref if direction == "in" else None))
    return lines, cursor
