"""A local fake Telegram Bot API server for tests and benchmarks.

It speaks the Bot API's HTTP shape at `http://127.0.0.1:<port>/bot<token>/<method>`: updates are
queued by the test and handed out by getUpdates (long polling, offsets confirmed the way
Telegram confirms them), and every call is recorded. Faults can be injected per call: an error
code with a description, a 429 with retry_after, a stall, or a dropped connection. Optional rate
enforcement answers 429 like Telegram when a global or per-chat limit is exceeded.

It refuses what Telegram refuses, with Telegram's 400 answers: a message text of 0 or more than
4,096 characters, a caption of more than 1,024, an inline keyboard of more than 100 buttons, and a
button without text or with callback data of 0 or more than 64 bytes. Each refusal is also kept in
`violations`, so a test can assert there was none.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token-for-the-fake-bot-api"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Homeward", "username": "homeward_test_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    content_type: str = ""


@dataclass
class Fault:
    """What to answer instead of success: an HTTP status with Telegram's error body, or a stall/reset."""

    code: int = 0
    description: str = ""
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None  # the group became a supergroup with this id
    stall: float = 0.0
    reset: bool = False


Injector = Callable[[str, dict[str, Any]], Fault | None]


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """A fake platform's server, listening (port 0: any free one); its runner and the port it got."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


@dataclass
class FakeBotApi:
    host: str = "127.0.0.1"
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    injector: Injector | None = None
    global_limit: float | None = None  # messages per second, like Telegram's broadcast limit
    chat_limit: float | None = None  # messages per second per chat
    throttled: int = 0

    def __post_init__(self) -> None:
        self._updates: deque[dict[str, Any]] = deque()
        self._confirmed = 0
        self._next_update_id = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._sent_event = asyncio.Event()
        self._window: deque[float] = deque()
        self._chat_last: dict[str, float] = defaultdict(float)
        self._runner: web.AppRunner | None = None
        self.webhook: dict[str, Any] | None = None
        self.files: dict[str, bytes] = {}  # file_id → content, served by getFile and /file/bot<token>/<path>
        self.violations: list[str] = []

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FakeBotApi:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner, self.port = await serve(app, self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- updates the test "sends" as a person --------------------------------------------------

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        if "update_id" not in update:
            update = {"update_id": next(self._next_update_id), **update}
        self._updates.append(update)
        self._new_update.set()
        return update

    async def deliver(self, post: Callable[[dict[str, Any]], Awaitable[None]], stop: asyncio.Event) -> None:
        """Webhook mode: hand each queued update to `post` (a webhook request), in order, as Telegram does."""
        while not stop.is_set():
            while self._updates:
                await post(self._updates.popleft())
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), 0.05)
            except TimeoutError:
                pass

    def pending_updates(self) -> int:
        return sum(1 for u in self._updates if u["update_id"] >= self._confirmed)

    # ---- what the bot sent -------------------------------------------------------------------

    def sent(self, method: str = "sendMessage", chat_id: int | str | None = None) -> list[dict[str, Any]]:
        return [
            c.params
            for c in self.calls
            if c.method == method and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]

    def texts(self, chat_id: int | str | None = None) -> list[str]:
        return [p["text"] for p in self.sent("sendMessage", chat_id)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    "condition not reached; calls so far: "
                    + json.dumps(
                        [(c.method, c.params.get("text", "")[:60]) for c in self.calls][-20:],
                        ensure_ascii=False,
                    )
                )
            self._sent_event.clear()
            try:
                await asyncio.wait_for(self._sent_event.wait(), timeout=0.05)
            except TimeoutError:
                pass

    async def wait_sent(self, count: int, chat_id: int | str | None = None, timeout: float = 10.0) -> list[str]:
        await self.wait_for(lambda: len(self.texts(chat_id)) >= count, timeout)
        return self.texts(chat_id)

    # ---- HTTP --------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = {"filename": value.filename, "content": value.file.read()}
                    continue
                try:
                    params[key] = json.loads(value) if key in ("reply_markup", "allowed_updates") else value
                except (TypeError, json.JSONDecodeError):
                    params[key] = value
        return params

    def _rate_limited(self, method: str, params: dict[str, Any]) -> int | None:
        if method not in ("sendMessage", "sendDocument"):
            return None
        now = time.monotonic()
        if self.global_limit:
            while self._window and now - self._window[0] > 1.0:
                self._window.popleft()
            if len(self._window) >= self.global_limit:
                return 1
        chat = str(params.get("chat_id"))
        if self.chat_limit and now - self._chat_last[chat] < 1.0 / self.chat_limit * 0.9:
            return 1
        if self.global_limit:
            self._window.append(now)
        self._chat_last[chat] = now
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        fault = self.injector(method, params) if self.injector else None
        if fault is not None:
            if fault.stall:
                await asyncio.sleep(fault.stall)
            if fault.reset:
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=500)
            if fault.code:
                body: dict[str, Any] = {
                    "ok": False,
                    "error_code": fault.code,
                    "description": fault.description,
                }
                if fault.retry_after is not None:
                    body["parameters"] = {"retry_after": fault.retry_after}
                if fault.migrate_to_chat_id is not None:
                    body["parameters"] = {"migrate_to_chat_id": fault.migrate_to_chat_id}
                return web.json_response(body, status=fault.code)
        retry = self._rate_limited(method, params)
        if retry is not None:
            self.throttled += 1
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": retry},
                },
                status=429,
            )
        if method == "getUpdates":
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        problem = check(method, params)
        if problem is not None:
            self.violations.append(problem)
            return web.json_response(
                {"ok": False, "error_code": 400, "description": f"Bad Request: {problem}"}, status=400
            )
        self.calls.append(Call(method, params, time.monotonic(), request.content_type))
        self._sent_event.set()
        return web.json_response({"ok": True, "result": self._result(method, params)})

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        if offset:
            self._confirmed = max(self._confirmed, offset)
            while self._updates and self._updates[0]["update_id"] < self._confirmed:
                self._updates.popleft()
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), 0.5)  # short long-polls keep tests quick
        if not self._updates and timeout:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout)
            except TimeoutError:
                pass
        return list(itertools.islice(self._updates, limit))

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in ("sendMessage", "sendDocument"):
            chat_id = int(params["chat_id"])
            result: dict[str, Any] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": BOT_USER,
            }
            if method == "sendMessage":
                result["text"] = params.get("text", "")
            else:
                result["document"] = {"file_id": "doc", "file_unique_id": "doc"}
            return result
        if method == "setWebhook":
            self.webhook = params
        if method == "getFile":
            file_id = str(params.get("file_id"))
            size = len(self.files.get(file_id, b""))
            return {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "file_size": size,
                "file_path": f"photos/{file_id}.jpg",
            }
        return True

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """File downloads, as Telegram serves them after getFile."""
        if request.match_info["token"] != TOKEN:
            return web.Response(status=401)
        name = request.match_info["path"].rsplit("/", 1)[-1].removesuffix(".jpg")
        if name not in self.files:
            return web.Response(status=404)
        self.calls.append(Call("downloadFile", {"path": request.match_info["path"]}, time.monotonic()))
        return web.Response(body=self.files[name], content_type="image/jpeg")


def check(method: str, params: dict[str, Any]) -> str | None:
    """What the Bot API refuses in a sendMessage or sendDocument, as a sentence; None when it is valid."""
    if method == "sendMessage":
        text = str(params.get("text") or "")
        if not text.strip():
            return "message text is empty"
        if len(text) > 4096:
            return f"message is too long ({len(text)} characters, at most 4096)"
    elif method == "sendDocument":
        if len(str(params.get("caption") or "")) > 1024:
            return "message caption is too long"
    else:
        return None
    markup = params.get("reply_markup")
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if rows is None:
        return None
    buttons = [button for row in rows for button in row]
    if len(buttons) > 100:
        return f"reply markup of {len(buttons)} buttons (at most 100)"
    for button in buttons:
        if not str(button.get("text") or "").strip():
            return "text buttons are unallowed in the inline keyboard"
        data = str(button.get("callback_data") or "").encode()
        if not 1 <= len(data) <= 64:
            return f"BUTTON_DATA_INVALID: callback data of {len(data)} bytes (1 to 64)"
    return None


class Person:
    """A Telegram user in a private chat with the bot, for building updates."""

    _ids = itertools.count(1)

    def __init__(self, api: FakeBotApi, user_id: int, first_name: str = "Test", language_code: str | None = None):
        self.api = api
        self.id = user_id
        self.first_name = first_name
        self.language_code = language_code

    def _user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def _message(self, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": self.id, "type": "private", "first_name": self.first_name},
            "from": self._user(),
            **content,
        }

    def says(self, text: str) -> dict[str, Any]:
        return self.api.push({"message": self._message(text=text)})

    def sends(self, **content: Any) -> dict[str, Any]:
        return self.api.push({"message": self._message(**content)})

    def edits(self, message_id: int, text: str) -> dict[str, Any]:
        msg = self._message(text=text)
        msg["message_id"] = message_id
        msg["edit_date"] = int(time.time())
        return self.api.push({"edited_message": msg})

    def presses(self, data: str) -> dict[str, Any]:
        return self.api.push(
            {
                "callback_query": {
                    "id": str(next(self._ids)),
                    "from": self._user(),
                    "chat_instance": "1",
                    "data": data,
                    "message": {
                        "message_id": 1,
                        "date": int(time.time()),
                        "chat": {"id": self.id, "type": "private"},
                        "from": BOT_USER,
                        "text": "…",
                    },
                }
            }
        )

    def blocks(self, blocked: bool = True) -> dict[str, Any]:
        return self.api.push(
            {
                "my_chat_member": {
                    "chat": {"id": self.id, "type": "private", "first_name": self.first_name},
                    "from": self._user(),
                    "date": int(time.time()),
                    "old_chat_member": {"status": "member", "user": BOT_USER}
                    if blocked
                    else {"status": "kicked", "user": BOT_USER, "until_date": 0},
                    "new_chat_member": {"status": "kicked", "user": BOT_USER, "until_date": 0}
                    if blocked
                    else {"status": "member", "user": BOT_USER},
                }
            }
        )

    def buttons(self, index: int = -1) -> list[str]:
        """Callback data of the buttons under the bot's `index`-th message to this person that had buttons."""
        return [data for data, _label in self.choices(index)]

    def choices(self, index: int = -1) -> list[tuple[str, str]]:
        """(callback data, label) of the buttons under the bot's `index`-th message that had buttons."""
        with_buttons = [p for p in self.api.sent("sendMessage", self.id) if p.get("reply_markup")]
        markup = with_buttons[index]["reply_markup"]
        return [(b["callback_data"], b["text"]) for row in markup["inline_keyboard"] for b in row]

    def offered(self, data: str) -> bool:
        """Whether any message the bot sent this person carried a button with this data."""
        return any(
            b.get("callback_data") == data
            for p in self.api.sent("sendMessage", self.id)
            for row in (p.get("reply_markup") or {}).get("inline_keyboard") or []
            for b in row
        )
