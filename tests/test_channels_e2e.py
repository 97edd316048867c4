"""The Telegram stories, on every channel: the same person, the same words, on Telegram and on WhatsApp."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.config import Settings
from db.models import Beneficiary, Message
from tests.chats import CHANNELS, Apps, onboard, running
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi

LOCALE_WORDS = {
    "sq": ("Si kujdesemi për të dhënat tuaja", "Si mund t'ju ndihmoj?"),
    "sr-Cyrl": ("Како чувамо Ваше податке", "Како могу да Вам помогнем?"),
    "sr-Latn": ("Kako čuvamo Vaše podatke", "Kako mogu da Vam pomognem?"),
}


@pytest.fixture(params=CHANNELS)
async def apps(request: pytest.FixtureRequest, settings: Settings, fake: FakeBotApi) -> AsyncIterator[Apps]:
    graph = await FakeGraphApi().start()
    async for running_apps in running(settings, request.param, fake, graph):
        yield running_apps
    assert graph.violations == []


@pytest.mark.parametrize("locale", ["sq", "sr-Cyrl", "sr-Latn"])
async def test_onboarding_in_each_locale(apps: Apps, locale: str) -> None:
    chat = apps.chat(1, "Arta")
    await chat.says("/start")
    texts = await chat.wait_sent(1)
    assert "Ju lutemi zgjidhni gjuhën" in texts[0] and "Молимо Вас да изаберете језик" in texts[0]
    assert sorted(chat.buttons()) == ["lang:sq", "lang:sr-Cyrl", "lang:sr-Latn"]
    await chat.presses(f"lang:{locale}")
    await chat.wait_text(LOCALE_WORDS[locale][0])
    assert await chat.wait_button("consent:yes") == ["consent:yes", "consent:no"]
    after = len(chat.texts())
    await chat.presses("consent:yes")
    await chat.wait_text(LOCALE_WORDS[locale][1], after)
    assert "menu:lang" in await chat.wait_button("menu:privacy") and "menu:privacy" in chat.buttons()
    await apps.app.turns.wait_idle()
    async with apps.app.db.sessions() as session:
        someone = (await session.execute(select(Beneficiary))).scalar_one()
        assert someone.locale == locale and someone.consent == "given" and someone.channel == apps.channel
        lines = (await session.execute(select(Message).order_by(Message.id))).scalars().all()
    assert {line.channel for line in lines} == {apps.channel}
    assert [line.kind for line in lines if line.direction == "in"] == ["command", "button", "button"]
