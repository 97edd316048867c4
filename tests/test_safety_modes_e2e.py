"""A message from someone in danger gets the emergency numbers in every mode of a conversation.

With the bot, before a language is chosen, waiting for a caseworker at night, taken over by a
caseworker (who is alerted in the console), inside a questionnaire and inside a youth sign-up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from bot.app import Homeward
from bot.clock import FixedClock
from bot.config import Settings
from console import inbox
from console.access import Staff
from console.web import create_console
from db.models import Conversation, KbQuestion, Message
from tests.console_support import BASE, add_staff, client, csrf, shown, sign_in
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard
from tests.youth_steps import Chat, add_programme

FRIDAY_NIGHT = datetime(2026, 3, 6, 22, 30, tzinfo=UTC)  # 23:30 in Prishtina, the office closed
MONDAY_MORNING = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DANGER = "burri po me rrah, kam frikë"
ADMIN = Staff(id=1, name="ada", role="admin", municipalities=(), locale="en", csrf="", session_id="")
ALERT = "This person may be in danger. They were sent the emergency numbers, and the conversation is marked urgent."


def _numbers(text: str) -> bool:
    return all(n in text for n in ("112", "192", "193", "194"))


@asynccontextmanager
async def live_client(app: Homeward, signed_in: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The same signed-in browser, on a console whose live streams look once and end."""
    transport = httpx.ASGITransport(app=create_console(app, stream_seconds=0.2))
    async with httpx.AsyncClient(transport=transport, base_url=BASE, cookies=signed_in.cookies) as http:
        yield http


async def _running(settings: Settings, at: datetime) -> Homeward:
    app = Homeward(settings, clock=FixedClock(at))
    await app.start()
    return app


async def _conversation(app: Homeward) -> Conversation:
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        return (await session.execute(select(Conversation))).scalar_one()


async def _danger_lines(app: Homeward) -> list[Message]:
    async with app.db.sessions() as session:
        lines = (await session.execute(select(Message).where(Message.direction == "in"))).scalars().all()
    return [m for m in lines if (m.payload or {}).get("danger")]


async def test_waiting_for_a_caseworker_at_night_a_danger_message_gets_the_numbers_and_an_urgent_flag(
    settings: Settings, fake: FakeBotApi
) -> None:
    app = await _running(settings, FRIDAY_NIGHT)
    try:
        person = Person(fake, 8101, "Arta", "sq")
        sent = await onboard(fake, person, "sq")
        person.says("/human")
        await fake.wait_sent(sent + 1, person.id)
        person.says("a ka dikush aty?")  # an ordinary message waits silently for the caseworker
        person.says(DANGER)
        texts = await fake.wait_sent(sent + 2, person.id)
        assert _numbers(texts[-1]) and "urgjente" in texts[-1]
        assert fake.sent()[-1].get("reply_markup") is None  # no "talk to a caseworker": they are waiting for one
        conversation = await _conversation(app)
        assert (conversation.mode, conversation.needs_human, conversation.urgent) == ("human", True, True)
        assert [m.text for m in await _danger_lines(app)] == [DANGER]
        assert len(fake.texts(person.id)) == sent + 2
    finally:
        await app.stop()


async def test_in_a_taken_over_conversation_the_person_gets_the_numbers_and_the_owner_an_alert(
    settings: Settings, fake: FakeBotApi
) -> None:
    app = await _running(settings, MONDAY_MORNING)
    try:
        person = Person(fake, 8102, "Arta", "sq")
        sent = await onboard(fake, person, "sq")
        person.says("kam nevojë për ndihmë me dokumentet")
        sent = len(await fake.wait_sent(sent + 1, person.id))
        await add_staff(app, "amra", "caseworker")
        cid = (await _conversation(app)).id
        async with client(app) as http:
            await sign_in(http, "amra")
            token = await csrf(http)
            await http.post(f"/conversations/{cid}/take", data={"csrf": token})
            await http.post(f"/conversations/{cid}/reply", data={"csrf": token, "text": "Mirëdita, po ju shkruaj."})
            sent = len(await fake.wait_sent(sent + 2, person.id))  # the take-over notice, then the reply
            conversation = await _conversation(app)
            assert (conversation.mode, conversation.needs_human, conversation.urgent) == ("human", False, False)
            page = (await http.get(f"/conversations/{cid}")).text
            after = int(page.split(f"/conversations/{cid}/events?after=")[1].split('"')[0].split("&")[0])
            assert 'id="urgent" hidden' in page

            person.says(DANGER)
            texts = await fake.wait_sent(sent + 1, person.id)
            assert _numbers(texts[-1])
            conversation = await _conversation(app)
            assert (conversation.mode, conversation.assignee_id is not None) == ("human", True)
            assert conversation.urgent and conversation.needs_human

            # The owner's open page learns of it live: the line with its alert, and the urgent flag.
            async with live_client(app, http) as stream:
                events = (await stream.get(f"/conversations/{cid}/events?after={after}")).text
            assert "event: messages" in events and '"urgent": true' in events
            assert shown(app, ALERT) in events
            page = (await http.get(f"/conversations/{cid}")).text
            assert shown(app, ALERT) in page and 'id="urgent" hidden' not in page
            inbox = (await http.get("/inbox?view=urgent")).text
            assert f'href="/conversations/{cid}' in inbox
    finally:
        await app.stop()


