"""One person, written the same way on every channel: the end-to-end scenarios run on each app.

`running` starts Homeward with Telegram (against the fake Bot API), WhatsApp (against the fake
Graph API), Viber (against the fake Viber API) and the web chat page (through the console's own
HTTP routes), the webhooks called through Homeward's own web app; `chat(n)` is a person on the
channel under test — a phone, or a browser — who says, presses (only buttons that were offered)
and reads what arrived. Each platform's limits are enforced where the real one enforces them: by
the fakes for the three apps, by the chat page's routes for the web.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select

from bot.app import Homeward
from bot.channels import telegram, viber, webchat, whatsapp
from bot.config import Settings
from bot.server import VIBER_PATH, WHATSAPP_PATH, web_app
from console import chat as chat_page
from console.web import create_console
from db.models import OutboxItem
from tests import fakegraph, fakeviber
from tests.fakebot import BOT_USER, FakeBotApi, Person
from tests.fakegraph import FakeGraphApi, WaPerson
from tests.fakeviber import FakeViberApi, ViberPerson

CHANNELS = (telegram.CHANNEL, webchat.CHANNEL, whatsapp.CHANNEL, viber.CHANNEL)

# What a process that stored a message and died leaves for the next one: the platform's own
# second delivery of it (Telegram offers it again by itself: None).
Redeliver = Callable[[], Awaitable[None]] | None


class Chat(Protocol):
    id: str
    channel: str

    async def says(self, text: str) -> object: ...

    async def presses(self, data: str) -> object: ...

    def texts(self) -> list[str]: ...

    def buttons(self, index: int = -1) -> list[str]: ...

    def choices(self, index: int = -1) -> list[tuple[str, str]]: ...

    async def wait_sent(self, count: int) -> list[str]: ...

    async def wait_text(self, fragment: str, after: int = 0) -> str: ...

    async def wait_button(self, data: str) -> list[str]: ...

    async def stored_by(self, app: Homeward, text: str) -> tuple[int, Redeliver]: ...

    async def opens(self, link: str) -> dict[str, Any] | None: ...

    async def catch_up(self) -> None:
        """Look at what has arrived (a phone has it already; the page reads its live stream once)."""


async def taps(chat: Chat, label: str) -> object:
    """Tap the button of the newest offer that reads `label` (as the person sees it on this app)."""
    for data, shown in chat.choices():
        if shown == label:
            return await chat.presses(data)
    raise AssertionError(f"no button reads {label!r}: {chat.choices()}")


async def _until(predicate: Callable[[], bool], look: Callable[[], Awaitable[object]], what: str) -> None:
    deadline = time.monotonic() + 10.0
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await look()


def _offered(chat: Chat, data: str) -> bool:
    try:
        return data in chat.buttons()
    except IndexError:
        return False


class TelegramChat:
    channel = telegram.CHANNEL

    def __init__(self, fake: FakeBotApi, number: int, name: str, language_code: str | None) -> None:
        self.fake = fake
        self.person = Person(fake, 7_000_000 + number, name, language_code=language_code)
        self.id = str(self.person.id)

    async def says(self, text: str) -> object:
        return self.person.says(text)

    async def presses(self, data: str) -> object:
        if not self.person.offered(data):
            raise AssertionError(f"no button {data!r} was offered to {self.id}")
        return self.person.presses(data)

    def choices(self, index: int = -1) -> list[tuple[str, str]]:
        return self.person.choices(index)

    async def stored_by(self, app: Homeward, text: str) -> tuple[int, Redeliver]:
        update = self.person.says(text)  # Telegram offers it again until a process confirms it
        stored = await app.store_telegram([(update["update_id"], self.id, json.dumps(update))])
        return len(stored), None

    async def opens(self, link: str) -> dict[str, Any] | None:
        """A t.me link to this bot: Telegram sends `/start <payload>`."""
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "t.me", f"/{BOT_USER['username']}"), link
        self.person.says(f"/start {parse_qs(parts.query)['start'][0]}")
        return None

    async def catch_up(self) -> None:
        return None

    def texts(self) -> list[str]:
        return self.fake.texts(self.person.id)

    def buttons(self, index: int = -1) -> list[str]:
        return self.person.buttons(index)

    async def wait_sent(self, count: int) -> list[str]:
        return await self.fake.wait_sent(count, self.person.id)

    async def wait_text(self, fragment: str, after: int = 0) -> str:
        await self.fake.wait_for(lambda: any(fragment in t for t in self.texts()[after:]))
        return next(t for t in self.texts()[after:] if fragment in t)

    async def wait_button(self, data: str) -> list[str]:
        await self.fake.wait_for(lambda: _offered(self, data))
        return self.buttons()


class _AppChat:
    """What a phone on WhatsApp or Viber does, through its fake person; the apps differ in the rest."""

    api: Any
    person: Any
    id: str

    async def says(self, text: str) -> object:
        return await self.person.says(text)

    async def presses(self, data: str) -> object:
        return await self.person.presses(data)

    async def catch_up(self) -> None:
        return None

    def texts(self) -> list[str]:
        return self.person.texts()

    def buttons(self, index: int = -1) -> list[str]:
        return self.person.buttons(index)

    async def wait_sent(self, count: int) -> list[str]:
        await self.api.wait_for(lambda: len(self.texts()) >= count)
        return self.texts()

    async def wait_text(self, fragment: str, after: int = 0) -> str:
        await self.api.wait_for(lambda: any(fragment in t for t in self.texts()[after:]))
        return next(t for t in self.texts()[after:] if fragment in t)

    async def wait_button(self, data: str) -> list[str]:
        await self.api.wait_for(lambda: _offered(self, data))
        return self.buttons()

    def choices(self, index: int = -1) -> list[tuple[str, str]]:
        return self.person.choices(index)


class WhatsAppChat(_AppChat):
    channel = whatsapp.CHANNEL

    def __init__(self, api: FakeGraphApi, number: int, name: str) -> None:
        self.api = api
        self.person = WaPerson(api, f"38344{number:06d}", name)
        self.id = self.person.id

    async def stored_by(self, app: Homeward, text: str) -> tuple[int, Redeliver]:
        value = self.person._value(self.person._message("text", text={"body": text}))
        body = {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": value}]}]}
        self.api.last_inbound[self.id] = self.api.now()
        events, _ = whatsapp.split_webhook(body)
        stored = await app.store_events(whatsapp.CHANNEL, events)
        raw = json.dumps(body).encode()

        async def again() -> None:  # Meta saw no 200 and sends the webhook again
            assert self.api.post is not None
            assert await self.api.post(raw, {"X-Hub-Signature-256": fakegraph.sign(fakegraph.APP_SECRET, raw)}) == 200

        return len(stored), again

    async def opens(self, link: str) -> dict[str, Any] | None:
        """A wa.me link to the business number: WhatsApp opens the chat with the words written in; sent."""
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "wa.me", f"/{fakegraph.WA_ME_NUMBER}"), link
        await self.person.says(parse_qs(parts.query)["text"][0])
        return None


class ViberChat(_AppChat):
    channel = viber.CHANNEL

    def __init__(self, api: FakeViberApi, number: int, name: str) -> None:
        self.api = api
        self.person = ViberPerson(api, f"vb{number:08d}Q1dKeTZ3PT0=", name)
        self.id = self.person.id

    async def stored_by(self, app: Homeward, text: str) -> tuple[int, Redeliver]:
        callback = self.person.message_body({"type": "text", "text": text})
        stored = await app.store_events(viber.CHANNEL, viber.read_callback(callback).stored)
        raw = json.dumps(callback).encode()

        async def again() -> None:  # Viber saw no 200 and calls again
            assert self.api.post is not None
            status, _ = await self.api.post(raw, {"X-Viber-Content-Signature": fakeviber.sign(fakeviber.TOKEN, raw)})
            assert status == 200

        return len(stored), again

    async def opens(self, link: str) -> dict[str, Any] | None:
        """A viber://pa link to the bot account: Viber opens the chat, its context in conversation_started;
        returns the welcome Homeward answered with (only to someone not yet subscribed)."""
        return await self.person.opens(subscribed=self.id in self.api.subscribed, link=link)


class WebChat:
    """A browser on the `/chat` page: its cookie and token, and the bubbles its live stream showed.

    It talks to whichever Homeward process `apps` runs now (a restart keeps the browser's cookie).
    """

    channel = webchat.CHANNEL

    def __init__(self, apps: Apps) -> None:
        self.apps = apps
        self._http: dict[int, httpx.AsyncClient] = {}
        self.cookies = httpx.Cookies()
        self.token = ""
        self.identity = ""
        self.cursor = 0
        self.lines: list[dict[str, Any]] = []  # the bot's bubbles, in order
        self.mine: list[dict[str, Any]] = []  # the person's own lines and marked buttons

    @property
    def id(self) -> str:
        assert self.identity, "the page is opened by the first thing the person does"
        return self.identity

    def http(self) -> httpx.AsyncClient:
        app = self.apps.app
        if id(app) not in self._http:
            transport = httpx.ASGITransport(app=create_console(app))
            client = httpx.AsyncClient(transport=transport, base_url="http://chat.test", cookies=self.cookies)
            self._http[id(app)] = client
            self.apps.closing.append(client)
        return self._http[id(app)]

    async def open(self) -> None:
        client = self.http()
        page = await client.get("/chat")
        assert page.status_code == 200
        self.cookies = httpx.Cookies(client.cookies)  # kept by the browser across restarts of the server
        self.token = page.text.split('name="chat-token" content="')[1].split('"')[0]
        self.identity = await chat_page.identity(self.apps.app, self.visitor)

    @property
    def visitor(self) -> str:
        return str(self.cookies[chat_page.COOKIE])

    async def post(self, event: dict[str, str]) -> httpx.Response:
        if not self.token:
            await self.open()
        await self.read()  # the page shows what arrived before the person writes again
        return await self.http().post("/chat/messages", json=event, headers={"x-chat-token": self.token})

    async def says(self, text: str) -> object:
        event = {"id": secrets.token_hex(8), "text": text}
        answer = await self.post(event)
        assert answer.status_code == 202, f"the page refused the message: {answer.status_code} {answer.text}"
        return event

    async def presses(self, data: str) -> object:
        if not any(data == b["data"] for line in self.lines for row in line["buttons"] for b in row):
            raise AssertionError(f"no button {data!r} was shown to {self.identity}")
        event = {"id": secrets.token_hex(8), "data": data}
        answer = await self.post(event)
        assert answer.status_code == 202, f"the page refused the press: {answer.status_code} {answer.text}"
        return event

    async def read(self) -> None:
        """What the page's live stream shows next: the lines its every tick reads (`/chat/events` itself,
        whose rounds last a second, has its own tests)."""
        if not self.token:
            return
        shown, self.cursor = await chat_page.lines_after(self.apps.app, self.identity, self.cursor)
        for line in shown:
            (self.mine if line.mine or line.chose else self.lines).append(line.as_json())
        if not shown:  # until the page's bell rings (a turn of this visitor committed), or a moment
            with self.apps.app.webchat.bells.listening(self.identity) as bell:
                await bell.wait(0.05)

    async def catch_up(self) -> None:
        await self.read()

    def texts(self) -> list[str]:
        return [line["text"] for line in self.lines]

    def choices(self, index: int = -1) -> list[tuple[str, str]]:
        offers = [line for line in self.lines if line["buttons"]]
        return [(b["data"], b["text"]) for row in offers[index]["buttons"] for b in row]

    def buttons(self, index: int = -1) -> list[str]:
        return [data for data, _ in self.choices(index)]

    def files(self) -> list[dict[str, str]]:
        return [line["file"] for line in self.lines if line.get("file")]

    async def download(self, file: dict[str, str]) -> bytes:
        answer = await self.http().get(file["url"])
        assert answer.status_code == 200, answer.text
        return answer.content

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        await _until(predicate, self.read, f"not shown; shown so far: {[t[:60] for t in self.texts()[-10:]]}")

    async def wait_sent(self, count: int) -> list[str]:
        await self.wait_for(lambda: len(self.texts()) >= count)
        return self.texts()

    async def wait_text(self, fragment: str, after: int = 0) -> str:
        await self.wait_for(lambda: any(fragment in t for t in self.texts()[after:]))
        return next(t for t in self.texts()[after:] if fragment in t)

    async def wait_button(self, data: str) -> list[str]:
        await self.wait_for(lambda: _offered(self, data))
        return self.buttons()

    async def stored_by(self, app: Homeward, text: str) -> tuple[int, Redeliver]:
        if not self.token:
            await self.open()
        event = {"id": secrets.token_hex(8), "text": text}
        update_id, raw = webchat.event(self.identity, event["id"], text=text, language_code="sq", now=app.clock.now())
        stored = await app.store_events(webchat.CHANNEL, [(update_id, self.identity, raw)])

        async def again() -> None:  # the browser got no answer and sends the same message again
            answer = await self.http().post("/chat/messages", json=event, headers={"x-chat-token": self.token})
            assert answer.status_code == 202

        return len(stored), again

    async def opens(self, link: str) -> dict[str, Any] | None:
        raise AssertionError(f"a browser on the chat page opens no app link: {link}")


def with_viber(settings: Settings, api: FakeViberApi | None) -> Settings:
    if api is None:
        return settings
    return settings.model_copy(update={"viber_api_base": api.base, "viber_token": fakeviber.TOKEN})


def with_whatsapp(settings: Settings, graph: FakeGraphApi) -> Settings:
    return settings.model_copy(
        update={
            "whatsapp_api_base": graph.base,
            "whatsapp_token": fakegraph.TOKEN,
            "whatsapp_phone_number_id": fakegraph.PHONE_NUMBER_ID,
            "whatsapp_app_secret": fakegraph.APP_SECRET,
            "whatsapp_verify_token": fakegraph.VERIFY_TOKEN,
        }
    )


def connect(app: Homeward, graph: FakeGraphApi, viber_api: FakeViberApi | None = None) -> httpx.AsyncClient:
    """Meta's and Viber's webhook calls, made by the fakes to Homeward's web app."""
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web_app(app, webhook=False, console=False)), base_url="http://homeward"
    )

    async def post(body: bytes, headers: dict[str, str]) -> int:
        return (await http.post(WHATSAPP_PATH, content=body, headers=headers)).status_code

    async def call_viber(body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        answer = await http.post(VIBER_PATH, content=body, headers=headers)
        return answer.status_code, answer.content

    graph.post = post
    if viber_api is not None:
        viber_api.post = call_viber
    return http


class Apps:
    """A running Homeward speaking every channel, and how to reach a person on the one under test."""

    def __init__(
        self,
        app: Homeward,
        channel: str,
        fake: FakeBotApi,
        graph: FakeGraphApi,
        viber_api: FakeViberApi | None = None,
        configured: Settings | None = None,
    ) -> None:
        self.app = app
        self.channel = channel
        self.fake = fake
        self.graph = graph
        self.viber = viber_api
        self.configured = configured or app.settings  # the settings every process of the test starts from
        self.clock = app.clock  # and the clock they all read
        self.closing: list[httpx.AsyncClient] = []

    def chat(
        self, number: int, name: str = "Arta", language_code: str | None = None, channel: str | None = None
    ) -> Chat:
        if (channel or self.channel) == webchat.CHANNEL:
            return WebChat(self)
        if (channel or self.channel) == whatsapp.CHANNEL:
            return WhatsAppChat(self.graph, number, name)
        if (channel or self.channel) == viber.CHANNEL:
            assert self.viber is not None, "the test starts a fake Viber API"
            return ViberChat(self.viber, number, name)
        return TelegramChat(self.fake, number, name, language_code)


async def running(
    settings: Settings,
    channel: str,
    fake: FakeBotApi,
    graph: FakeGraphApi,
    viber_api: FakeViberApi | None = None,
    **kw: object,
) -> AsyncIterator[Apps]:
    configured = with_viber(with_whatsapp(settings, graph), viber_api)
    app = Homeward(configured, **kw)  # type: ignore[arg-type]
    http = connect(app, graph, viber_api)
    await app.start()
    apps = Apps(app, channel, fake, graph, viber_api, configured)
    try:
        yield apps
    finally:
        await apps.app.stop()
        for client in apps.closing:
            await client.aclose()
        await graph.stop()
        if viber_api is not None:
            await viber_api.stop()
        await http.aclose()


async def onboard(chat: Chat, locale: str = "sq", consent: str = "yes") -> int:
    """Start, choose `locale`, answer consent; returns how many messages the person has received."""
    await chat.says("/start")
    await chat.wait_button(f"lang:{locale}")
    await chat.presses(f"lang:{locale}")
    await chat.wait_button(f"consent:{consent}")
    await chat.presses(f"consent:{consent}")
    await chat.wait_button("menu:privacy")
    return len(chat.texts())


async def waiting_retry(app: Homeward) -> OutboxItem:
    """The outbox row whose refusal was recorded and that waits for its retry: a test may move the clock
    on only then (moved before, the retry would be due later than the test's clock ever gets)."""
    for _ in range(200):
        async with app.db.sessions() as session:
            found = await session.execute(
                select(OutboxItem).where(OutboxItem.status == "pending", OutboxItem.last_error.is_not(None))
            )
            row = found.scalars().first()
        if row is not None:
            return row
        await asyncio.sleep(0.05)
    raise TimeoutError("no refused send waits for its retry")


async def settled(apps: Apps) -> None:
    """Every turn run and every reply sent: what the person reads is all there is."""
    for _ in range(500):
        await apps.app.turns.wait_idle()
        async with apps.app.db.sessions() as session:
            open_rows = (
                await session.execute(
                    select(func.count()).select_from(OutboxItem).where(OutboxItem.status.in_(("pending", "sending")))
                )
            ).scalar_one()
        if not open_rows:
            return
        apps.app.delivery.wake()
        await asyncio.sleep(0.02)
    raise TimeoutError("replies still waiting")


async def act(apps: Apps, chat: Chat, *, says: str | None = None, presses: str | None = None) -> list[str]:
    """The person writes or taps; returns every reply that brings."""
    before = len(chat.texts())
    if says is not None:
        await chat.says(says)
    else:
        await chat.presses(presses or "")
    await chat.wait_sent(before + 1)  # heard (Telegram's updates are fetched by polling)
    await settled(apps)
    await chat.catch_up()
    return chat.texts()[before:]


def button(chat: Chat, action: str) -> str:
    """The current question's button whose last part is `action` (n, d, s, c0, t2…)."""
    for data in chat.buttons():
        if data.rsplit(":", 1)[-1] == action:
            return data
    raise AssertionError(f"no button {action!r} in {chat.buttons()}")
