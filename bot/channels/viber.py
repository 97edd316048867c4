"""Viber through its REST bot API: callbacks in, messages out.

A small client over the documented API (`/pa/send_message`, `/pa/set_webhook`, `/pa/get_account_info`)
rather than the official library, which is synchronous (requests) and dispatches callbacks itself;
Homeward's webhook must store each event in the inbox before Viber is answered.

In: `POST /viber/webhook` carries callbacks, each signed with `X-Viber-Content-Signature` (the
HMAC-SHA256 hex of the body with the bot's token). A `message`, `subscribed` or `unsubscribed`
callback is stored as an inbox row (idempotent on its `message_token`); `delivered`, `seen` and
`failed` update the transcript line the message token was sent for; `conversation_started` is
answered with the one welcome message Viber lets a bot send before the person subscribes (the
language picker), and one opened through a deep link is also stored, to run as `/start <context>`;
`webhook` (Viber checking the address) is answered 200.

Out: an outbox row is rendered within Viber's limits (`render`): texts of at most 7,000 characters
(split like the other apps'), a keyboard of at most 24 buttons on the last part, laid out on a grid
of 6 columns; a label too long for its button takes the catalog's shorter label, else it gets a
full-width button of two lines, and only then whole words with an ellipsis — never a cut word.
A keyboard button sends its data back as the message's text (silently: the person does not see
it), which `decode` reads as a button press. A file goes as its caption, then a `file` message
whose address is a one-time link to Homeward (`bot.channels.files`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout

from bot.channels import (
    Blocked,
    Decoded,
    Identity,
    Incoming,
    MembershipChange,
    Parts,
    Permanent,
    RetryLater,
    Sent,
    Transient,
    send_parts,
)
from bot.channels.files import FileLinks
from bot.channels.labels import Shortener
from bot.channels.receipts import Receipt
from bot.channels.whatsapp import words_within
from bot.events import Inbound
from bot.i18n import Translations
from bot.media import Fetched, Gone, TooBig, Unreachable
from bot.outbox import split_text
from db import jsontext

log = logging.getLogger(__name__)

CHANNEL = "viber"
MAX_TEXT = 7000
MAX_BUTTONS = 24
COLUMNS = 6  # a keyboard row is 6 columns wide
CHARS_PER_COLUMN = 6  # what one column shows on one line of a phone's keyboard
MAX_BUTTON_TEXT = 250
MAX_ACTION_BODY = 255
MAX_SENDER_NAME = 28
MAX_FILE_NAME = 256
MIN_API_VERSION = 3  # silent keyboard replies
# Callbacks we ask Viber for (`set_webhook`'s event_types; message, subscribed and conversation_started
# always come).
EVENT_TYPES = ("delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started")
STORED = ("message", "subscribed", "unsubscribed")
RECEIPTS = {"delivered": "delivered", "seen": "read", "failed": "failed"}
MEDIA = {"picture": "photo", "video": "video", "file": "document", "sticker": "sticker"}
# A keyboard button's data, as the handlers write it ("lang:sq", "kb:more:12:1"); a link is not one.
BUTTON_DATA = re.compile(r"^[a-z]+:(?!//)\S+$")
# A deep link's context, kept as a start parameter is on Telegram (the longer or stranger is ignored).
CONTEXT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Viber's status codes (the API answers HTTP 200 with a status; 0 is ok).
NOT_SUBSCRIBED = 6
TOO_MANY_REQUESTS = 12
PAUSE_SECONDS = 10.0  # Viber says no retry time with tooManyRequests
TRANSIENT_STATUSES = {2, 10}  # a token refused or no webhook set yet: fixed, sending goes on
STATUS_NAMES = {
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    5: "receiverNotRegistered",
    6: "receiverNotSubscribed",
    7: "publicAccountBlocked",
    8: "publicAccountNotFound",
    9: "publicAccountSuspended",
    10: "webhookNotSet",
    11: "receiverNoSuitableDevice",
    12: "tooManyRequests",
    13: "apiVersionNotSupported",
    14: "incompatibleWithVersion",
}


def sign(token: str, body: bytes) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(token: str | None, body: bytes, header: str | None) -> bool:
    """`X-Viber-Content-Signature` is the HMAC-SHA256 hex of the body with the bot's token."""
    if not token or not header:
        return False
    return hmac.compare_digest(sign(token, body).encode(), header.strip().lower().encode())


