"""Deep links on every app: a start parameter reaches Homeward from Telegram (`/start`), Viber (the
`context` of `conversation_started`) and WhatsApp (the text a wa.me link fills in), and the links
Homeward prints point to each app's own link form when the account is named in the settings."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.config import Settings
from db.models import Beneficiary, InboxUpdate, LinkedIdentity
from tests import fakegraph, fakeviber
from tests.chats import Apps, TelegramChat, ViberChat, WhatsAppChat, onboard, running
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi, buttons_of
from tests.youth_steps import add_programme

LINK = re.compile(r"^(Telegram|Viber|WhatsApp): (\S+)$", re.MULTILINE)
CODE = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}")


@pytest.fixture
async def viber_api() -> FakeViberApi:
    return await FakeViberApi().start()


@pytest.fixture
async def apps(settings: Settings, fake: FakeBotApi, viber_api: FakeViberApi) -> AsyncIterator[Apps]:
    named = settings.model_copy(
        update={"viber_chat_uri": fakeviber.CHAT_URI, "whatsapp_phone_number": fakegraph.DISPLAY_NUMBER}
    )
    graph = await FakeGraphApi().start()
    async for running_apps in running(named, "telegram", fake, graph, viber_api):
        yield running_apps
    assert graph.violations == [] and viber_api.violations == []


@pytest.fixture
async def unnamed(settings: Settings, fake: FakeBotApi, viber_api: FakeViberApi) -> AsyncIterator[Apps]:
    graph = await FakeGraphApi().start()
    async for running_apps in running(settings, "viber", fake, graph, viber_api):
        yield running_apps


async def _code_and_links(chat: TelegramChat | ViberChat | WhatsAppChat) -> tuple[str, dict[str, str]]:
    sent = len(chat.texts())
    await chat.presses("menu:link")
    text = await chat.wait_text("15", sent)
    code = CODE.search(text)
    assert code is not None
    return code.group(0), dict(LINK.findall(text))


async def _one_person(apps: Apps, linked_apps: list[str]) -> None:
    """One person, with these apps linked to the one they started in."""
    await apps.app.turns.wait_idle()
    async with apps.app.db.sessions() as session:
        people = (await session.execute(select(Beneficiary))).scalars().all()
        linked = (await session.execute(select(LinkedIdentity.channel).order_by(LinkedIdentity.id))).scalars().all()
    assert len(people) == 1 and people[0].consent == "given"
    assert linked == linked_apps


async def _inbox_rows(apps: Apps) -> int:
    async with apps.app.db.sessions() as session:
        return len((await session.execute(select(InboxUpdate.id))).scalars().all())


async def test_a_code_from_telegram_links_viber_through_its_link_before_the_person_subscribed(
    apps: Apps, viber_api: FakeViberApi
) -> None:
    on_telegram = TelegramChat(apps.fake, 41, "Arta", "sq")
    await onboard(on_telegram, "sq")
    code, found = await _code_and_links(on_telegram)
    assert set(found) == {"Viber", "WhatsApp"}  # the other apps, each in its own link form; not Telegram itself
    assert found["Viber"] == f"viber://pa?chatURI=homeward&context=link_{code.replace('-', '')}"
    assert found["WhatsApp"] == f"https://wa.me/38344000000?text=%2Fstart%20link_{code.replace('-', '')}"

    on_viber = ViberChat(viber_api, 41, "Arta")
    welcome = await on_viber.person.opens(link=found["Viber"])
    assert "lang:sq" in buttons_of(welcome)  # the one message Viber allows before subscribing
    await apps.app.turns.wait_idle()
    assert on_viber.texts() == []  # nothing sent to someone not subscribed
    await on_viber.presses("lang:sq")
    await on_viber.wait_text("lidhur")  # "this app is now linked", once the person can be written to
    await on_viber.wait_button("menu:privacy")
    await _one_person(apps, ["viber"])


async def test_a_code_from_viber_links_telegram_and_whatsapp_through_their_links(
    apps: Apps, viber_api: FakeViberApi
) -> None:
    on_viber = ViberChat(viber_api, 42, "Besa")
    await onboard(on_viber, "sq")
    code, found = await _code_and_links(on_viber)
    assert set(found) == {"Telegram", "WhatsApp"}
    assert found["Telegram"] == f"https://t.me/homeward_test_bot?start=link_{code.replace('-', '')}"
    on_telegram = TelegramChat(apps.fake, 42, "Besa", "sq")
    on_telegram.person.says("/start " + found["Telegram"].partition("?start=")[2])  # what Telegram sends
    await on_telegram.wait_text("lidhur")

    code, found = await _code_and_links(on_viber)
    on_whatsapp = WhatsAppChat(apps.graph, 42, "Besa")
    await on_whatsapp.person.opens(found["WhatsApp"])
    await on_whatsapp.wait_text("lidhur")
    await _one_person(apps, ["telegram", "whatsapp"])


async def test_any_start_parameter_opened_in_viber_is_where_the_person_came_from(
    apps: Apps, viber_api: FakeViberApi
) -> None:
    on_viber = ViberChat(viber_api, 43, "Drita")
    await on_viber.person.opens(link="viber://pa?chatURI=homeward&context=poster_prizren")
    await on_viber.presses("lang:sq")
    await on_viber.wait_button("consent:yes")
    await on_viber.presses("consent:yes")
    await on_viber.wait_button("menu:privacy")
    await apps.app.turns.wait_idle()
    async with apps.app.db.sessions() as session:
        person = (await session.execute(select(Beneficiary))).scalar_one()
    assert person.source == "poster_prizren" and person.locale == "sq"
    # Opened again, already subscribed: an ordinary /start with its parameter, answered in the chat.
    sent = len(on_viber.texts())
    assert await on_viber.person.opens(subscribed=True, link="viber://pa?chatURI=homeward&context=poster_peja") == {}
    await on_viber.wait_button("lang:sq")
    assert len(on_viber.texts()) == sent + 1


async def test_without_the_accounts_named_the_code_comes_with_plain_instructions(
    unnamed: Apps, viber_api: FakeViberApi
) -> None:
    on_viber = ViberChat(viber_api, 44, "Erza")
    await onboard(on_viber, "sq")
    code, found = await _code_and_links(on_viber)
    assert found == {"Telegram": f"https://t.me/homeward_test_bot?start=link_{code.replace('-', '')}"}
    await unnamed.app.turns.wait_idle()
    text = next(t for t in on_viber.texts() if code in t)
    assert "viber://" not in text and "wa.me" not in text
    # A context that is no start parameter is ignored: the welcome only, nothing stored.
    before = await _inbox_rows(unnamed)
    welcome = await ViberChat(viber_api, 45, "Fitore").person.opens(link="viber://pa?chatURI=homeward&context=a%20b")
    assert "lang:sq" in buttons_of(welcome) and await _inbox_rows(unnamed) == before


async def test_a_used_code_link_is_a_plain_start_and_never_where_the_person_came_from(
    apps: Apps, viber_api: FakeViberApi
) -> None:
    on_telegram = TelegramChat(apps.fake, 46, "Gresa", "sq")
    await onboard(on_telegram, "sq")
    _code, found = await _code_and_links(on_telegram)
    on_whatsapp = WhatsAppChat(apps.graph, 46, "Gresa")
    await on_whatsapp.person.opens(found["WhatsApp"])
    await on_whatsapp.wait_text("lidhur")
    stranger = WhatsAppChat(apps.graph, 47, "Hana")
    await stranger.person.opens(found["WhatsApp"])  # forwarded, used already
    await stranger.wait_button("lang:sq")
    await apps.app.turns.wait_idle()
    async with apps.app.db.sessions() as session:
        people = (await session.execute(select(Beneficiary).order_by(Beneficiary.id))).scalars().all()
    assert len(people) == 2 and people[1].source is None and people[1].consent == "pending"


@pytest.fixture
async def youth_apps(
    settings: Settings, fake: FakeBotApi, viber_api: FakeViberApi, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Apps]:
    await add_programme(settings, monkeypatch, capacity=10, municipality="prishtine")
    graph = await FakeGraphApi().start()
    async for running_apps in running(settings, "viber", fake, graph, viber_api):
        yield running_apps
    assert viber_api.violations == []


async def test_a_deep_link_opened_before_subscribing_waits_for_the_tap_even_for_someone_known(
    youth_apps: Apps, viber_api: FakeViberApi
) -> None:
    on_viber = ViberChat(viber_api, 48, "Drita")
    await onboard(on_viber, "sq")
    await on_viber.person.unsubscribes()
    await youth_apps.app.turns.wait_idle()
    sent = len(on_viber.texts())
    await on_viber.person.opens(link="viber://pa?chatURI=homeward&context=youth_school12")
    await youth_apps.app.turns.wait_idle()
    assert len(on_viber.texts()) == sent  # nothing can reach them yet
    await on_viber.presses("lang:sq")
    await on_viber.wait_text("Ura mes nesh", sent)  # the youth sign-up the link was for, now seen
