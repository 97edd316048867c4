"""A broadcast from the console to people on Telegram, WhatsApp, Viber and the web chat, in both languages
and all three scripts: each reachable person gets exactly their text once; the others are skipped with the
reason; the broadcast's page counts it all as delivery proceeds."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.app import Homeward
from bot.config import Settings
from bot.text import cyrillic_to_latin
from db.broadcasts import Broadcast
from db.models import AuditEntry, Beneficiary, Conversation, Message
from tests.chats import Apps, Chat, onboard, running
from tests.console_support import add_staff, client, csrf, shown, sign_in
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi

TEXT_SQ = "Takimi informues është të enjten në ora 10, në zyrën e komunës."
TEXT_SR = "Информативни састанак је у четвртак у 10 часова, у канцеларији општине."
TEXT_LATN = cyrillic_to_latin(TEXT_SR)
TEXTS = {"sq": TEXT_SQ, "sr-Cyrl": TEXT_SR, "sr-Latn": TEXT_LATN}
_COUNT = re.compile(r'data-count="(\w+)">(\d+)<')
_REASON = re.compile(r'data-reason="(\w+)">[^<]*: (\d+)<')


@pytest.fixture
async def apps(settings: Settings, fake: FakeBotApi) -> AsyncIterator[Apps]:
    """Every app; WhatsApp has an approved announcement template in Albanian only."""
    graph = await FakeGraphApi(templates={"announcement_sq"}).start()
    viber_api = await FakeViberApi().start()
    configured = settings.model_copy(update={"whatsapp_templates": {"announcement:sq": "announcement_sq"}})
    async for running_apps in running(configured, "telegram", fake, graph, viber_api):
        yield running_apps
    assert graph.violations == []
    assert viber_api.violations == []


async def _web_visitor(app: Homeward, locale: str) -> int:
    """A consenting web chat visitor (the page's own steps have their tests); returns the person's id."""
    now = app.clock.now()
    async with app.db.transaction() as session:
        person = Beneficiary(
            channel="web",
            channel_ref="ref-web-visitor",
            channel_user_id="w-visitor",
            chat_id="w-visitor",
            locale=locale,
            consent="given",
            consent_version=1,
            consent_at=now,
            opted_out=False,
            blocked=False,
            created_at=now,
            last_contact_at=now,
        )
        session.add(person)
        await session.flush()
        session.add(Conversation.opened(person.id, now))
        return person.id


async def _window_closed(app: Homeward, chat: Chat) -> None:
    """The person last wrote 25 hours ago: WhatsApp takes only an approved template now."""
    async with app.db.transaction() as session:
        await session.execute(
            update(Beneficiary)
            .where(Beneficiary.channel_user_id == chat.id)
            .values(last_contact_at=app.clock.now() - timedelta(hours=25))
        )


def _broadcasts_in(chat: Chat) -> list[str]:
    return [text for text in chat.texts() if any(words in text for words in TEXTS.values())]


async def test_a_broadcast_reaches_each_person_once_in_their_language_and_script(apps: Apps) -> None:
    app = apps.app
    tg_sq, tg_cyrl = apps.chat(1, "Arta"), apps.chat(2, "Јована")
    wa_latn, wa_sq_late, wa_cyrl_late = (
        apps.chat(3, "Marko", channel="whatsapp"),
        apps.chat(4, "Besa", channel="whatsapp"),
        apps.chat(5, "Милан", channel="whatsapp"),
    )
    vb_cyrl, vb_gone = apps.chat(6, "Драган", channel="viber"), apps.chat(7, "Dren", channel="viber")
    tg_stopped, tg_declined, tg_erased = apps.chat(8, "Fatos"), apps.chat(9, "Gent"), apps.chat(10, "Hana")
    for chat, locale in (
        (tg_sq, "sq"),
        (tg_cyrl, "sr-Cyrl"),
        (wa_latn, "sr-Latn"),
        (wa_sq_late, "sq"),
        (wa_cyrl_late, "sr-Cyrl"),
        (vb_cyrl, "sr-Cyrl"),
        (vb_gone, "sq"),
        (tg_stopped, "sq"),
        (tg_erased, "sq"),
    ):
        await onboard(chat, locale)
    await tg_declined.says("/start")
    await tg_declined.wait_button("lang:sq")
    await tg_declined.presses("lang:sq")
    await tg_declined.wait_button("consent:no")
    await tg_declined.presses("consent:no")
    await tg_stopped.says("стоп")
    await vb_gone.person.unsubscribes()  # type: ignore[attr-defined]
    await tg_erased.says("/delete")
    await tg_erased.wait_button("del:yes")
    await tg_erased.presses("del:yes")
    await app.turns.wait_idle()
    await _window_closed(app, wa_sq_late)
    await _window_closed(app, wa_cyrl_late)
    web_person = await _web_visitor(app, "sr-Latn")

    await add_staff(app, "drita", "admin")
    async with client(app) as http:
        await sign_in(http, "drita")
        token = await csrf(http)
        form = {"csrf": token, "text_sq": TEXT_SQ, "text_sr": TEXT_SR}
        preview = await http.post("/broadcasts/preview", data=form)
        assert preview.status_code == 200
        for text in TEXTS.values():
            assert text in preview.text
        assert re.search(r'id="broadcast-reach"><strong>[^<]*\b6\b', preview.text)
        one_time = re.search(r'name="token" value="([0-9a-f]+)"', preview.text)
        seal = re.search(r'name="seal" value="([0-9a-f]+)"', preview.text)
        assert one_time is not None and seal is not None
        async with app.db.sessions() as session:
            assert (await session.execute(select(func.count()).select_from(Broadcast))).scalar_one() == 0
        sent = await http.post("/broadcasts", data={**form, "token": one_time.group(1), "seal": seal.group(1)})
        again = await http.post(
            "/broadcasts", data={**form, "token": one_time.group(1), "seal": seal.group(1)}
        )  # pressed twice
        assert sent.status_code == again.status_code == 303
        assert sent.headers["location"] == again.headers["location"]
        page_url = sent.headers["location"]
        await app.broadcasts.wait_idle()  # queued in the background: every line is in the outbox now

        reached = {tg_sq: "sq", tg_cyrl: "sr-Cyrl", wa_latn: "sr-Latn", wa_sq_late: "sq", vb_cyrl: "sr-Cyrl"}
        for chat, locale in reached.items():
            await chat.wait_text(TEXTS[locale])
        counts: dict[str, int] = {}
        for _ in range(200):
            page = (await http.get(page_url)).text
            counts = {name: int(n) for name, n in _COUNT.findall(page)}
            if counts.get("left") == 0:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # anything sent twice would have arrived by now
        for chat, locale in reached.items():
            assert _broadcasts_in(chat) == [TEXTS[locale]], (chat.id, chat.texts()[-3:])
        late = [m for m in apps.graph.messages(wa_sq_late.id) if TEXT_SQ in json.dumps(m, ensure_ascii=False)]
        assert [(m["type"], m["template"]["name"]) for m in late] == [("template", "announcement_sq")]
        for chat in (wa_cyrl_late, vb_gone, tg_stopped, tg_declined, tg_erased):
            assert _broadcasts_in(chat) == [], chat.id
        assert counts == {"sent": 6, "failed": 0, "skipped": 5, "left": 0}
        assert dict((reason, int(n)) for reason, n in _REASON.findall(page)) == {
            "erased": 1,
            "no_consent": 1,
            "opted_out": 1,
            "outside_window": 1,
            "unsubscribed": 1,
        }
        async with app.db.sessions() as session:
            assert (await session.execute(select(func.count()).select_from(Broadcast))).scalar_one() == 1
            web_lines = (
                await session.execute(
                    select(Message.text, Message.author, Message.status)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(Conversation.beneficiary_id == web_person)
                )
            ).all()
            cid = (
                await session.execute(
                    select(Conversation.id)
                    .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
                    .where(Beneficiary.channel_user_id == tg_cyrl.id)
                )
            ).scalar_one()
            actions = (await session.execute(select(AuditEntry.action).where(AuditEntry.actor == "staff:drita"))).all()
        assert [tuple(line) for line in web_lines] == [(TEXT_LATN, "broadcast:drita", "sent")]
        transcript = (await http.get(f"/conversations/{cid}")).text
        assert TEXT_SR in transcript and shown(app, "Broadcast from {name}", name="drita") in transcript
    assert [a for (a,) in actions if a.startswith("broadcast.")] == ["broadcast.preview", "broadcast.send"]