def event_id(message_token: str) -> int:
    """A stable inbox id for a callback's message token: Viber's retries are stored once."""
    digest = hashlib.sha256(f"{CHANNEL}\x00{message_token}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 62) - 1)


@dataclass
class Callback:
    """A callback body, read: what to store, what receipt to record, whom to welcome."""

    event: str
    stored: list[tuple[int, str, str]] = field(default_factory=list)  # (event id, user id, raw JSON)
    receipt: tuple[str, str, str, str | None] | None = None  # (message token, user id, status, error)
    welcome: str | None = None  # the user id to welcome (conversation_started, not yet subscribed)
    language: str | None = None


def _user_of(body: dict[str, Any]) -> str:
    if body["event"] == "message":
        return str(body["sender"]["id"])
    if body["event"] in ("subscribed", "conversation_started"):
        return str(body["user"]["id"])
    return str(body["user_id"])


def read_callback(body: Any) -> Callback:
    """A callback body → what it asks of Homeward; ValueError (or KeyError, TypeError) when malformed.

    Events of kinds Viber may add later are acknowledged and ignored.
    """
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        raise ValueError("not a Viber callback")
    event = body["event"]
    if event in STORED:
        token = str(body["message_token"])
        user = _user_of(body)
        if not token or not user:
            raise ValueError("a callback without message token or user")
        if event == "message" and not isinstance(body["message"], dict):
            raise ValueError("a message without content")
        return Callback(event, stored=[(event_id(token), user, jsontext.dumps(body))])
    if event in RECEIPTS:
        token, user = str(body["message_token"]), str(body["user_id"])
        error = None
        if event == "failed":
            error = f"failed: {str(body.get('desc') or 'no reason given')[:200]}"
        return Callback(event, receipt=(token, user, RECEIPTS[event], error))
    if event == "conversation_started":
        user_id = _user_of(body)
        stored = []
        if context_of(body):  # a deep link's parameter: a `/start <context>` turn
            token = str(body["message_token"])
            stored = [(event_id(token), user_id, jsontext.dumps(body))]
        if body.get("subscribed"):
            return Callback(event, stored=stored)
        return Callback(event, stored=stored, welcome=user_id, language=(body.get("user") or {}).get("language"))
    return Callback(event)  # webhook (the address check), client_status, and kinds still to come


def context_of(body: dict[str, Any]) -> str:
    """The deep link's parameter of a `conversation_started` (`viber://pa?chatURI=…&context=…`), or ""."""
    context = str(body.get("context") or "").strip()
    return context if CONTEXT.match(context) else ""


def decode(raw: str) -> Decoded:
    """A stored Viber callback → who wrote and what, shaped like any other channel's event."""
    body = jsontext.loads(raw)
    event = body.get("event")
    if event == "subscribed":
        return MembershipChange(CHANNEL, str(body["user"]["id"]), blocked=False)
    if event == "unsubscribed":
        return MembershipChange(CHANNEL, str(body["user_id"]), blocked=True)
    if event == "conversation_started":
        # Opened through a deep link: `/start <context>`, like Telegram's start parameter. Someone not yet
        # subscribed got the welcome in Viber's answer and can be sent nothing else: the turn runs (the
        # parameter waits in the state, a link code links) and its replies are not sent.
        user = body["user"]
        context = context_of(body)
        inbound = Inbound(
            kind="command",
            text=f"/start {context}",
            command="start",
            args=context,
            channel_message_id=str(body["message_token"])[:128],
            update_id=event_id(str(body["message_token"])),
            display_name=user.get("name"),
            language_code=user.get("language"),
            answered=not body.get("subscribed"),
        )
        return Incoming(Identity(CHANNEL, str(user["id"]), str(user["id"])), inbound)
    sender = body["sender"]
    user = str(sender["id"])
    identity = Identity(CHANNEL, user, user)
    message: dict[str, Any] = body["message"]
    timestamp = body.get("timestamp")
    base: dict[str, Any] = {
        "channel_message_id": str(body["message_token"])[:128],
        "update_id": event_id(str(body["message_token"])),
        "display_name": sender.get("name"),
        "language_code": sender.get("language"),
        "sent_at": datetime.fromtimestamp(int(timestamp) / 1000, UTC) if isinstance(timestamp, int) else None,
    }
    kind = message.get("type")
    if kind == "text":
        text = str(message.get("text") or "")
        if BUTTON_DATA.match(text):
            return Incoming(identity, Inbound(kind="button", data=text, **base))
        if text.startswith("/"):
            head, _, args = text.partition(" ")
            return Incoming(identity, Inbound(kind="command", text=text, command=head[1:].lower(), args=args, **base))
        return Incoming(identity, Inbound(kind="text", text=text, **base))
    if kind == "url":
        return Incoming(identity, Inbound(kind="text", text=str(message.get("media") or ""), **base))
    if kind in MEDIA:
        payload = {
            "file_name": message.get("file_name"),
            "file_size": message.get("size"),
            "media_url": message.get("media"),  # Viber's address expires after a while
        }
        if kind == "sticker":
            payload = {"sticker_id": message.get("sticker_id")}
        # The message token names the file; `bot.media` keeps it from `media_url` as it arrives (the address expires).
        file_id = base["channel_message_id"] if kind != "sticker" and message.get("media") else None
        return Incoming(
            identity,
            Inbound(kind=MEDIA[kind], text=message.get("text") or None, file_id=file_id, payload=payload, **base),
        )
    if kind == "location":
        where = message.get("location") or {}
        return Incoming(
            identity,
            Inbound(kind="location", payload={"latitude": where.get("lat"), "longitude": where.get("lon")}, **base),
        )
    if kind == "contact":
        contact = message.get("contact") or {}
        return Incoming(
            identity,
            Inbound(
                kind="contact", text=contact.get("name"), payload={"phone_number": contact.get("phone_number")}, **base
            ),
        )
    return Incoming(identity, Inbound(kind="other", **base))


# ---- rendering ------------------------------------------------------------------------------------


def _button(data: str, label: str, columns: int, rows: int) -> dict[str, Any]:
    return {
        "Columns": columns,
        "Rows": rows,
        "ActionType": "reply",
        "ActionBody": data,
        "Text": label,
        "TextSize": "regular",
        "Silent": True,
    }


def _label(label: str, limit: int, shorten: Shortener) -> str | None:
    if len(label) <= limit:
        return label
    short = shorten(label)
    return short if short is not None and len(short) <= limit else None


def _row(row: list[dict[str, Any]], shorten: Shortener) -> list[dict[str, Any]]:
    """One row of the reply's buttons: side by side when every label fits its share, else one per line."""
    if 1 < len(row) <= 3:
        columns = COLUMNS // len(row)
        labels = [_label(str(b["text"]), columns * CHARS_PER_COLUMN, shorten) for b in row]
        if all(labels):
            return [_button(str(b["data"]), str(label), columns, 1) for b, label in zip(row, labels, strict=True)]
    laid: list[dict[str, Any]] = []
    for b in row:
        text = str(b["text"])
        one_line = _label(text, COLUMNS * CHARS_PER_COLUMN, shorten)
        if one_line is not None:
            laid.append(_button(str(b["data"]), one_line, COLUMNS, 1))
        else:
            laid.append(_button(str(b["data"]), words_within(text, 2 * COLUMNS * CHARS_PER_COLUMN), COLUMNS, 2))
    return laid


def keyboard(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Type": "keyboard", "DefaultHeight": False, "InputFieldState": "regular", "Buttons": buttons}


def render(payload: dict[str, Any], shorten: Shortener) -> list[dict[str, Any]]:
    """One outbox row's text and buttons → the Viber messages that carry it, in order.

    More than 24 choices go as several keyboards of 24, each on its own message; Viber shows the
    newest keyboard, so such a reply is best avoided (no handler offers one today).
    """
    parts = split_text(str(payload.get("text") or ""), MAX_TEXT)
    messages: list[dict[str, Any]] = [{"type": "text", "text": part} for part in parts]
    laid = [button for row in payload.get("buttons") or [] for button in _row(row, shorten)]
    if not laid:
        return messages
    chunks = [laid[start : start + MAX_BUTTONS] for start in range(0, len(laid), MAX_BUTTONS)]
    messages[-1]["keyboard"] = keyboard(chunks[0])
    for chunk in chunks[1:]:
        messages.append({"type": "text", "text": "…", "keyboard": keyboard(chunk)})
    return messages


# ---- sending ------------------------------------------------------------------------------------


async def fetch_media(token: str, payload: dict[str, Any], most: int) -> Fetched:
    """The file at the address Viber gave with the message, while it lasts (it expires: then Gone).

    The address is fetched without the bot's token, which goes to Viber's API alone.
    """
    url = str(payload.get("media_url") or "")
    if not url.startswith(("https://", "http://")):
        raise Gone(token)
    if isinstance(payload.get("file_size"), int) and payload["file_size"] > most:
        raise TooBig(token)
    try:
        async with ClientSession(timeout=ClientTimeout(total=60)) as http, http.get(url) as response:
            if response.status in (403, 404, 410):
                raise Gone(token)
            if response.status >= 400:
                raise Unreachable(f"HTTP {response.status}")
            if (response.content_length or 0) > most:
                raise TooBig(token)
            content = await response.content.read(most + 1)
            declared = response.headers.get("Content-Type")
    except (ClientError, OSError, TimeoutError) as exc:
        raise Unreachable(type(exc).__name__) from exc
    if len(content) > most:
        raise TooBig(token)
    return Fetched(content, declared, None)


class ViberError(Exception):
    def __init__(self, status: int, message: str, http_status: int = 200) -> None:
        name = STATUS_NAMES.get(status, "error")
        super().__init__(f"{name} ({status}): {message[:200]}")
        self.status = status
        self.http_status = http_status
        self.name = name


class ViberClient:
    """The few Viber REST bot API calls Homeward makes, over one aiohttp session."""

    def __init__(
        self, api_base: str, token: str, sender_name: str, sender_avatar: str | None = None, timeout: float = 30.0
    ) -> None:
        self.base = f"{api_base.rstrip('/')}/pa"
        self.token = token
        self.sender: dict[str, str] = {"name": sender_name[:MAX_SENDER_NAME]}
        if sender_avatar:
            self.sender["avatar"] = sender_avatar
        self.timeout = ClientTimeout(total=timeout)
        self._session: ClientSession | None = None

    def _http(self) -> ClientSession:
        if self._session is None or self._session.closed:
            self._session = ClientSession(
                headers={"X-Viber-Auth-Token": self.token}, timeout=self.timeout, json_serialize=jsontext.dumps
            )
        return self._session

    async def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self._http().post(f"{self.base}/{method}", json=body) as response:
            try:
                answer = await response.json(content_type=None, loads=jsontext.loads)
            except (ValueError, ClientError):
                answer = None
            if not isinstance(answer, dict):
                answer = {}
            if response.status >= 400:
                raise ViberError(-1, f"HTTP {response.status}", response.status)
            status = answer.get("status")
            if status != 0:
                code = status if isinstance(status, int) else -1
                raise ViberError(code, str(answer.get("status_message") or "no status"))
            return answer

    def message(self, to: str, message: dict[str, Any]) -> dict[str, Any]:
        body = {"receiver": to, "min_api_version": MIN_API_VERSION, "sender": self.sender, **message}
        return body

    async def send_message(self, to: str, message: dict[str, Any]) -> str:
        answer = await self.call("send_message", self.message(to, message))
        return str(answer.get("message_token") or "")

    async def set_webhook(self, url: str) -> dict[str, Any]:
        return await self.call("set_webhook", {"url": url, "event_types": list(EVENT_TYPES), "send_name": True})

    async def account_info(self) -> dict[str, Any]:
        return await self.call("get_account_info", {})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def classify(exc: ViberError) -> Exception:
    """A Viber error → what delivery does with it."""
    if exc.status == NOT_SUBSCRIBED:
        return Blocked(str(exc))
    if exc.status == TOO_MANY_REQUESTS:
        return RetryLater(PAUSE_SECONDS, str(exc))
    if exc.http_status >= 500 or exc.status in TRANSIENT_STATUSES:
        return Transient(str(exc))
    return Permanent(str(exc))


class ViberSender:
    """Outbox rows → Viber messages, rendered within the limits; remembers which line each token is."""

    KEEP = 10_000  # message tokens remembered for receipts arriving before delivery records them
    parted = True  # a row of several messages resumes after the last one Viber accepted

    def __init__(
        self,
        client: ViberClient,
        translations: Translations,
        shorteners: dict[str, Shortener],
        record: Callable[[list[Receipt]], Awaitable[None]] | None = None,
        unsubscribed: Callable[[str], Awaitable[bool]] | None = None,
        files: FileLinks | None = None,
    ) -> None:
        self.client = client
        self.files = files  # files go as one-time links to Homeward, where it has a public address
        self.unsubscribed = unsubscribed
        self.translations = translations
        self.shorteners = shorteners
        self.record = record
        self.lines: OrderedDict[str, int] = OrderedDict()
        # Receipts that arrived before the send that caused them returned (Viber is quick): token → (status, error).
        self.early: OrderedDict[str, tuple[str, str | None]] = OrderedDict()

    def hold(self, token: str, status: str, error: str | None) -> None:
        """Keep a receipt of a token not yet known; it is recorded when its send returns."""
        self.early[token] = (status, error)
        while len(self.early) > self.KEEP:
            self.early.popitem(last=False)

    async def _remember(self, token: str, line: object) -> None:
        if not token or not isinstance(line, int):
            return
        self.lines[token] = line
        while len(self.lines) > self.KEEP:
            self.lines.popitem(last=False)
        early = self.early.pop(token, None)
        if early is not None and self.record is not None:
            await self.record([Receipt(line, *early)])

    def _document(self, payload: dict[str, Any], locale: str, shorten: Shortener) -> list[dict[str, Any]]:
        """A file: its caption, then a `file` message whose address is a one-time link to Homeward. Without a
        public address Viber cannot fetch it: the person is told so, and gets its content as messages."""
        caption = str(payload.get("caption") or "")
        content = str(payload.get("content") or "")
        if self.files is not None and self.files.available:
            name = str(payload.get("file_name") or "file.txt")[:MAX_FILE_NAME]
            messages: list[dict[str, Any]] = [{"type": "text", "text": caption}] if caption.strip() else []
            messages.append({"type": "file", "file_name": name, "size": max(1, len(content.encode("utf-8")))})
            return messages
        note = self.translations(locale).gettext(
            "Files cannot be sent in Viber here, because Homeward has no public address set up for them. "
            "Here is the same content as text."
        )
        return render({"text": "\n\n".join(p for p in (caption, note, content) if p)}, shorten)

    async def send(self, method: str, chat_id: str, payload: dict[str, Any], parts: Parts | None = None) -> Sent:
        if method == "answerCallbackQuery":
            return Sent(None)  # a keyboard reply needs no answer
        locale = str(payload.get("locale") or "sq")
        shorten = self.shorteners.get(locale) or self.shorteners["sq"]
        if method == "sendDocument":
            messages = self._document(payload, locale, shorten)
        elif method == "sendMessage":
            messages = render(payload, shorten)
        else:
            raise Permanent(f"unknown method {method}")
        if self.unsubscribed is not None and await self.unsubscribed(chat_id):
            raise Blocked("receiverNotSubscribed: the person unsubscribed")  # never messaged, not even tried

        async def send_one(message: dict[str, Any]) -> str:
            if message["type"] == "file" and self.files is not None:  # kept only when its turn comes
                content = str(payload.get("content") or "")
                file_id, media = await self.files.link(CHANNEL, chat_id, message["file_name"], content)
                try:
                    token = await self.client.send_message(chat_id, {**message, "media": media})
                except ViberError:  # refused: nobody can fetch it (after a timeout it may be, so it stays)
                    await self.files.discard(file_id)
                    raise
            else:
                token = await self.client.send_message(chat_id, message)
            await self._remember(token, payload.get("line"))
            return token

        try:
            return await send_parts(messages, send_one, parts)
        except ViberError as exc:
            raise classify(exc) from exc
        except (TimeoutError, ClientError, OSError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
