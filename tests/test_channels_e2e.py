"""The Telegram stories, on every channel: the same person, the same words, on Telegram, the web
chat page, WhatsApp and Viber.

Onboarding in three locales, a question, the emergency answer and plain-word commands, /mydata and
/delete, a hand-off with a caseworker's reply, a follow-up wave with its reminder, a youth sign-up
confirmed by a guardian, and a crash between storing and answering: each on each app, against the
fakes that enforce that app's limits (and the chat page's own routes), on a clock the test moves.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.app import Homeward
from bot.clock import FixedClock
from bot.config import Settings
from console.ui import APP_NAMES
from db.models import Beneficiary, FollowupContact, Message, OutboxItem, Submission
from db.youth import Enrolment
from handlers.onboarding import LANGUAGE_BUTTONS
from tests import fakegraph, fakeviber
from tests.chats import CHANNELS, Apps, Chat, WebChat, act, button, connect, onboard, running, settled, taps
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi
from tests.youth_steps import add_programme

START = datetime(2026, 1, 10, 11, 0, tzinfo=UTC)  # 12:00 in Prishtina
LOCALES = ("sq", "sr-Cyrl", "sr-Latn")
TEMPLATES = {f"{purpose}:{loc}": f"homeward_{purpose}" for purpose in ("followup", "caseworker") for loc in LOCALES}
LOCALE_WORDS = {
    "sq": ("Si kujdesemi për të dhënat tuaja", "Si mund t'ju ndihmoj?"),
    "sr-Cyrl": ("Како чувамо Ваше податке", "Како могу да Вам помогнем?"),
    "sr-Latn": ("Kako čuvamo Vaše podatke", "Kako mogu da Vam pomognem?"),
}


@pytest.fixture(params=CHANNELS)
async def apps(request: pytest.FixtureRequest, settings: Settings, fake: FakeBotApi) -> AsyncIterator[Apps]:
    clock = FixedClock(START)
    graph = await FakeGraphApi(
        now=clock.now, templates=set(TEMPLATES.values()), templates_with_buttons={"homeward_followup"}
    ).start()
    viber_api = await FakeViberApi().start()
    configured = settings.model_copy(
        update={
            "whatsapp_templates": TEMPLATES,
            "whatsapp_phone_number": "+383 44 000 000",  # written as people write it
            "viber_chat_uri": fakeviber.CHAT_URI,
            # People write at machine speed here; the chat page's limits and pacing have their own tests.
            "webchat_messages_per_visitor": 1000,
            "webchat_messages_per_address": 1000,
            "whatsapp_rate_chat_per_second": settings.rate_chat_per_second,
            "whatsapp_rate_chat_burst": settings.rate_chat_burst,
            "viber_rate_chat_per_second": settings.rate_chat_per_second,
            "viber_rate_chat_burst": settings.rate_chat_burst,
        }
    )
    async for running_apps in running(configured, request.param, fake, graph, viber_api, clock=clock):
        yield running_apps
    assert fake.violations == []
    assert graph.violations == []
    assert viber_api.violations == []


@pytest.mark.parametrize("locale", LOCALES)
async def test_onboarding_in_each_locale(apps: Apps, locale: str) -> None:
    chat = apps.chat(1, "Arta")
    await chat.says("/start")
    texts = await chat.wait_sent(1)
    assert "Ju lutemi zgjidhni gjuhën" in texts[0] and "Молимо Вас да изаберете језик" in texts[0]
    assert sorted(chat.buttons()) == ["lang:sq", "lang:sr-Cyrl", "lang:sr-Latn"]
    await taps(chat, dict(LANGUAGE_BUTTONS)[locale])  # by the label the person reads
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
    # Every send is recorded (several at once in one statement), none left waiting to be sent again.
    for _ in range(100):
        async with apps.app.db.sessions() as session:
            waiting = (
                await session.execute(select(func.count()).select_from(OutboxItem).where(OutboxItem.status != "sent"))
            ).scalar_one()
            statuses = set((await session.execute(select(Message.status).where(Message.direction == "out"))).scalars())
        if not waiting and statuses <= {"sent", "delivered"}:
            break
        await asyncio.sleep(0.05)
    assert not waiting and statuses <= {"sent", "delivered"}


async def test_a_question_the_emergency_answer_and_plain_word_commands(apps: Apps) -> None:
    chat = apps.chat(2, "Drita")
    await onboard(chat, "sq")
    sent = len(chat.texts())
    await chat.says("ku me shku te doktori")
    assert (await chat.wait_text("Te mjeku", sent)).startswith("Te mjeku")
    sent = len(chat.texts())
    await chat.says("burri më rreh çdo ditë")
    assert "112" in await chat.wait_text("112", sent)
    sent = len(chat.texts())
    await chat.says("Meny")  # no command menu in these apps: the word is the command
    await chat.wait_text("Si mund t'ju ndihmoj?", sent)
    sent = len(chat.texts())
    await chat.says("стоп")
    await chat.wait_text("Nuk do t'ju dërgojmë më", sent)
    await apps.app.turns.wait_idle()
    async with apps.app.db.sessions() as session:
        someone = (await session.execute(select(Beneficiary))).scalar_one()
        assert someone.opted_out


async def test_half_of_a_character_pair_is_stored_as_a_replacement_character_and_answered(apps: Apps) -> None:
    """A lone surrogate is valid JSON that no database stores: the text is kept with U+FFFD in its place."""
    if apps.channel == "web":
        pytest.skip("the chat page refuses text that is not valid Unicode (tests/test_webchat_limits.py)")
    chat = apps.chat(12, "Valon")
    await onboard(chat, "sq")
    sent = len(chat.texts())
    await chat.says("ku me shku te doktori \ud83d")
    assert (await chat.wait_text("Te mjeku", sent)).startswith("Te mjeku")
    await apps.app.turns.wait_idle()
    async with apps.app.db.sessions() as session:
        stored = (await session.execute(select(Message.text).where(Message.direction == "in"))).scalars().all()
    assert "ku me shku te doktori \ufffd" in stored


async def test_mydata_then_delete_erases_everything(apps: Apps) -> None:
    chat = apps.chat(3, "Besnik Gashi")
    await onboard(chat, "sq")
    await chat.says("Më duhet letërnjoftimi për Besnikun")
    sent = len(chat.texts())
    await chat.says("/mydata")
    await chat.wait_text("Ja gjithçka që ruajmë", sent)
    if apps.channel == "viber":  # Viber takes files only from a public address: the copy comes as messages
        assert apps.viber is not None
        await apps.viber.wait_for(lambda: sum("letërnjoftimi për Besnikun" in t for t in chat.texts()[sent:]) >= 1)
        files = "\n".join(chat.texts()[sent:]).encode()
    elif isinstance(chat, WebChat):  # the page links each file once
        await chat.wait_for(lambda: len(chat.files()) == 2)
        files = b"".join([await chat.download(file) for file in chat.files()])
        assert all(file["name"].startswith("homeward-data-") for file in chat.files())
    elif apps.channel == "whatsapp":
        # Each file is uploaded, then sent as a document: wait for both sends, not only the uploads.
        await apps.graph.wait_for(lambda: sum(m["type"] == "document" for m in apps.graph.messages(chat.id)) == 2)
        files = b"".join(apps.graph.uploads.values())
        documents = [m for m in apps.graph.messages(chat.id) if m["type"] == "document"]
        assert len(documents) == 2 and all(d["document"]["filename"].startswith("homeward-data-") for d in documents)
    else:
        await apps.fake.wait_for(lambda: len(apps.fake.sent("sendDocument", chat.id)) == 2)
        calls = apps.fake.sent("sendDocument", chat.id)
        files = b"".join(v["content"] for c in calls for v in c.values() if isinstance(v, dict) and "content" in v)
    assert "letërnjoftimi për Besnikun".encode() in files
    sent = len(chat.texts())
    await chat.says("/delete")
    await chat.wait_button("del:yes")
    await chat.presses("del:yes")
    await chat.wait_text("u fshinë", sent)
    await apps.app.turns.wait_idle()
    await apps.app.delivery.drain()
    async with apps.app.db.sessions() as session:
        someone = (await session.execute(select(Beneficiary))).scalar_one()
        assert someone.consent == "erased" and someone.chat_id is None and someone.display_name is None
        texts = (await session.execute(select(Message.text))).scalars().all()
    assert not any(text and "Besnik" in text for text in texts)


async def test_hand_off_and_a_caseworker_reply_reach_the_app(apps: Apps) -> None:
    from tests.console_support import add_staff, client, csrf, sign_in

    chat = apps.chat(4, "Luan")
    await onboard(chat, "sq")
    await chat.presses("menu:human")
    await apps.app.turns.wait_idle()
    await add_staff(apps.app, "amra", "caseworker")
    async with apps.app.db.sessions() as session:
        line = (await session.execute(select(Message).where(Message.direction == "in"))).scalars().first()
        assert line is not None
        cid = line.conversation_id
    async with client(apps.app) as http:
        await sign_in(http, "amra")
        token = await csrf(http)
        page = (await http.get(f"/conversations/{cid}")).text
        assert apps.app.translations("sq").gettext(APP_NAMES[apps.channel]) in page  # "Telegram", "Biseda në ueb"…
        await http.post(f"/conversations/{cid}/take", data={"csrf": token})
        sent = len(chat.texts())
        await http.post(f"/conversations/{cid}/reply", data={"csrf": token, "text": "Mirëdita Luan, jam Amra."})
        await chat.wait_text("Mirëdita Luan, jam Amra.", sent)
        listed = (await http.get(f"/inbox?view=open&app={apps.channel}")).text
        other = (await http.get(f"/inbox?view=open&app={'web' if apps.channel == 'viber' else 'viber'}")).text
    assert "Luan" in listed and "Luan" not in other


async def test_a_crash_between_storing_and_answering_answers_once(apps: Apps) -> None:
    chat = apps.chat(5, "Drita")
    await onboard(chat, "sq")
    await settled(apps)
    await apps.app.stop()
    sent = len(chat.texts())
    # A process stores the next message, then dies before its turn runs (no engine, no delivery).
    first = Homeward(apps.configured, clock=apps.clock)
    stored, redeliver = await chat.stored_by(first, "ku me shku te doktori")
    assert stored == 1
    await first.stop()
    assert len(chat.texts()) == sent
    second = Homeward(apps.configured, clock=apps.clock)
    http = connect(second, apps.graph, apps.viber)
    await second.start()
    apps.app = second
    try:
        if redeliver is not None:  # the platform, or the browser, saw no answer and sends it again
            await redeliver()
        await chat.wait_text("Te mjeku", sent)
        await settled(apps)
        await asyncio.sleep(0.3)
        await chat.wait_sent(sent + 1)
        assert sum("Te mjeku" in t for t in chat.texts()[sent:]) == 1
        async with second.db.sessions() as session:
            asked = (await session.execute(select(Message.text).where(Message.direction == "in"))).scalars().all()
        assert asked.count("ku me shku te doktori") == 1
    finally:
        await http.aclose()


async def test_a_follow_up_wave_arrives_is_paused_reminded_and_completed(apps: Apps) -> None:
    clock = apps.clock
    assert isinstance(clock, FixedClock)
    chat = apps.chat(6, "Arben")
    await onboard(chat, "sq")
    await settled(apps)
    assert "3, 6 dhe 12 muaj" in (await act(apps, chat, presses="menu:followup"))[-1]
    assert "15.03.2026" in (await act(apps, chat, presses="fu:consent:yes"))[-1]
    assert "nuk mund ta lexoj" in (await act(apps, chat, says="31.02.2025"))[-1]
    assert "15.3.2026" in (await act(apps, chat, says="15.12.2025"))[-1]

    # Nothing before the wave is due, nor at night in Kosovo; then the invitation, months after the
    # person last wrote (on WhatsApp: the approved template, its two quick replies the invitation's buttons).
    assert (await apps.app.followups.run_once())["invited"] == 0
    clock.set(datetime(2026, 3, 15, 6, 0, tzinfo=UTC))
    assert (await apps.app.followups.run_once())["invited"] == 0
    clock.set(datetime(2026, 3, 15, 9, 30, tzinfo=UTC))
    sent = len(chat.texts())
    assert (await apps.app.followups.run_once())["invited"] == 1
    await settled(apps)
    assert "Kanë kaluar 3 muaj" in await chat.wait_text("Kanë kaluar 3 muaj", sent)
    start = chat.buttons()[0]
    assert start.startswith("fu:start:")
    texts = await act(apps, chat, presses=start)
    assert "(1/" in texts[-1]  # the introduction note
    assert "Sa veta jetoni" in (await act(apps, chat, presses=button(chat, "n")))[-1]
    assert "nga 1 deri në 30" in (await act(apps, chat, says="0"))[-1]
    current = (await act(apps, chat, says="4"))[-1]
    assert "burimi kryesor" in current
    await act(apps, chat, says="/menu")  # any command pauses

    # The next day, more than 24 hours after the person last wrote: a reminder, and the questions go
    # on exactly where they stopped.
    clock.set(datetime(2026, 3, 16, 9, 45, tzinfo=UTC))
    sent = len(chat.texts())
    assert (await apps.app.followups.run_once())["reminded"] == 1
    await settled(apps)
    await chat.wait_text("kujtesë", sent)
    texts = await act(apps, chat, presses=chat.buttons()[0])
    assert texts[-1].split("\n")[0] == current.split("\n")[0]

    for _ in range(60):
        async with apps.app.db.sessions() as session:
            submission = (await session.execute(select(Submission))).scalar_one()
        if submission.status == "completed":
            break
        choices = chat.buttons()
        last = chat.texts()[-1]
        choice = next((b for b in choices if b.rsplit(":", 1)[1].startswith("c")), None)
        if choice is not None:
            await act(apps, chat, presses=choice)
        elif any(b.endswith(":n") for b in choices):
            await act(apps, chat, presses=button(chat, "n"))
        elif any(b.endswith(":d") for b in choices):
            await act(apps, chat, presses=next(b for b in choices if b.rsplit(":", 1)[1].startswith("t")))
            await act(apps, chat, presses=button(chat, "d"))
        else:
            await act(apps, chat, says="2" if "numër" in last else "Asgjë")
    assert submission.status == "completed"
    assert "Faleminderit për përgjigjet" in " ".join(chat.texts()[-2:])
    assert set(submission.scores or {}) >= {"score_economic", "score_social", "score_psychosocial", "score_composite"}
    async with apps.app.db.sessions() as session:
        wave = (await session.execute(select(FollowupContact).where(FollowupContact.wave == 1))).scalar_one()
    assert wave.status == "answered" and wave.submission_id == submission.id


async def _sign_up_under_18(apps: Apps, minor: Chat) -> str:
    """A 16-year-old signs up from a school's link; returns the message with the guardian's link."""
    await act(apps, minor, says="/start youth_school12")
    await act(apps, minor, presses="lang:sq")
    assert any("Ura mes nesh" in t for t in await act(apps, minor, presses="consent:yes"))
    for step in ("n", "c0"):
        await act(apps, minor, presses=button(minor, step))
    await act(apps, minor, says="Era Gashi")
    await act(apps, minor, says="01.03.2009")  # 16
    await act(apps, minor, says="Prishtine")
    for step in ("c0", "t0", "d", "t2", "d"):
        await act(apps, minor, presses=button(minor, step))
    await act(apps, minor, says="Gjimnazi Xhevdet Doda")
    for step in ("s", "c0", "n"):  # community skipped, contact, the note about the guardian
        await act(apps, minor, presses=button(minor, step))
    await act(apps, minor, says="Mimoza Gashi")
    await act(apps, minor, says="+383 44 555 666")
    texts = await act(apps, minor, presses=button(minor, "c0"))  # photos: yes
    return next(t for t in texts if "g_" in t)


async def _enrolment(apps: Apps) -> Enrolment:
    await settled(apps)
    async with apps.app.db.sessions() as session:
        return (await session.execute(select(Enrolment))).scalar_one()


async def opens(apps: Apps, chat: Chat, link: str) -> list[str]:
    """What opening the link does on the person's phone: the app it names, with the words it carries."""
    before = len(chat.texts())
    welcome = await chat.opens(link)
    await settled(apps)
    if welcome:  # Viber's welcome to someone not yet subscribed: the language picker, and nothing more
        await asyncio.sleep(0.2)
        await settled(apps)
        assert chat.texts()[before:] == []
        return [str(welcome["text"])]
    await chat.wait_sent(before + 1)
    await settled(apps)
    await chat.catch_up()
    return chat.texts()[before:]


