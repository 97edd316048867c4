"""WhatsApp through Meta's Cloud API (the Graph API): webhook events in, messages out.

A small client over the documented Graph API rather than a framework: Homeward needs four calls
(send a message, upload a file, read a media URL, read the phone number) and the raw error codes,
and its webhook must store each message in the inbox before Meta is answered, which a framework's
own webhook dispatch would not do.

In: `POST /whatsapp/webhook` carries messages and status callbacks. Each message is stored as its
own inbox row (idempotent on the message id); statuses update the transcript line named by the
`biz_opaque_callback_data` we sent with it. Out: an outbox row is rendered within WhatsApp's
limits (`render`): at most 3 reply buttons with titles of at most 20 characters, else a list of at
most 10 rows with titles of at most 24 (a catalog's shorter label, or the full label shown as the
row's description — never a cut word), bodies of at most 1024 characters beside buttons and 4096
otherwise. Outside the 24 hours since the person last wrote only an approved template may go: the
one configured for the message's purpose and the person's locale, or the line is skipped with the
reason `outside_window`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, FormData

from bot.channels import (
    Decoded,
    Identity,
    Incoming,
    Parts,
    Permanent,
    RetryLater,
    Sent,
    Skipped,
    Transient,
    send_parts,
)
from bot.channels.labels import Shortener
from bot.channels.receipts import Receipt
from bot.clock import Clock
from bot.events import Inbound
from bot.i18n import Translations, Translator
from bot.media import Fetched, Fetcher, Gone, TooBig, Unreachable
from bot.outbox import split_text
from db import jsontext

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
GRAPH_VERSION = "v21.0"
WINDOW = timedelta(hours=24)
MAX_TEXT = 4096
MAX_BUTTON_BODY = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_LIST_BUTTON = 20
MAX_CAPTION = 1024
MAX_TEMPLATE_TEXT = 900  # a template's body is at most 1024 characters, with its own words around ours
MEDIA = {"image": "photo", "audio": "audio", "video": "video", "document": "document", "sticker": "sticker"}
TEMPLATE_LANGUAGE = {"sq": "sq", "sr-Cyrl": "sr", "sr-Latn": "sr"}
# The follow-up template is approved with two quick-reply buttons ("Yes", "No"): an invitation's or an
# offer's two answers ride on them.
TEMPLATE_WITH_ANSWERS = "followup"
# Graph API error codes: throughput and pair rate (pause like Telegram's 429), outside the window,
# undeliverable; see Meta's "Error codes" page of the Cloud API.
RATE_LIMITED = {4: 60.0, 80007: 60.0, 130429: 5.0, 131056: 6.0}
RE_ENGAGEMENT = 131047
UNDELIVERABLE = 131026
TRANSIENT_CODES = {1, 2, 131000, 131016, 133004}


def handshake(params: dict[str, str], verify_token: str | None) -> str | None:
    """Meta's verification of the webhook: the challenge to echo, or None when the token is wrong."""
    if not verify_token or params.get("hub.mode") != "subscribe":
        return None
    given = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        return None
    return params.get("hub.challenge")