async def test_before_choosing_a_language_the_numbers_come_in_both_languages(
    homeward: Homeward, fake: FakeBotApi
) -> None:
    person = Person(fake, 8103, "Milan", "sr")
    person.says("муж ме туче и прети ми")
    texts = await fake.wait_sent(2, person.id)
    assert all(_numbers(text) for text in texts)
    assert "rrezik" in texts[0] and "опасност" in texts[1]
    conversation = await _conversation(homeward)
    assert conversation.urgent and conversation.needs_human


async def test_inside_the_follow_up_questions_a_danger_message_gets_the_numbers_and_the_question_waits(
    homeward: Homeward, fake: FakeBotApi
) -> None:
    person = Person(fake, 8104, "Arben", "sq")
    n = await onboard(fake, person, "sq")
    person.presses("menu:followup")
    await fake.wait_sent(n + 1, person.id)
    person.presses("fu:consent:yes")
    texts = await fake.wait_sent(n + 2, person.id)  # asks for the return date
    person.says("dua të vdes")
    texts = await fake.wait_sent(n + 3, person.id)
    assert _numbers(texts[-1])
    assert (await _conversation(homeward)).urgent
    person.says("15.12.2025")  # the question was still waiting: the date is taken
    texts = await fake.wait_sent(n + 4, person.id)
    assert "15.12.2025" in texts[-1]
    async with homeward.db.sessions() as session:
        outcomes = (await session.execute(select(KbQuestion.outcome))).scalars().all()
    assert outcomes == ["emergency"]


async def test_inside_a_youth_sign_up_a_danger_message_gets_the_numbers_and_the_form_goes_on(
    settings: Settings, homeward: Homeward, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_programme(settings, monkeypatch, capacity=10)
    person = Person(fake, 8105, "Drita", "sq")
    await onboard(fake, person, "sq")
    chat = Chat(fake, person)
    await chat.press("menu:youth", replies=2)
    await chat.choose("n")  # the introduction
    texts = await chat.choose("c0")  # programme consent: yes; the name is asked
    question = texts[-1]
    texts = await chat.say("më kërcënon me thikë")
    assert _numbers(texts[-1])
    assert (await _conversation(homeward)).urgent
    texts = await chat.say("Drita Krasniqi")  # the name question was still waiting
    assert texts[-1] != question and not _numbers(texts[-1])
    async with homeward.db.sessions() as session:
        state = (await session.execute(select(Conversation.state))).scalar_one()
    assert state.get("flow") == "form"


def _count(inbox: str, view: str) -> str:
    """The number beside a view's name in the inbox's filters."""
    link = inbox.split(f'href="/inbox?view={view}&amp;')[1]
    return link.split('<span class="count">')[1].split("</span>")[0]


async def test_a_web_visitor_who_never_consented_and_is_in_danger_is_in_the_caseworkers_queue(
    homeward: Homeward,
) -> None:
    await add_staff(homeward, "amra", "caseworker")
    transport = httpx.ASGITransport(app=create_console(homeward, stream_seconds=0.0))
    async with httpx.AsyncClient(transport=transport, base_url="http://chat.test") as visitor:
        page = (await visitor.get("/chat")).text
        token = page.split('name="chat-token" content="')[1].split('"')[0]
        # No language chosen, no consent given: straight to the danger message.
        sent = await visitor.post(
            "/chat/messages", json={"id": "d1", "text": "zaključali su me u sobu"}, headers={"x-chat-token": token}
        )
        assert sent.status_code == 202
        await homeward.turns.wait_idle()
    conversation = await _conversation(homeward)
    assert conversation.urgent and conversation.needs_human
    cid = conversation.id
    async with client(homeward) as http:
        await sign_in(http, "amra")
        for view in ("urgent", "needs_human", "open"):
            listed = (await http.get(f"/inbox?view={view}")).text
            assert f'href="/conversations/{cid}"' in listed, view
            assert (_count(listed, "urgent"), _count(listed, "needs_human"), _count(listed, "open")) == ("1", "1", "1")
        narrowed = (await http.get("/inbox?view=urgent&app=web")).text
        assert f'href="/conversations/{cid}"' in narrowed and _count(narrowed, "urgent") == "1"
        # Every console page's alerts count it too: one waiting, urgent.
        async with live_client(homeward, http) as stream:
            alerts = (await stream.get("/events/alerts")).text
        assert '"waiting": 1' in alerts and '"urgent": 1' in alerts
    async with homeward.db.sessions() as session:
        counted = await inbox.counts(session, ADMIN, inbox.Query())
    assert (counted["urgent"], counted["needs_human"]) == (1, 1)
