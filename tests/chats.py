"""One person, written the same way on every channel: the end-to-end scenarios run on each app.

`running` starts Homeward with Telegram (against the fake Bot API), WhatsApp (against the fake
Graph API) and Viber (against the fake Viber API), the webhooks called through Homeward's own web
app; `chat(n)` is a person on the channel under test, who says, presses and reads what arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

import httpx
from sqlalchemy import select

from bot.app import Homeward
from bot.channels import telegram, viber, whatsapp
from bot.config import Settings
from bot.server import VIBER_PATH, WHATSAPP_PATH, web_app
from db.models import OutboxItem
from tests import fakegraph, fakeviber
from tests.fakebot import FakeBotApi, Person
from tests.fakegraph import FakeGraphApi, WaPerson
from tests.fakeviber import FakeViberApi, ViberPerson

CHANNELS = (telegram.CHANNEL, whatsapp.CHANNEL, viber.CHANNEL)


class Chat(Protocol):
    id: str

    async def says(self, text: str) -> object: ...

    async def presses(self, data: str) -> object: ...

    def texts(self) -> list[str]: ...

    def buttons(self, index: int = -1) -> list[str]: ...

    async def wait_sent(self, count: int) -> list[str]: ...

    async def wait_text(self, fragment: str, after: int = 0) -> str: ...

    async def wait_button(self, data: str) -> list[str]: ...


def _offered(chat: Chat, data: str) -> bool:
    try:
        return data in chat.buttons()
    except IndexError:
        return False


class TelegramChat:
    def __init__(self, fake: FakeBotApi, number: int, name: str, language_code: str | None) -> None:
        self.fake = fake
        self.person = Person(fake, 7_000_000 + number, name, language_code=language_code)
        self.id = str(self.person.id)

    async def says(self, text: str) -> object:
        return self.person.says(text)

    async def presses(self, data: str) -> object:
        return self.person.presses(data)

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


class WhatsAppChat:
    def __init__(self, api: FakeGraphApi, number: int, name: str) -> None:
        self.api = api
        self.person = WaPerson(api, f"38344{number:06d}", name)
        self.id = self.person.id

    async def says(self, text: str) -> object:
        return await self.person.says(text)

    async def presses(self, data: str) -> object:
        return await self.person.presses(data)

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


class ViberChat:
    def __init__(self, api: FakeViberApi, number: int, name: str) -> None:
        self.api = api
        self.person = ViberPerson(api, f"vb{number:08d}Q1dKeTZ3PT0=", name)
        self.id = self.person.id

    async def says(self, text: str) -> object:
        return await self.person.says(text)

    async def presses(self, data: str) -> object:
        return await self.person.presses(data)

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

    def chat(
        self, number: int, name: str = "Arta", language_code: str | None = None, channel: str | None = None
    ) -> Chat:
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
    try:
        yield Apps(app, channel, fake, graph, viber_api, configured)
    finally:
        await app.stop()
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
