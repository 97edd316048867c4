"""A local fake of the Viber REST bot API for tests.

It answers `POST /pa/send_message`, `/pa/set_webhook` and `/pa/get_account_info`, and it enforces
the platform's rules the way the real API does: the `X-Viber-Auth-Token`, a sender name of at most
28 characters, texts of 1 to 7,000 characters, keyboards of 1 to 24 buttons (Columns 1 to 6,
Rows 1 to 2, a reply's ActionBody of 1 to 255 characters, a Text of at most 250) and a receiver
who is subscribed (status 6, `receiverNotSubscribed`, otherwise); a `file` message needs an address
ending in a name with an extension, a size of 1 byte to 50 MB, a name of at most 256 characters and
not a kind Viber refuses, and is fetched from its address as Viber does (`fetch`). Every violation is also kept in
`violations`, so a test can assert there was none. Each accepted message is reported back through
the webhook as `delivered`; every callback is signed with the token like Viber's.

A `ViberPerson` writes to Homeward through the same webhook: opens the conversation, subscribes
and unsubscribes, writes, and taps keyboard buttons (only ones that were offered).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from bot.channels.viber import sign
from tests.fakebot import serve

TOKEN = "4453b6ac12345678-e02c5f12174805f9-9a652d3b0b48b3b7"
CHAT_URI = "homeward"  # the bot account's URI, as in its links
# Viber refuses files of these kinds (its "forbidden file formats").
FORBIDDEN_EXTENSIONS = frozenset(
    "apk app bat bin cmd com command cpl csh dll dmg exe gadget inf1 ins inx ipa isu job jse ksh lnk msc msi msp mst "
    "osx out paf pif prg ps1 reg rgs run scr sct shb shs u3 vb vbe vbs vbscript workflow ws wsf".split()
)
Fetcher = Callable[[str], Awaitable[tuple[int, bytes]]]

Poster = Callable[[bytes, dict[str, str]], Awaitable[tuple[int, bytes]]]


@dataclass
class Sent:
    to: str
    message: dict[str, Any]
    token: str


def _status(status: int, message: str) -> web.Response:
    return web.json_response({"status": status, "status_message": message})


@dataclass
class FakeViberApi:
    host: str = "127.0.0.1"
    port: int = 0
    receipts: bool = True  # report delivered through the webhook
    fault: Callable[[dict[str, Any]], tuple[int, str] | None] | None = None  # → (status, status_message)
    # A receipt Viber reports before it answers the send itself: event name (and `desc` for `failed`).
    report_first: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        self.sent: list[Sent] = []
        self.violations: list[str] = []
        self.subscribed: set[str] = set()
        self.media: dict[str, tuple[bytes, str]] = {}  # files people sent, by name, while Viber keeps them
        self.welcomes: dict[str, list[dict[str, Any]]] = {}  # user id → welcome messages answered
        self.webhook: str | None = None
        self.post: Poster | None = None
        self.fetch: Fetcher | None = None  # how Viber's servers reach Homeward's file links
        self.files: dict[str, bytes] = {}  # message token → the file fetched for it
        self.answers: list[int] = []
        self.receipts_answered = 0
        self._tokens = itertools.count(5_491_000_000_000_000_001)
        self._event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FakeViberApi:
        app = web.Application()
        app.router.add_post("/pa/send_message", self._send)
        app.router.add_post("/pa/set_webhook", self._set_webhook)
        app.router.add_post("/pa/get_account_info", self._account)
        app.router.add_get("/media/{name}", self._download)
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
        return [str(m.get("text") or "") for m in self.messages(to)]

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

    # ---- callbacks to Homeward ------------------------------------------------------------------

    async def callback(self, body: dict[str, Any], *, token: str = TOKEN) -> tuple[int, dict[str, Any]]:
        raw = json.dumps(body).encode()
        assert self.post is not None, "the test connects the fake to Homeward's webhook"
        status, answer = await self.post(raw, {"X-Viber-Content-Signature": sign(token, raw)})
        self.answers.append(status)
        try:
            parsed = json.loads(answer) if answer else {}
        except ValueError:
            parsed = {}
        return status, parsed if isinstance(parsed, dict) else {}

    def _report(self, to: str, token: str) -> None:
        if self.post is None:
            return
        body = {"event": "delivered", "timestamp": int(time.time() * 1000), "message_token": int(token), "user_id": to}
        task = asyncio.create_task(self._report_quietly(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report_quietly(self, body: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        try:
            await self.callback(body)
        except Exception:  # Homeward stopping while a receipt is on its way, as may happen for real
            self.answers.append(0)
        self.receipts_answered += 1

    # ---- HTTP ------------------------------------------------------------------------------------

    async def _send(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Viber-Auth-Token") != TOKEN:
            return _status(2, "invalidAuthToken")
        body = await request.json()
        if self.fault is not None:
            injected = self.fault(body)
            if injected is not None:
                return _status(*injected)
        to = str(body.get("receiver") or "")
        problem = self.check(body)
        if problem is not None:
            self.violations.append(problem)
            return _status(3, f"badData: {problem}")
        if to not in self.subscribed:
            self.violations.append(f"a message to {to}, who is not subscribed")
            return _status(6, "receiverNotSubscribed")
        token = str(next(self._tokens))
        message = {k: v for k, v in body.items() if k not in ("receiver", "sender", "min_api_version")}
        if message.get("type") == "file" and self.fetch is not None:  # Viber takes the file from its address
            status, content = await self.fetch(str(message["media"]))
            if status != 200:
                self.violations.append(f"file address answered {status}")
                return _status(3, f"badData: the file address answered {status}")
            self.files[token] = content
        self.sent.append(Sent(to, message, token))
        self._event.set()
        if self.report_first is not None and self.post is not None:
            event, desc = self.report_first
            early = {"event": event, "timestamp": int(time.time() * 1000), "message_token": int(token)}
            await self.callback({**early, "user_id": to, "desc": desc})
        if self.receipts:
            self._report(to, token)
        return web.json_response({"status": 0, "status_message": "ok", "message_token": int(token)})

    def check(self, body: dict[str, Any]) -> str | None:
        """What the real API refuses, as a sentence; None when the message (or welcome) is valid."""
        sender = body.get("sender") or {}
        if not 1 <= len(str(sender.get("name") or "")) <= 28:
            return "sender name of 1 to 28 characters"
        if body.get("type") == "file":
            return self.check_file(body)
        if body.get("type") != "text":
            return f"unsupported message type {body.get('type')!r}"
        text = str(body.get("text") or "")
        if not text.strip():
            return "text empty"
        if len(text) > 7000:
            return f"text of {len(text)} characters (at most 7000)"
        board = body.get("keyboard")
        if board is None:
            return None
        if board.get("Type") != "keyboard":
            return "keyboard Type must be keyboard"
        buttons = board.get("Buttons") or []
        if not 1 <= len(buttons) <= 24:
            return f"{len(buttons)} keyboard buttons (1 to 24)"
        if any(b.get("Silent") for b in buttons) and int(body.get("min_api_version") or 1) < 3:
            return "silent buttons need min_api_version 3"
        for b in buttons:
            if not 1 <= int(b.get("Columns", 6)) <= 6 or not 1 <= int(b.get("Rows", 1)) <= 2:
                return f"button of {b.get('Columns')} columns and {b.get('Rows')} rows (1 to 6, 1 to 2)"
            if b.get("ActionType", "reply") != "reply":
                return f"action type {b.get('ActionType')!r}"
            action = str(b.get("ActionBody") or "")
            if not 1 <= len(action) <= 255:
                return f"ActionBody of {len(action)} characters (1 to 255)"
            if len(str(b.get("Text") or "")) > 250:
                return "button Text longer than 250"
        return None

    def check_file(self, body: dict[str, Any]) -> str | None:
        """A `file` message: an http(s) address whose last segment has the file's extension, a size of
        1 byte to 50 MB, a name of at most 256 characters and not of a kind Viber refuses."""
        media, name, size = str(body.get("media") or ""), str(body.get("file_name") or ""), body.get("size")
        last = urlsplit(media).path.rsplit("/", 1)[-1]
        if urlsplit(media).scheme not in ("http", "https") or "." not in last:
            return "file media must be an address ending in a name with an extension"
        if not isinstance(size, int) or not 1 <= size <= 50 * 1024 * 1024:
            return f"file size {size!r} (1 byte to 50 MB)"
        if not 1 <= len(name) <= 256:
            return "file_name of 1 to 256 characters"
        if name.rsplit(".", 1)[-1].lower() in FORBIDDEN_EXTENSIONS:
            return f"a file of a kind Viber refuses: {name}"
        return None

    async def _set_webhook(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Viber-Auth-Token") != TOKEN:
            return _status(2, "invalidAuthToken")
        body = await request.json()
        url = str(body.get("url") or "")
        if not url.startswith("https://"):
            return _status(1, "invalidUrl")
        if self.post is not None:  # Viber calls the address at once and wants a 200
            status, _ = await self.callback(
                {"event": "webhook", "timestamp": int(time.time() * 1000), "message_token": 1}
            )
            if status != 200:
                return _status(1, f"invalidUrl: the webhook answered {status}")
        self.webhook = url
        return web.json_response({"status": 0, "status_message": "ok", "event_types": body.get("event_types") or []})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        found = self.media.get(request.match_info["name"])
        if found is None:
            return web.Response(status=403)  # the address expired
        return web.Response(body=found[0], content_type=found[1])

    async def _account(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Viber-Auth-Token") != TOKEN:
            return _status(2, "invalidAuthToken")
        return web.json_response(
            {"status": 0, "status_message": "ok", "id": "pa:75346594275468546724", "name": "Homeward",
             "uri": CHAT_URI, "webhook": self.webhook or ""}
        )  # fmt: skip


def buttons_of(message: dict[str, Any]) -> list[str]:
    return [str(b["ActionBody"]) for b in (message.get("keyboard") or {}).get("Buttons") or []]


class ViberPerson:
    """A Viber user writing to the Homeward bot account."""

    _ids = itertools.count(1)

    def __init__(self, api: FakeViberApi, user_id: str, name: str = "Test", language: str = "en") -> None:
        self.api = api
        self.id = user_id
        self.name = name
        self.language = language

    def _user(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "language": self.language, "country": "XK", "api_version": 10}

    def _token(self) -> int:
        return 7_000_000_000_000_000_000 + next(self._ids)

    async def opens(self, *, subscribed: bool = False, link: str | None = None) -> dict[str, Any]:
        """Opens the conversation with the bot, maybe through a deep link (`viber://pa?chatURI=…&context=…`):
        returns the welcome message Homeward answered with."""
        body: dict[str, Any] = {
            "event": "conversation_started",
            "timestamp": int(time.time() * 1000),
            "message_token": self._token(),
            "type": "open",
            "user": self._user(),
            "subscribed": subscribed,
        }
        if link is not None:
            query = parse_qs(urlsplit(link).query)
            assert link.startswith("viber://pa?") and query.get("chatURI") == [CHAT_URI], f"not this bot: {link}"
            body["context"] = query["context"][0]
        status, welcome = await self.api.callback(body)
        assert status == 200, f"the webhook answered {status}"
        if welcome:
            problem = self.api.check(welcome)
            if problem is not None:
                self.api.violations.append(f"welcome: {problem}")
            self.api.welcomes.setdefault(self.id, []).append(welcome)
        return welcome

    async def subscribes(self) -> None:
        self.api.subscribed.add(self.id)
        body = {"event": "subscribed", "timestamp": int(time.time() * 1000), "message_token": self._token()}
        status, _ = await self.api.callback({**body, "user": self._user()})
        assert status == 200, f"the webhook answered {status}"

    async def unsubscribes(self) -> None:
        self.api.subscribed.discard(self.id)
        body = {"event": "unsubscribed", "timestamp": int(time.time() * 1000), "message_token": self._token()}
        status, _ = await self.api.callback({**body, "user_id": self.id})
        assert status == 200, f"the webhook answered {status}"

    def message_body(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": "message",
            "timestamp": int(time.time() * 1000),
            "message_token": self._token(),
            "sender": self._user(),
            "message": message,
        }

    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        self.api.subscribed.add(self.id)  # writing to the bot subscribes
        body = self.message_body(message)
        status, _ = await self.api.callback(body)
        assert status == 200, f"the webhook answered {status}"
        return body

    async def says(self, text: str) -> dict[str, Any]:
        return await self.send({"type": "text", "text": text})

    async def presses(self, data: str) -> dict[str, Any]:
        """Tap a keyboard button Homeward offered (the newest offer with that ActionBody)."""
        offers = [*self.api.welcomes.get(self.id, []), *self.api.messages(self.id)]
        if any(data in buttons_of(m) for m in offers):
            return await self.send({"type": "text", "text": data})
        raise AssertionError(f"no button {data!r} was offered to {self.id}")

    def texts(self) -> list[str]:
        return self.api.texts(self.id)

    def buttons(self, index: int = -1) -> list[str]:
        return [data for data, _ in self.choices(index)]

    def choices(self, index: int = -1) -> list[tuple[str, str]]:
        """(ActionBody, Text) of the keyboard of the `index`-th message that carried one."""
        offers = [m for m in self.api.messages(self.id) if buttons_of(m)]
        return [(str(b["ActionBody"]), str(b.get("Text") or "")) for b in offers[index]["keyboard"]["Buttons"]]