def signature_valid(app_secret: str | None, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256` is `sha256=` and the HMAC-SHA256 of the body with the app secret."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header[7:].strip().lower().encode())


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def event_id(message_id: str) -> int:
    """A stable inbox id for a WhatsApp message id: Meta's retries of a webhook are stored once."""
    digest = hashlib.sha256(f"{CHANNEL}\x00{message_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 62) - 1)


def split_webhook(body: dict[str, Any]) -> tuple[list[tuple[int, str, str]], list[Receipt]]:
    """A webhook body → (inbox rows (event id, wa_id, raw JSON), status receipts); ValueError when malformed.

    Changes of other fields (account updates, template reviews) are acknowledged and ignored.
    """
    if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
        raise ValueError("not a WhatsApp Business Account webhook")
    events: list[tuple[int, str, str]] = []
    receipts: list[Receipt] = []
    for entry in body.get("entry") or []:
        for change in entry.get("changes") or []:
            if change.get("field") != "messages":
                continue
            value = change["value"]
            names = {str(c.get("wa_id")): (c.get("profile") or {}).get("name") for c in value.get("contacts") or []}
            for message in value.get("messages") or []:
                sender, wamid = str(message["from"]), str(message["id"])
                if not wamid or not sender or "type" not in message:
                    raise ValueError("a message without id, sender or type")
                raw = {"message": message, "name": names.get(sender)}
                events.append((event_id(wamid), sender, jsontext.dumps(raw)))
            for status in value.get("statuses") or []:
                receipt = _receipt(status)
                if receipt is not None:
                    receipts.append(receipt)
    return events, receipts


def _receipt(status: dict[str, Any]) -> Receipt | None:
    opaque = str(status.get("biz_opaque_callback_data") or "")
    if not opaque.startswith("line:") or not opaque[5:].isdigit():
        return None  # a message Homeward did not send as a transcript line
    state = str(status.get("status"))
    if state not in ("sent", "delivered", "read", "failed"):
        return None
    error = None
    if state == "failed":
        errors = status.get("errors") or [{}]
        error = _reason(errors[0])
    return Receipt(int(opaque[5:]), state, error)


def _reason(error: dict[str, Any]) -> str:
    code = error.get("code")
    if code == RE_ENGAGEMENT:
        return f"outside_window ({code})"
    if code == UNDELIVERABLE:
        return f"undeliverable ({code})"
    title = str(error.get("title") or error.get("message") or "error")[:200]
    return f"{title} ({code})"


def decode(raw: str) -> Decoded:
    """A stored WhatsApp message → who wrote and what, shaped like any other channel's event."""
    stored = jsontext.loads(raw)
    message: dict[str, Any] = stored["message"]
    sender = str(message["from"])
    identity = Identity(CHANNEL, sender, sender)
    base: dict[str, Any] = {
        "channel_message_id": str(message["id"])[:128],
        "update_id": event_id(str(message["id"])),
        "display_name": stored.get("name"),
        "sent_at": datetime.fromtimestamp(int(message.get("timestamp") or 0), UTC)
        if message.get("timestamp")
        else None,
    }
    kind = message.get("type")
    if kind == "text":
        text = str((message.get("text") or {}).get("body") or "")
        if text.startswith("/"):
            head, _, args = text.partition(" ")
            return Incoming(identity, Inbound(kind="command", text=text, command=head[1:].lower(), args=args, **base))
        return Incoming(identity, Inbound(kind="text", text=text, **base))
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        choice = interactive.get("button_reply") or interactive.get("list_reply") or {}
        return Incoming(
            identity, Inbound(kind="button", data=str(choice.get("id") or ""), text=choice.get("title"), **base)
        )
    if kind == "button":  # a quick-reply button of a template
        button = message.get("button") or {}
        return Incoming(identity, Inbound(kind="button", data=str(button.get("payload") or ""), **base))
    if kind in MEDIA:
        media = message.get(kind) or {}
        our_kind = MEDIA[kind]
        if kind == "audio" and media.get("voice"):
            our_kind = "voice"
        return Incoming(
            identity,
            Inbound(
                kind=our_kind,
                text=media.get("caption"),
                file_id=str(media.get("id") or "") or None,
                payload={"mime_type": media.get("mime_type"), "file_name": media.get("filename")},
                **base,
            ),
        )
    if kind == "location":
        loc = message.get("location") or {}
        return Incoming(
            identity,
            Inbound(
                kind="location", payload={"latitude": loc.get("latitude"), "longitude": loc.get("longitude")}, **base
            ),
        )
    if kind == "contacts":
        contacts = message.get("contacts") or [{}]
        name = (contacts[0].get("name") or {}).get("formatted_name")
        phones = contacts[0].get("phones") or [{}]
        return Incoming(
            identity, Inbound(kind="contact", text=name, payload={"phone_number": phones[0].get("phone")}, **base)
        )
    return Incoming(identity, Inbound(kind="other", **base))


# ---- rendering ------------------------------------------------------------------------------------


def words_within(text: str, limit: int) -> str:
    """The leading whole words of `text` that fit in `limit` characters with an ellipsis; never a cut word."""
    if len(text) <= limit:
        return text
    words = text.split()
    kept: list[str] = []
    for word in words:
        if len(" ".join([*kept, word])) + 1 > limit:
            break
        kept.append(word)
    return (" ".join(kept) + "…") if kept else ""


def _fits(label: str, limit: int, shorten: Shortener) -> str | None:
    if len(label) <= limit:
        return label
    short = shorten(label)
    if short is not None and len(short) <= limit:
        return short
    return None


def _body_parts(text: str, last_limit: int) -> list[str]:
    """The text split for WhatsApp, its last part short enough to carry buttons."""
    parts = split_text(text, MAX_TEXT)
    last = split_text(parts[-1], last_limit)
    return [*parts[:-1], *last]


def render(payload: dict[str, Any], t: Translator, shorten: Shortener) -> list[dict[str, Any]]:
    """One outbox row's text and buttons → the Graph API message objects that carry it, in order."""
    text = str(payload.get("text") or "")
    choices = [b for row in payload.get("buttons") or [] for b in row]
    if not choices:
        return [{"type": "text", "text": {"body": part, "preview_url": False}} for part in split_text(text, MAX_TEXT)]
    titles = [_fits(str(b["text"]), MAX_BUTTON_TITLE, shorten) for b in choices]
    if len(choices) <= MAX_BUTTONS and all(titles):
        parts = _body_parts(text, MAX_BUTTON_BODY)
        messages = [{"type": "text", "text": {"body": part, "preview_url": False}} for part in parts[:-1]]
        buttons = [
            {"type": "reply", "reply": {"id": str(b["data"]), "title": title}}
            for b, title in zip(choices, titles, strict=True)
        ]
        messages.append(
            {
                "type": "interactive",
                "interactive": {"type": "button", "body": {"text": parts[-1]}, "action": {"buttons": buttons}},
            }
        )
        return messages
    parts = split_text(text, MAX_TEXT)
    messages = [{"type": "text", "text": {"body": part, "preview_url": False}} for part in parts[:-1]]
    body = parts[-1]
    choose = words_within(t.gettext("Choose"), MAX_LIST_BUTTON)
    for start in range(0, len(choices), MAX_ROWS):
        rows = [_row(b, shorten) for b in choices[start : start + MAX_ROWS]]
        messages.append(
            {
                "type": "interactive",
                "interactive": {
                    "type": "list",
                    "body": {"text": body},
                    "action": {"button": choose, "sections": [{"rows": rows}]},
                },
            }
        )
        body = t.gettext("More choices:")
    return messages


def _row(button: dict[str, Any], shorten: Shortener) -> dict[str, Any]:
    label = str(button["text"])
    row: dict[str, Any] = {"id": str(button["data"])}
    title = _fits(label, MAX_ROW_TITLE, shorten)
    if title is None:
        row["title"] = words_within(label, MAX_ROW_TITLE)
        row["description"] = words_within(label, MAX_ROW_DESCRIPTION)
    else:
        row["title"] = title
        if title != label:
            row["description"] = words_within(label, MAX_ROW_DESCRIPTION)
    return row


def template_message(name: str, locale: str, text: str, choices: list[str] | None = None) -> dict[str, Any] | None:
    """An approved template carrying `text` as its one body parameter; None when the text cannot ride on it.

    Template parameters may hold no line breaks or tabs, nor more than four spaces in a row. With
    `choices`, the template's quick-reply buttons (approved as "Yes" and "No") carry the row's two
    button answers, so a follow-up invitation can still be started with one tap.
    """
    flat = re.sub(r"\s+", " ", text).strip()
    if not flat or len(flat) > MAX_TEMPLATE_TEXT:
        return None
    components: list[dict[str, Any]] = [{"type": "body", "parameters": [{"type": "text", "text": flat}]}]
    for index, data in enumerate(choices or []):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": data}],
            }
        )
    return {
        "type": "template",
        "template": {"name": name, "language": {"code": TEMPLATE_LANGUAGE.get(locale, "sq")}, "components": components},
    }


# ---- sending ------------------------------------------------------------------------------------


class GraphError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('message') or 'Graph API error'} ({error.get('code')})")
        self.status = status
        self.error = error

    @property
    def code(self) -> int | None:
        code = self.error.get("code")
        return int(code) if isinstance(code, int) else None


class GraphClient:
    """The few Graph API calls Homeward makes, over one aiohttp session."""

    def __init__(self, api_base: str, token: str, phone_number_id: str, timeout: float = 30.0) -> None:
        self.base = f"{api_base.rstrip('/')}/{GRAPH_VERSION}"
        self.token = token
        self.phone_number_id = phone_number_id
        self.timeout = ClientTimeout(total=timeout)
        self._session: ClientSession | None = None

    def _http(self) -> ClientSession:
        if self._session is None or self._session.closed:
            self._session = ClientSession(
                headers={"Authorization": f"Bearer {self.token}"}, timeout=self.timeout, json_serialize=jsontext.dumps
            )
        return self._session

    async def _answer(self, response: Any) -> dict[str, Any]:
        try:
            body = await response.json(content_type=None, loads=jsontext.loads)
        except (ValueError, ClientError):
            body = None
        if not isinstance(body, dict):
            body = {}
        if response.status >= 400 or "error" in body:
            raise GraphError(response.status, body.get("error") or {"message": f"HTTP {response.status}"})
        return body

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        async with self._http().request(method, f"{self.base}/{path}", **kwargs) as response:
            return await self._answer(response)

    async def send_message(self, to: str, message: dict[str, Any]) -> str:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **message}
        answer = await self.call("POST", f"{self.phone_number_id}/messages", json=body)
        return str((answer.get("messages") or [{}])[0].get("id") or "")

    async def upload(self, name: str, content: bytes, mime: str) -> str:
        form = FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime)
        form.add_field("file", content, filename=name, content_type=mime)
        answer = await self.call("POST", f"{self.phone_number_id}/media", data=form)
        return str(answer.get("id") or "")

    async def media(self, media_id: str) -> tuple[bytes, str]:
        """A received media file: its bytes and type (the URL Meta gives is short-lived and needs the token)."""
        info = await self.call("GET", media_id)
        async with self._http().get(str(info["url"])) as response:
            if response.status >= 400:
                raise GraphError(response.status, {"message": f"HTTP {response.status}"})
            return await response.read(), str(info.get("mime_type") or "application/octet-stream")

    async def phone_number(self) -> dict[str, Any]:
        return await self.call("GET", self.phone_number_id, params={"fields": "display_phone_number,verified_name"})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def media_fetcher(client: GraphClient) -> Fetcher:
    """A received media file through the Graph API (its short-lived URL needs the token, which stays here)."""

    async def fetch(media_id: str, payload: dict[str, Any], most: int) -> Fetched:
        try:
            content, media_type = await client.media(media_id)
        except GraphError as exc:
            if exc.status in (400, 404, 410) or exc.code == 100:
                raise Gone(media_id) from exc  # Meta keeps received media 30 days
            raise Unreachable(str(exc.code)) from exc
        except (ClientError, OSError, TimeoutError, KeyError) as exc:
            raise Unreachable(type(exc).__name__) from exc
        if len(content) > most:
            raise TooBig(media_id)
        return Fetched(content, media_type, None)

    return fetch


def classify(exc: GraphError) -> Exception:
    """A Graph API error → what delivery does with it."""
    code = exc.code
    if code in RATE_LIMITED:
        return RetryLater(RATE_LIMITED[code], str(exc))
    if code == RE_ENGAGEMENT:
        return Skipped(_reason(exc.error))
    if code == UNDELIVERABLE:
        return Permanent(_reason(exc.error))
    if exc.status >= 500 or code in TRANSIENT_CODES or code == 190:  # 190: the token expired; fixed, it goes on
        return Transient(str(exc))
    return Permanent(_reason(exc.error))


class WhatsAppSender:
    """Outbox rows → Graph API messages: rendered within the limits, the 24-hour window kept.

    A row of several messages (a long text, then its buttons) resumes after the last one Meta accepted.
    """

    parted = True

    def __init__(
        self,
        client: GraphClient,
        translations: Translations,
        clock: Clock,
        templates: dict[str, str],
        shorten_for: Callable[[str], Shortener],
    ) -> None:
        self.client = client
        self.translations = translations
        self.clock = clock
        self.templates = templates
        self.shorten_for = shorten_for

    async def send(self, method: str, chat_id: str, payload: dict[str, Any], parts: Parts | None = None) -> Sent:
        if method == "answerCallbackQuery":
            return Sent(None)  # WhatsApp has no button answer to send
        locale = str(payload.get("locale") or "sq")
        if locale not in TEMPLATE_LANGUAGE:
            locale = "sq"
        extra: dict[str, Any] = {}
        if payload.get("line"):
            extra["biz_opaque_callback_data"] = f"line:{payload['line']}"
        try:
            if self._outside_window(payload):
                if parts is not None and parts.done:
                    # Its first messages went out while the window was open; the rest may not go free,
                    # and the template would repeat what the person already has.
                    raise Skipped("outside_window")
                return Sent(await self.client.send_message(chat_id, {**self._template(payload, locale), **extra}))
            if method == "sendDocument":
                content = str(payload.get("content") or "").encode()
                name = str(payload.get("file_name") or "file.txt")
                media_id = await self.client.upload(name, content, "text/plain")
                document = {"id": media_id, "filename": name}
                caption = words_within(str(payload.get("caption") or ""), MAX_CAPTION)
                if caption:
                    document["caption"] = caption
                return Sent(
                    await self.client.send_message(chat_id, {"type": "document", "document": document, **extra})
                )
            if method != "sendMessage":
                raise Permanent(f"unknown method {method}")
            messages = render(payload, self.translations(locale), self.shorten_for(locale))
            return await send_parts(
                messages, lambda message: self.client.send_message(chat_id, {**message, **extra}), parts
            )
        except GraphError as exc:
            raise classify(exc) from exc
        except (TimeoutError, ClientError, OSError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc

    def _outside_window(self, payload: dict[str, Any]) -> bool:
        until = payload.get("window_until")
        return bool(until) and self.clock.now() >= datetime.fromisoformat(str(until))

    def _template(self, payload: dict[str, Any], locale: str) -> dict[str, Any]:
        purpose = str(payload.get("purpose") or "")
        name = self.templates.get(f"{purpose}:{locale}") if purpose else None
        text = str(payload.get("text") or payload.get("caption") or "")
        choices = [str(b["data"]) for row in payload.get("buttons") or [] for b in row]
        answers = choices if purpose == TEMPLATE_WITH_ANSWERS and len(choices) == 2 else None
        message = template_message(name, locale, text, answers) if name else None
        if message is None:
            raise Skipped("outside_window")
        return message
