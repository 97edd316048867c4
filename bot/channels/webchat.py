"""The web chat channel: a person writes from the `/chat` page in a browser.

The page is a channel like Telegram: what the browser sends becomes a raw event, stored in the
inbox (idempotent on an id derived from the visitor and the browser's own message id) and run by
the same engine and handlers. "Sending" to the browser means marking the message delivered: the
page reads the person's transcript and shows what is delivered. A person who declined consent has
no transcript, so what is sent to them is also held briefly in memory for the page to collect.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.channels import Decoded, Identity, Incoming, Permanent, Sent
from bot.events import Inbound

CHANNEL = "web"
MAX_TEXT = 4096
MAILBOX_SIZE = 50


def new_visitor() -> str:
    """An unguessable identity for one browser, kept in its cookie."""
    return secrets.token_urlsafe(24)


def event_id(visitor: str, client_message_id: str) -> int:
    """A stable update id: a browser that retries the same message is not heard twice."""
    digest = hashlib.sha256(f"{visitor}\x00{client_message_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 62) - 1)


def event(
    visitor: str,
    client_message_id: str,
    *,
    text: str | None = None,
    data: str | None = None,
    language_code: str | None = None,
    now: datetime,
) -> tuple[int, str]:
    """(update id, raw JSON) for one thing the person did on the page: typed text or pressed a button."""
    update_id = event_id(visitor, client_message_id)
    raw: dict[str, Any] = {
        "update_id": update_id,
        "visitor": visitor,
        "message_id": client_message_id[:32],
        "date": now.isoformat(),
    }
    if data is not None:
        raw["data"] = data[:64]
    else:
        raw["text"] = (text or "")[:MAX_TEXT]
    if language_code:
        raw["language_code"] = language_code[:16]
    return update_id, json.dumps(raw, ensure_ascii=False)


def decode(raw: str) -> Decoded:
    """A stored web event → who wrote and what, shaped exactly like a Telegram message or button press."""
    event = json.loads(raw)
    visitor = str(event["visitor"])
    identity = Identity(CHANNEL, visitor, visitor)
    base: dict[str, Any] = {
        "update_id": int(event["update_id"]),
        "language_code": event.get("language_code"),
        "sent_at": datetime.fromisoformat(event["date"]),
    }
    if "data" in event:
        return Incoming(
            identity,
            Inbound(kind="button", data=str(event["data"]), payload={"callback_query_id": ""}, **base),
        )
    text = str(event.get("text", ""))
    base["channel_message_id"] = str(event.get("message_id", ""))[:32] or None
    if text.startswith("/"):
        head, _, args = text.partition(" ")
        command = head[1:].lower()
        return Incoming(identity, Inbound(kind="command", text=text, command=command, args=args, **base))
    return Incoming(identity, Inbound(kind="text", text=text, **base))


@dataclass(frozen=True)
class Delivered:
    """A message handed to the page: its text and buttons, as sent."""

    seq: int
    text: str
    buttons: list[list[dict[str, str]]]


class Doorbell:
    """Wakes every waiting page stream at once when something was delivered."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Until the next ring, or `seconds` at most (pages also look on their own now and then)."""
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            pass


class WebChatSender:
    """Delivery to the browser: the transcript line becomes `sent` and waiting pages are woken."""

    def __init__(self) -> None:
        self.doorbell = Doorbell()
        self._mailboxes: dict[str, deque[Delivered]] = {}
        self._seq = 0

    async def send(self, method: str, chat_id: str, payload: dict[str, Any]) -> Sent:
        if method == "answerCallbackQuery":
            return Sent(None)
        if method not in ("sendMessage", "sendDocument"):
            raise Permanent(f"unknown method {method}")
        self._seq += 1
        text = str(payload.get("text") or payload.get("caption") or "")
        box = self._mailboxes.setdefault(chat_id, deque(maxlen=MAILBOX_SIZE))
        box.append(Delivered(self._seq, text, list(payload.get("buttons") or [])))
        self.doorbell.ring()
        return Sent(f"web-{secrets.token_hex(8)}")

    def collect(self, chat_id: str) -> list[Delivered]:
        """What was delivered to a person without a transcript, once; the page shows it and it is gone."""
        box = self._mailboxes.pop(chat_id, None)
        return list(box) if box else []

    def discard(self, chat_id: str) -> None:
        """The page reads this person's transcript: nothing needs holding for them."""
        self._mailboxes.pop(chat_id, None)
