"""A reply of several messages that fails part-way resumes after the last message the app accepted.

One outbox row can become several messages on WhatsApp (a long text, then its buttons) and on Viber
(a keyboard of more than 24 buttons, a file after its caption). The fakes refuse the second message
once — a server error, a rate limit — and each message must then arrive exactly once, in order.
On Telegram and the web chat every part is its own row, retried alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Homeward
from bot.channels import Transient, labels, viber, whatsapp
from bot.clock import FixedClock
from bot.config import Settings
from bot.events import Button, Reply
from bot.outbox import queue_reply, split_text
from db.models import Beneficiary, Conversation, OutboxItem
from tests.chats import Apps, Chat, onboard, running, waiting_retry
from tests.fakebot import FakeBotApi, Fault
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi

START = datetime(2026, 5, 11, 9, 0, tzinfo=UTC)
SENTENCES = " ".join(f"Sentence number {n} of a long answer, written to be split." for n in range(1, 90))


@pytest.fixture
async def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def viber_api() -> FakeViberApi:
    return await FakeViberApi().start()


@pytest.fixture
async def graph(clock: FixedClock) -> FakeGraphApi:
    return await FakeGraphApi(now=clock.now).start()


@pytest.fixture(params=["whatsapp", "viber"])
async def apps(
    request: pytest.FixtureRequest,
    settings: Settings,
    fake: FakeBotApi,
    graph: FakeGraphApi,
    viber_api: FakeViberApi,
    clock: FixedClock,
) -> AsyncIterator[Apps]:
    async for running_apps in running(settings, request.param, fake, graph, viber_api, clock=clock):
        yield running_apps


def _short_pauses(apps: Apps) -> None:
    limiter = apps.app.delivery.limiters[apps.channel]
    original = type(limiter).pause

    async def pause(seconds: float) -> None:
        await original(limiter, 0.05)  # the test does not wait the app's suggested seconds

    limiter.pause = pause  # type: ignore[method-assign]


async def _queue(apps: Apps, chat: Chat, reply: Reply) -> None:
    async with apps.app.db.transaction() as session:
        person = (await session.execute(select(Beneficiary))).scalar_one()
        conversation = (await session.execute(select(Conversation))).scalar_one()
        await queue_reply(
            session, person=person, conversation=conversation, chat_id=chat.id, reply=reply, now=apps.app.clock.now()
        )
    apps.app.delivery.wake()


def _expected(apps: Apps, reply: Reply) -> list[dict[str, Any]]:
    """The messages the reply becomes on the app under test, as its sender renders them."""
    payload: dict[str, Any] = {
        "text": reply.text,
        "buttons": [[{"text": b.label, "data": b.data} for b in row] for row in reply.buttons],
    }
    t = apps.app.translations("sq")
    if apps.channel == whatsapp.CHANNEL:
        return whatsapp.render(payload, t, labels.shortener(t))
    return viber.render(payload, labels.shortener(t))


def _received(apps: Apps, chat: Chat) -> list[dict[str, Any]]:
    api = apps.graph if apps.channel == whatsapp.CHANNEL else apps.viber
    assert api is not None
    return api.messages(chat.id)


def _refuse_second_once(apps: Apps, refusal: str) -> list[dict[str, Any]]:
    """From now on, the second message is refused once (a server error or a rate limit); the refused are kept."""
    refused: list[dict[str, Any]] = []
    calls = [0]

    def fault(body: dict[str, Any]) -> Any:
        calls[0] += 1
        if calls[0] != 2:
            return None
        refused.append(body)
        if apps.channel == whatsapp.CHANNEL:
            return (131000, "Something went wrong", 500) if refusal == "error" else (130429, "Rate limit hit", 400)
        return (10, "webhookNotSet") if refusal == "error" else (12, "tooManyRequests")

    if apps.channel == whatsapp.CHANNEL:
        apps.graph.fault = fault
    else:
        assert apps.viber is not None
        apps.viber.fault = fault
    return refused


def _long_reply(apps: Apps) -> Reply:
    if apps.channel == whatsapp.CHANNEL:  # a text, then the rest of it beside its buttons
        return Reply(SENTENCES[:3000], [[Button("Yes", "menu:faq"), Button("No", "menu:human")]])
    # More than Viber's 24 keyboard buttons: a second message carries the rest.
    return Reply("Choose one.", [[Button(f"Choice {n}", f"menu:c{n}")] for n in range(1, 31)])


@pytest.mark.parametrize("refusal", ["error", "rate_limit"])
async def test_a_reply_refused_part_way_resumes_after_the_parts_that_went_out(
    apps: Apps, clock: FixedClock, refusal: str
) -> None:
    chat = apps.chat(31, "Arta")
    await onboard(chat, "sq")
    await apps.app.turns.wait_idle()
    before = len(_received(apps, chat))
    reply = _long_reply(apps)
    expected = _expected(apps, reply)
    assert len(expected) >= 2
    _short_pauses(apps)
    refused = _refuse_second_once(apps, refusal)
    await _queue(apps, chat, reply)
    api = apps.graph if apps.channel == whatsapp.CHANNEL else apps.viber
    assert api is not None
    await api.wait_for(lambda: bool(refused))
    assert (await waiting_retry(apps.app)).parts_sent == 1  # the first part confirmed
    clock.advance(timedelta(seconds=15))  # the retry falls due (back-off, or the app's pause)
    await api.wait_for(lambda: len(_received(apps, chat)) >= before + len(expected))
    await apps.app.turns.wait_idle()
    await asyncio.sleep(0.3)  # nothing more comes
    received = _received(apps, chat)[before:]
    assert received == expected  # each message once, in order
    assert len(refused) == 1 and refused[0]["text" if apps.channel == viber.CHANNEL else "type"]
    async with apps.app.db.sessions() as session:
        row = (await session.execute(select(OutboxItem).order_by(OutboxItem.id.desc()))).scalars().first()
        assert row is not None and row.status == "sent"


@pytest.fixture
async def telegram_apps(
    settings: Settings, fake: FakeBotApi, graph: FakeGraphApi, clock: FixedClock
) -> AsyncIterator[Apps]:
    async for running_apps in running(settings, "telegram", fake, graph, clock=clock):
        yield running_apps


async def test_telegram_sends_each_part_of_a_long_reply_as_its_own_row_and_retries_only_the_refused_one(
    telegram_apps: Apps, fake: FakeBotApi, clock: FixedClock
) -> None:
    apps = telegram_apps
    chat = apps.chat(32, "Besa")
    await onboard(chat, "sq")
    await apps.app.turns.wait_idle()
    before = len(chat.texts())
    calls = [0]

    def injector(method: str, params: dict[str, Any]) -> Fault | None:
        if method != "sendMessage":
            return None
        calls[0] += 1
        return Fault(code=502, description="Bad Gateway") if calls[0] == 2 else None

    fake.injector = injector
    text = SENTENCES * 2  # over Telegram's 4096 characters: a row per part
    expected = split_text(text)
    assert len(expected) >= 2
    await _queue(apps, chat, Reply(text))
    await fake.wait_for(lambda: calls[0] >= 2)
    await waiting_retry(apps.app)
    clock.advance(timedelta(seconds=15))
    await chat.wait_sent(before + len(expected))
    await asyncio.sleep(0.3)
    assert chat.texts()[before:] == expected  # each part once, in order


async def test_a_part_is_not_recorded_on_a_claim_another_worker_took_over(homeward: Homeward) -> None:
    """A send whose claim ran out (its lease passed, another worker took the row) stops before its next
    part: the row's new owner sends the rest, never both."""
    now = homeward.clock.now()
    async with homeward.db.transaction() as session:
        row = OutboxItem(
            channel="whatsapp",
            chat_id="38344111222",
            method="sendMessage",
            payload={"text": "Pjesa e parë"},
            status="sending",
            claimed_by="another-worker",
            claimed_at=now,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        row_id = row.id
    item = SimpleNamespace(id=row_id)
    with pytest.raises(Transient):
        await homeward.delivery._parts_confirmed(item, 1)  # type: ignore[arg-type]
    async with homeward.db.sessions() as session:
        assert (await session.get(OutboxItem, row_id)).parts_sent == 0  # type: ignore[union-attr]
