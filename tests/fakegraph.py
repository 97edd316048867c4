"""A local fake of Meta's Graph API (WhatsApp Cloud API) for tests and benchmarks.

It answers `POST /<version>/<phone number id>/messages` and `/media`, `GET /<version>/<media id>`
and the phone number, and it enforces the platform's rules the way the real API does: the bearer
token, reply buttons (1 to 3, titles of 1 to 20 characters, unique ids), lists (at most 10 rows,
titles of at most 24, descriptions of at most 72, a button label of at most 20), bodies of at most
1024 characters beside buttons and 4096 otherwise, approved template names, and the 24-hour window
(a free message to someone who has not written in 24 hours is accepted, then reported failed with
error 131047, as Meta does). Every violation is also kept in `violations`, so a test can assert there
was none. Each accepted message is reported back through the webhook as `sent`, then `delivered`,
signed with the app secret like Meta's.

A `WaPerson` writes to Homeward through the same webhook: text, button and list replies (only to
buttons that were offered), media and location, and the text a wa.me link fills in (`opens`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from bot.channels.whatsapp import sign
from tests.fakebot import serve

TOKEN = "EAAG-test-whatsapp-token"
PHONE_NUMBER_ID = "100200300"
APP_SECRET = "whatsapp-app-secret"
VERIFY_TOKEN = "whatsapp-verify-token"
DISPLAY_NUMBER = "+383 44 000 000"  # the number people write to, as people write it
WA_ME_NUMBER = "".join(c for c in DISPLAY_NUMBER if c.isdigit())  # as wa.me links carry it
WINDOW = timedelta(hours=24)

Poster = Callable[[bytes, dict[str, str]], Awaitable[int]]


@dataclass
class Sent:
    to: str
    message: dict[str, Any]
    wamid: str
    at: float


def _error(code: int, message: str, status: int = 400) -> web.Response:
    body = {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "fake"}}
    return web.json_response(body, status=status)


@dataclass
class FakeGraphApi:
    host: str = "127.0.0.1"
    port: int = 0
    templates: set[str] = field(default_factory=set)
    templates_with_buttons: set[str] = field(default_factory=set)  # approved with two quick replies
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    receipts: bool = True  # report sent and delivered through the webhook
    fault: Callable[[dict[str, Any]], tuple[int, str, int] | None] | None = None  # → (code, message, status)

    def __post_init__(self) -> None:
        self.sent: list[Sent] = []
        self.violations: list[str] = []
        self.last_inbound: dict[str, datetime] = {}
        self.media: dict[str, tuple[bytes, str]] = {}
        self.uploads: dict[str, bytes] = {}
        self.post: Poster | None = None
        self._ids = itertools.count(1)
        self._event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.webhook_answers: list[int] = []
        self.receipts_answered = 0  # receipts Homeward has answered (200 or not)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FakeGraphApi:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/{version}/{phone}/messages", self._messages)
        app.router.add_post("/{version}/{phone}/media", self._upload)
        app.router.add_get("/download/{media}", self._download)
        app.router.add_get("/{version}/{node}", self._node)
        self._runner, self.port = await serve(app, self.host, self.port)
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            await asyncio.gather(task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- what was sent -----------------------------------------------------------------------

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        return [s.message for s in self.sent if to is None or s.to == to]

    def texts(self, to: str | None = None) -> list[str]:
        return [text_of(m) for m in self.messages(to)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached; sent so far: " + json.dumps(self.texts()[-10:])[:2000])
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), timeout=0.05)
            except TimeoutError:
                pass

    # ---- the person's side: webhooks to Homeward ------------------------------------------------

    async def deliver(self, value: dict[str, Any], *, secret: str = APP_SECRET) -> int:
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
            }
        ).encode()
        assert self.post is not None, "the test connects the fake to Homeward's webhook"
        status = await self.post(body, {"X-Hub-Signature-256": sign(secret, body), "Content-Type": "application/json"})
        self.webhook_answers.append(status)
        return status

    def _report(
        self, to: str, wamid: str, opaque: str | None, status: str, error: dict[str, Any] | None = None
    ) -> None:
        if self.post is None:
            return
        entry: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": to,
        }
        if opaque:
            entry["biz_opaque_callback_data"] = opaque
        if error:
            entry["errors"] = [error]
        value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID}, "statuses": [entry]}
        task = asyncio.create_task(self._deliver_quietly(value))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_quietly(self, value: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        try:
            await self.deliver(value)
        except Exception:  # Homeward stopping while a receipt is on its way, as may happen for real
            self.webhook_answers.append(0)
        self.receipts_answered += 1

    # ---- HTTP ------------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {TOKEN}"

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return _error(190, "Invalid OAuth access token.", 401)
        if request.match_info["phone"] != PHONE_NUMBER_ID:
            return _error(100, "Unsupported post request: unknown phone number id")
        body = await request.json()
        if self.fault is not None:
            injected = self.fault(body)
            if injected is not None:
                code, message, status = injected
                return _error(code, message, status)
        to = str(body.get("to") or "")
        problem = self._check(body)
        if problem is not None:
            self.violations.append(problem)
            return _error(131009, f"(#131009) Parameter value is not valid: {problem}")
        wamid = f"wamid.HBgL{next(self._ids):012d}FakeGraphApiMessageIdentifier"
        message = {k: v for k, v in body.items() if k not in ("messaging_product", "recipient_type", "to")}
        opaque = message.pop("biz_opaque_callback_data", None)
        self.sent.append(Sent(to, message, wamid, time.monotonic()))
        self._event.set()
        last = self.last_inbound.get(to)
        if message.get("type") != "template" and (last is None or self.now() - last > WINDOW):
            self.violations.append(f"free message to {to} outside the 24-hour window")
            error = {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}
            self._report(to, wamid, opaque, "failed", error)
        elif self.receipts:
            self._report(to, wamid, opaque, "sent")
            self._report(to, wamid, opaque, "delivered")
        return web.json_response(
            {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": wamid}]}
        )

    def _check(self, body: dict[str, Any]) -> str | None:
        """What the real API refuses, as a sentence; None when the message is valid."""
        if body.get("messaging_product") != "whatsapp":
            return "messaging_product must be whatsapp"
        if not str(body.get("to") or "").isdigit():
            return "to must be a phone number"
        opaque = body.get("biz_opaque_callback_data")
        if opaque is not None and len(str(opaque)) > 512:
            return "biz_opaque_callback_data longer than 512"
        kind = body.get("type")
        if kind == "text":
            text = str((body.get("text") or {}).get("body") or "")
            if not text.strip():
                return "text body empty"
            if len(text) > 4096:
                return f"text body of {len(text)} characters (at most 4096)"
            return None
        if kind == "interactive":
            return self._check_interactive(body.get("interactive") or {})
        if kind == "template":
            template = body.get("template") or {}
            if template.get("name") not in self.templates:
                return f"template {template.get('name')!r} is not approved"
            buttons = [c for c in template.get("components") or [] if c.get("type") == "button"]
            if buttons and template.get("name") not in self.templates_with_buttons:
                return f"template {template.get('name')!r} has no buttons"
            for component in template.get("components") or []:
                for parameter in component.get("parameters") or []:
                    text = str(parameter.get("text") or "")
                    if "\n" in text or "\t" in text or "     " in text or len(text) > 1024:
                        return "template parameter with new lines, tabs, 5 spaces, or over 1024 characters"
            return None
        if kind == "document":
            document = body.get("document") or {}
            if document.get("id") not in self.uploads:
                return "document id was not uploaded"
            if len(str(document.get("caption") or "")) > 1024:
                return "caption longer than 1024"
            return None
        return f"unsupported message type {kind!r}"

    def _check_interactive(self, interactive: dict[str, Any]) -> str | None:
        body = str((interactive.get("body") or {}).get("text") or "")
        if not body.strip():
            return "interactive body empty"
        action = interactive.get("action") or {}
        if interactive.get("type") == "button":
            if len(body) > 1024:
                return f"button message body of {len(body)} characters (at most 1024)"
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= 3:
                return f"{len(buttons)} reply buttons (1 to 3)"
            ids = [b["reply"]["id"] for b in buttons]
            if len(set(ids)) != len(ids):
                return "reply button ids not unique"
            for b in buttons:
                title, ident = str(b["reply"].get("title") or ""), str(b["reply"]["id"])
                if not 1 <= len(title) <= 20:
                    return f"button title {title!r} of {len(title)} characters (1 to 20)"
                if not 1 <= len(ident) <= 256:
                    return "button id of more than 256 characters"
            return None
        if interactive.get("type") == "list":
            if len(body) > 4096:
                return f"list body of {len(body)} characters (at most 4096)"
            label = str(action.get("button") or "")
            if not 1 <= len(label) <= 20:
                return f"list button label {label!r} (1 to 20 characters)"
            sections = action.get("sections") or []
            if not 1 <= len(sections) <= 10 or (len(sections) > 1 and not all(s.get("title") for s in sections)):
                return "list sections: 1 to 10, titled when more than one"
            rows = [row for s in sections for row in s.get("rows") or []]
            if not 1 <= len(rows) <= 10:
                return f"{len(rows)} list rows (1 to 10)"
            if len({r["id"] for r in rows}) != len(rows):
                return "list row ids not unique"
            for row in rows:
                title = str(row.get("title") or "")
                if not 1 <= len(title) <= 24:
                    return f"row title {title!r} of {len(title)} characters (1 to 24)"
                if len(str(row.get("description") or "")) > 72:
                    return "row description longer than 72"
                if not 1 <= len(str(row["id"])) <= 200:
                    return "row id of more than 200 characters"
            return None
        return f"unsupported interactive type {interactive.get('type')!r}"

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return _error(190, "Invalid OAuth access token.", 401)
        form = await request.post()
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp" or not isinstance(upload, web.FileField):
            return _error(100, "messaging_product and file are required")
        media_id = f"up{next(self._ids)}"
        self.uploads[media_id] = upload.file.read()
        return web.json_response({"id": media_id})

    async def _node(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return _error(190, "Invalid OAuth access token.", 401)
        node = request.match_info["node"]
        if node == PHONE_NUMBER_ID:
            return web.json_response({"id": node, "display_phone_number": DISPLAY_NUMBER, "verified_name": "Homeward"})
        if node in self.media:
            _content, mime = self.media[node]
            return web.json_response({"id": node, "url": f"{self.base}/download/{node}", "mime_type": mime})
        return _error(100, f"Unsupported get request. Object with ID '{node}' does not exist")

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return web.Response(status=401)
        found = self.media.get(request.match_info["media"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[0], content_type=found[1])


def text_of(message: dict[str, Any]) -> str:
    """The words a person reads in a message: its text, its interactive body, a template's parameter."""
    kind = message.get("type")
    if kind == "text":
        return str(message["text"]["body"])
    if kind == "interactive":
        return str(message["interactive"]["body"]["text"])
    if kind == "template":
        components = message["template"].get("components") or []
        return " ".join(str(p.get("text")) for c in components for p in c.get("parameters") or [])
    if kind == "document":
        return str(message["document"].get("caption") or "")
    return ""


