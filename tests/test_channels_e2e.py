"""The Telegram stories, on every channel: the same person, the same words, on Telegram, WhatsApp and Viber."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.app import Homeward
from bot.channels import viber, whatsapp
from bot.config import Settings
from bot.server import VIBER_PATH, WHATSAPP_PATH
from db.models import Beneficiary, Message, OutboxItem
from tests import fakegraph, fakeviber
from tests.chats import CHANNELS, Apps, connect, onboard, running
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi

LOCALE_WORDS = {
    "sq": ("Si kujdesemi për të dhënat tuaja", "Si mund t'ju ndihmoj?"),
    "sr-Cyrl": ("Како чувамо Ваше податке", "Како могу да Вам помогнем?"),
    "sr-Latn": ("Kako čuvamo Vaše podatke", "Kako mogu da Vam pomognem?"),
}


@pytest.fixture(params=CHANNELS)
async def apps(request: pytest.FixtureRequest, settings: Settings, fake: FakeBotApi) -> AsyncIterator[Apps]:
    graph = await FakeGraphApi().start()
    viber_api = await FakeViberApi().start()
    async for running_apps in running(settings, request.param, fake, graph, viber_api):
        yield running_apps
    assert graph.violations == []
    assert viber_api.violations == []


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
        assert {"telegram": "Telegram", "whatsapp": "WhatsApp", "viber": "Viber"}[apps.channel] in page
        await http.post(f"/conversations/{cid}/take", data={"csrf": token})
        sent = len(chat.texts())
        await http.post(f"/conversations/{cid}/reply", data={"csrf": token, "text": "Mirëdita Luan, jam Amra."})
        await chat.wait_text("Mirëdita Luan, jam Amra.", sent)
        listed = (await http.get(f"/inbox?view=open&app={apps.channel}")).text
        other = (await http.get(f"/inbox?view=open&app={'web' if apps.channel == 'viber' else 'viber'}")).text
    assert "Luan" in listed and "Luan" not in other


async def test_a_crash_between_storing_and_answering_answers_once(apps: Apps, settings: Settings) -> None:
    chat = apps.chat(5, "Drita")
    await onboard(chat, "sq")
    await apps.app.turns.wait_idle()
    await apps.app.delivery.drain()
    await apps.app.stop()
    sent = len(chat.texts())
    # A process stores the next message, then dies before its turn runs (no engine, no delivery).
    first = Homeward(apps.configured)
    if apps.channel == "whatsapp":
        body = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "changes": [
                        {
                            "field": "messages",
                            "value": chat.person._value(  # type: ignore[attr-defined]
                                chat.person._message("text", text={"body": "ku me shku te doktori"})  # type: ignore[attr-defined]
                            ),
                        }
                    ]
                }
            ],
        }
        events, _ = whatsapp.split_webhook(body)
        stored = await first.store_events("whatsapp", events)
        redelivered = json.dumps(body).encode()
    elif apps.channel == "viber":
        callback = chat.person.message_body({"type": "text", "text": "ku me shku te doktori"})  # type: ignore[attr-defined]
        stored = await first.store_events("viber", viber.read_callback(callback).stored)
        redelivered = json.dumps(callback).encode()
    else:
        update = await chat.says("ku me shku te doktori")  # Telegram keeps offering it until confirmed
        stored = await first.store_telegram([(update["update_id"], chat.id, json.dumps(update))])  # type: ignore[index]
    assert len(stored) == 1
    await first.stop()
    assert len(chat.texts()) == sent
    second = Homeward(apps.configured)
    http = connect(second, apps.graph, apps.viber)
    await second.start()
    try:
        if apps.channel == "whatsapp":  # Meta saw no 200 and sends the webhook again: it must not run twice
            signature = {"X-Hub-Signature-256": fakegraph.sign(fakegraph.APP_SECRET, redelivered)}
            assert (await http.post(WHATSAPP_PATH, content=redelivered, headers=signature)).status_code == 200
        if apps.channel == "viber":  # so does Viber
            signature = {"X-Viber-Content-Signature": fakeviber.sign(fakeviber.TOKEN, redelivered)}
            assert (await http.post(VIBER_PATH, content=redelivered, headers=signature)).status_code == 200
        await chat.wait_text("Te mjeku", sent)
        await second.turns.wait_idle()
        await second.delivery.drain()
        await asyncio.sleep(0.3)
        assert sum("Te mjeku" in t for t in chat.texts()[sent:]) == 1
    finally:
        await second.stop()
        await http.aclose()
    apps.app = Homeward(apps.configured)  # the fixture stops it, as it stops any
