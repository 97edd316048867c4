"""The web chat channel: a person writes from the `/chat` page in a browser.

The page is a channel like Telegram: what the browser sends becomes a raw event, stored in the
inbox (idempotent on an id derived from the visitor and the browser's own message id) and run by
the same engine and handlers. The page reads the person's transcript and shows each reply as soon
as the turn that wrote it has committed: the turn's visitors are rung right after the commit. A
person without a transcript (consent declined, or data erased) gets what is sent to them held
briefly in memory for the page to collect. Files (/mydata) are kept, encrypted, for a short time
behind a one-time link. A photo or PDF the person sends is kept by the media store (`bot.media`)
when it comes, and its event names it, like a photo or document on Telegram.

The browser's visitor id is the only credential to its transcript, so it is never stored: the
channel identity is a keyed hash of it (`visitor_hash`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.channels import Decoded, Identity, Incoming, Permanent, Sent
from bot.channels.files import keep_file
from bot.clock import Clock
from bot.events import Inbound
from db import jsontext
from db.session import Database

CHANNEL = "web"
MAX_TEXT = 4096
MAILBOX_SIZE = 50
SHOWN_PER_VISITOR = 200  # outbox rows a page already showed from the transcript, remembered per visitor
SHOWN_VISITORS = 10_000
SETTLED_VISITORS = 10_000  # identities known to need no re-keying, remembered (`console.chat.identity`)
FILE_PREFIX = "file:"
UPLOAD_KINDS = ("photo", "document")  # what a person can send from the page


def new_visitor() -> str:
    """An unguessable identity for one browser, kept in its cookie."""
    return secrets.token_urlsafe(24)


def visitor_hash(key: bytes, visitor: str) -> str:
    """The channel identity of a browser: a keyed hash of its visitor id, the only form that is stored."""
    return hmac.new(key, f"web-visitor:{visitor}".encode(), hashlib.sha256).hexdigest()[:40]


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
    file: dict[str, str] | None = None,
    language_code: str | None = None,
    now: datetime,
) -> tuple[int, str]:
    """(update id, raw JSON) for one thing the person did on the page: typed text, pressed a button, sent a file.

    `visitor` is the browser's hashed identity (`visitor_hash`); text longer than MAX_TEXT is
    refused before it gets here. A `file` was kept when it came (`bot.media`): its reference, kind
    (photo or document), name and type.
    """
    update_id = event_id(visitor, client_message_id)
    raw: dict[str, Any] = {
        "update_id": update_id,
        "visitor": visitor,
        "message_id": client_message_id[:32],
        "date": now.isoformat(),
    }
    if data is not None:
        raw["data"] = data[:64]
    elif file is not None:
        raw["file"] = {key: str(file.get(key) or "")[:128] for key in ("ref", "kind", "name", "type")}
    else:
        raw["text"] = text or ""
    if language_code:
        raw["language_code"] = language_code[:16]
    return update_id, jsontext.dumps(raw)


def decode(raw: str) -> Decoded:
    """A stored web event → who wrote and what, shaped exactly like a Telegram message or button press."""
    event = jsontext.loads(raw)
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
    base["channel_message_id"] = str(event.get("message_id", ""))[:32] or None
    file = event.get("file")
    if isinstance(file, dict) and file.get("kind") in UPLOAD_KINDS and file.get("ref"):
        payload = {"file_name": file.get("name") or None, "mime_type": file.get("type") or None}
        return Incoming(identity, Inbound(kind=str(file["kind"]), file_id=str(file["ref"]), payload=payload, **base))
    text = str(event.get("text", ""))
    if text.startswith("/"):
        head, _, args = text.partition(" ")
        command = head[1:].lower()
        return Incoming(identity, Inbound(kind="command", text=text, command=command, args=args, **base))
    return Incoming(identity, Inbound(kind="text", text=text, **base))


@dataclass(frozen=True)
class Delivered:
    """A message handed to the page without a transcript line: its text and buttons, as sent."""

    seq: int
    text: str
    buttons: list[list[dict[str, str]]]


class Doorbell:
    """Wakes every waiting stream at once when something was delivered."""

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


class Bell:
    """One page's wake-up call: a ring while the page was busy is kept until it waits again."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> bool:
        """Until rung (True at once if it rang meanwhile), or False after `seconds`."""
        if not self._event.is_set():
            try:
                await asyncio.wait_for(self._event.wait(), seconds)
            except TimeoutError:
                return False
        self._event.clear()
        return True