def choices_of(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, title) of the buttons or list rows a message offers (a template's quick replies: payload, Yes/No)."""
    if message.get("type") == "template":
        payloads = [
            c["parameters"][0]["payload"] for c in message["template"].get("components") or [] if c["type"] == "button"
        ]
        return list(zip(payloads, ("Yes", "No"), strict=False))
    if message.get("type") != "interactive":
        return []
    interactive = message["interactive"]
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        return [(b["reply"]["id"], b["reply"]["title"]) for b in action.get("buttons") or []]
    return [(r["id"], r["title"]) for s in action.get("sections") or [] for r in s.get("rows") or []]


class WaPerson:
    """A WhatsApp user writing to the Homeward number."""

    _ids = itertools.count(1)

    def __init__(self, api: FakeGraphApi, wa_id: str, name: str = "Test") -> None:
        self.api = api
        self.id = wa_id
        self.name = name

    def _value(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": self.name}, "wa_id": self.id}],
            "messages": [message],
        }

    def _message(self, kind: str, **content: Any) -> dict[str, Any]:
        return {
            "from": self.id,
            "id": f"wamid.in{next(self._ids):010d}{self.id}",
            "timestamp": str(int(self.api.now().timestamp())),
            "type": kind,
            **content,
        }

    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        self.api.last_inbound[self.id] = self.api.now()
        status = await self.api.deliver(self._value(message))
        assert status == 200, f"the webhook answered {status}"
        return message

    async def says(self, text: str) -> dict[str, Any]:
        return await self.send(self._message("text", text={"body": text}))

    async def opens(self, link: str) -> dict[str, Any]:
        """Opens a wa.me link to the business number and sends the text it fills in, as WhatsApp does."""
        parts = urlsplit(link)
        number = WA_ME_NUMBER
        assert parts.scheme == "https" and parts.netloc == "wa.me" and parts.path == f"/{number}", link
        return await self.says(parse_qs(parts.query)["text"][0])

    async def presses(self, data: str) -> dict[str, Any]:
        """Tap a reply button or list row Homeward offered (the newest offer with that id)."""
        for message in reversed(self.api.messages(self.id)):
            if message.get("type") == "template":
                payloads = [
                    c["parameters"][0]["payload"] for c in message["template"]["components"] if c["type"] == "button"
                ]
                if data in payloads:
                    button = {"payload": data, "text": ("Yes", "No")[payloads.index(data)]}
                    return await self.send(self._message("button", button=button))
            for ident, title in choices_of(message):
                if ident == data:
                    kind = "button_reply" if message["interactive"]["type"] == "button" else "list_reply"
                    reply = {"type": kind, kind: {"id": ident, "title": title}}
                    return await self.send(self._message("interactive", interactive=reply))
        raise AssertionError(f"no button {data!r} was offered to {self.id}")

    async def sends_media(self, kind: str, content: bytes, mime: str, caption: str | None = None) -> str:
        media_id = f"media{next(self._ids)}"
        self.api.media[media_id] = (content, mime)
        media: dict[str, Any] = {"id": media_id, "mime_type": mime}
        if caption:
            media["caption"] = caption
        await self.send(self._message(kind, **{kind: media}))
        return media_id

    def texts(self) -> list[str]:
        return self.api.texts(self.id)

    def buttons(self, index: int = -1) -> list[str]:
        return [ident for ident, _ in self.choices(index)]

    def choices(self, index: int = -1) -> list[tuple[str, str]]:
        """(id, title) of the `index`-th message that offered buttons or a list."""
        offers = [m for m in self.api.messages(self.id) if choices_of(m)]
        return choices_of(offers[index])