async def test_a_youth_sign_up_under_18_is_confirmed_by_the_guardian_in_their_own_account(
    apps: Apps, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_programme(settings, monkeypatch, capacity=10, municipality="prishtine")
    minor = apps.chat(7, "Era")
    message = await _sign_up_under_18(apps, minor)
    enrolment = await _enrolment(apps)
    assert (enrolment.status, enrolment.guardian_state) == ("pending_guardian", "pending")
    links = re.findall(r"(?:https://|viber://)\S+", message)
    # The link opens the app the young person uses; from the chat page, a messaging app's account.
    expected = {
        "telegram": "https://t.me/homeward_test_bot?start=g_",
        "web": "https://t.me/homeward_test_bot?start=g_",
        "whatsapp": f"https://wa.me/{fakegraph.WA_ME_NUMBER}?text=",
        "viber": f"viber://pa?chatURI={fakeviber.CHAT_URI}&context=g_",
    }[apps.channel]
    link = next((found for found in links if found.startswith(expected)), None)
    assert link is not None, message
    assert "Telegram" not in message or apps.channel in ("telegram", "web"), message
    guardian_channel = "telegram" if apps.channel == "web" else apps.channel

    if apps.channel != "web":  # the young person opening it in their own account is refused
        texts = await opens(apps, minor, link)
        assert any("Kjo lidhje është për prindin ose kujdestarin tuaj" in t for t in texts), texts
        assert not any(b.startswith("yo:g:") for b in minor.buttons())

    guardian = apps.chat(8, "Mimoza", channel=guardian_channel)
    await opens(apps, guardian, link)
    await act(apps, guardian, presses="lang:sq")
    texts = await act(apps, guardian, presses="consent:yes")
    assert any("Era Gashi" in t for t in texts), texts
    before = len(minor.texts())
    await act(apps, guardian, presses=f"yo:g:{enrolment.id}:all")
    await minor.wait_text("Prindi ose kujdestari juaj është pajtuar", before)
    enrolment = await _enrolment(apps)
    assert (enrolment.status, enrolment.guardian_state, enrolment.guardian_confirmed_by, enrolment.source) == (
        "confirmed",
        "confirmed",
        guardian_channel,
        "school12",
    )


@pytest.fixture
async def unnamed_web(settings: Settings, fake: FakeBotApi) -> AsyncIterator[Apps]:
    """The chat page of a deployment whose app accounts are not named: no WhatsApp number, no Viber chat
    URI, and Telegram's username unknown (Telegram was not reachable when the process started)."""
    clock = FixedClock(START)
    graph = await FakeGraphApi(now=clock.now).start()
    viber_api = await FakeViberApi().start()
    configured = settings.model_copy(
        update={"webchat_messages_per_visitor": 1000, "webchat_messages_per_address": 1000}
    )
    async for running_apps in running(configured, "web", fake, graph, viber_api, clock=clock):
        running_apps.app.services.extras.pop("bot_username", None)
        yield running_apps
    assert graph.violations == [] and viber_api.violations == []


async def test_from_the_chat_page_without_app_links_the_guardian_gets_a_code_that_works(
    unnamed_web: Apps, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = unnamed_web
    assert apps.configured.whatsapp_phone_number is None and apps.configured.viber_chat_uri is None
    await add_programme(settings, monkeypatch, capacity=10, municipality="prishtine")
    minor = apps.chat(9, "Era")
    message = await _sign_up_under_18(apps, minor)
    enrolment = await _enrolment(apps)
    assert (enrolment.status, enrolment.guardian_state) == ("pending_guardian", "pending")
    # No link that leads nowhere: the code, and the apps it is sent in.
    assert not re.search(r"https?://|viber://|t\.me|wa\.me", message), message
    code = re.search(r"/start (g_[A-Za-z0-9_-]+)", message)
    assert code is not None, message
    assert "Telegram / WhatsApp / Viber" in message, message

    guardian = apps.chat(10, "Mimoza", channel="whatsapp")  # the guardian sends the code as a message
    await act(apps, guardian, says=code.group(0))
    await act(apps, guardian, presses="lang:sq")
    texts = await act(apps, guardian, presses="consent:yes")
    assert any("Era Gashi" in t for t in texts), texts
    before = len(minor.texts())
    await act(apps, guardian, presses=f"yo:g:{enrolment.id}:all")
    await minor.wait_text("Prindi ose kujdestari juaj është pajtuar", before)
    enrolment = await _enrolment(apps)
    assert (enrolment.status, enrolment.guardian_state, enrolment.guardian_confirmed_by) == (
        "confirmed",
        "confirmed",
        "whatsapp",
    )