class Bells:
    """The bells of the open chat pages, by visitor: a page wakes when that visitor's replies are recorded."""

    def __init__(self) -> None:
        self._bells: dict[str, set[Bell]] = {}

    def ring(self, chat_id: str) -> None:
        for bell in self._bells.get(chat_id, ()):
            bell.ring()

    @contextmanager
    def listening(self, chat_id: str) -> Iterator[Bell]:
        """A bell for one stream of `chat_id`, hung while the stream lasts."""
        bell = Bell()
        self._bells.setdefault(chat_id, set()).add(bell)
        try:
            yield bell
        finally:
            bells = self._bells.get(chat_id, set())
            bells.discard(bell)
            if not bells:
                self._bells.pop(chat_id, None)


class WebChat:
    """The web channel: decoding the page's events, delivery to the browser, and waking its streams.

    Sending text needs nothing more (the page reads the transcript); once a send is recorded, a
    message without a transcript line is held briefly for the page. Sending a file stores it
    (encrypted, `FILE_LIFETIME`) for a one-time download.
    """

    def __init__(self, db: Database | None = None, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.doorbell = Doorbell()  # every stream of the console: something was delivered
        self.bells = Bells()  # the chat page of one visitor
        self._mailboxes: dict[str, deque[Delivered]] = {}
        self._shown: dict[str, deque[int]] = {}
        self._seq = 0
        self._in_turn: set[str] = set()
        # Visitor hashes under the current key that no row under an earlier key can stand for: a
        # page's request needs no look in the database for them. Keys change only with a restart.
        self.settled: OrderedDict[str, None] = OrderedDict()

    def settle(self, identity: str) -> None:
        self.settled[identity] = None
        self.settled.move_to_end(identity)
        if len(self.settled) > SETTLED_VISITORS:
            self.settled.popitem(last=False)

    def decode(self, raw: str) -> Decoded:
        """`decode`, noting the visitor: their page is rung once the turn has committed."""
        decoded = decode(raw)
        if isinstance(decoded, Incoming):
            self._in_turn.add(decoded.identity.chat_id)
        return decoded

    def committed(self) -> None:
        """Turns were committed: wake the pages of the visitors whose turns they were."""
        visitors, self._in_turn = self._in_turn, set()
        for chat_id in visitors:
            self.bells.ring(chat_id)

    async def send(self, method: str, chat_id: str, payload: dict[str, Any]) -> Sent:
        if method == "answerCallbackQuery":
            return Sent(None)
        if method == "sendMessage":
            return Sent(f"web-{secrets.token_hex(8)}")
        if method == "sendDocument":
            return Sent(FILE_PREFIX + str(await self._keep_file(chat_id, payload)))
        raise Permanent(f"unknown method {method}")

    def shown(self, chat_id: str, outbox_ids: list[int]) -> None:
        """A page showed these sends from the transcript: if their lines are erased before they are
        delivered, they are not shown a second time."""
        if chat_id not in self._shown and len(self._shown) >= SHOWN_VISITORS:
            del self._shown[next(iter(self._shown))]
        self._shown.setdefault(chat_id, deque(maxlen=SHOWN_PER_VISITOR)).extend(outbox_ids)

    def delivered(self, chat_id: str, outbox_id: int, method: str, payload: dict[str, Any], *, kept: bool) -> None:
        """A send was recorded: hold it for the page if no transcript line shows it, and wake the pages."""
        if not kept and method in ("sendMessage", "sendDocument") and outbox_id not in self._shown.get(chat_id, ()):
            self._seq += 1
            text = str(payload.get("text") or payload.get("caption") or "")
            box = self._mailboxes.setdefault(chat_id, deque(maxlen=MAILBOX_SIZE))
            box.append(Delivered(self._seq, text, list(payload.get("buttons") or [])))
        self.doorbell.ring()
        self.bells.ring(chat_id)

    async def _keep_file(self, chat_id: str, payload: dict[str, Any]) -> int:
        if self.db is None:
            raise Permanent("files cannot be kept without a database")
        name = str(payload.get("file_name") or "file.txt")
        return await keep_file(self.db, self.clock.now(), chat_id, name, str(payload.get("content") or ""))

    def collect(self, chat_id: str) -> list[Delivered]:
        """What was delivered to a person without a transcript, once; the page shows it and it is gone."""
        box = self._mailboxes.pop(chat_id, None)
        return list(box) if box else []
