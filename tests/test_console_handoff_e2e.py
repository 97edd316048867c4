"""End to end: a person asks for a caseworker on Telegram; a caseworker finds, answers, hands back."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from bot.app import Homeward
from bot.clock import FixedClock
from bot.config import Settings
from bot.transcripts import transcript_records
from db.models import AuditEntry, Beneficiary, Conversation, Message
from handlers.handoff import OfficeHours
from tests.console_support import add_staff, client, csrf, sign_in
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard, transcript

MONDAY_MORNING = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # 10:30 in Prishtina
FRIDAY_EVENING = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)  # 18:00 in Prishtina


def test_office_hours_know_today_and_the_next_opening() -> None:
    hours = OfficeHours.parse("1-5", "08:00-16:00", "Europe/Belgrade")
    assert hours.is_open(MONDAY_MORNING) and not hours.is_open(FRIDAY_EVENING)
    opening = hours.next_opening(FRIDAY_EVENING)
    assert (opening.isoweekday(), opening.hour, opening.minute) == (1, 8, 0)
    assert opening.date().isoformat() == "2026-03-09"
    assert OfficeHours.parse("1,3,6", "09:00-12:30", "Europe/Belgrade").days == frozenset({1, 3, 6})


async def _running(settings: Settings, at: datetime) -> Homeward:
    app = Homeward(settings, clock=FixedClock(at))
    await app.start()
    return app


async def test_after_hours_the_person_learns_when_a_caseworker_answers(settings: Settings, fake: FakeBotApi) -> None:
    app = await _running(settings, FRIDAY_EVENING)
    try:
        person = Person(fake, 6101, "Milan", language_code="sr")
        sent = await onboard(fake, person, "sr-Cyrl")
        person.says("/human")
        texts = await fake.wait_sent(sent + 1, person.id)
        assert "9.3.2026 08:00" in texts[-1] and "од 08:00 до 16:00" in texts[-1]
        person.says("Да ли сте ту?")
        person.says("/menu")
        await fake.wait_sent(sent + 2, person.id)
        await app.turns.wait_idle()
        assert len(fake.texts(person.id)) == sent + 2  # the question waited silently; /menu was answered
        async with app.db.sessions() as session:
            conversation = (await session.execute(select(Conversation))).scalar_one()
        assert conversation.mode == "human" and conversation.needs_human
    finally:
        await app.stop()


async def test_caseworker_takes_over_replies_and_returns_to_the_bot(settings: Settings, fake: FakeBotApi) -> None:
    app = await _running(settings, MONDAY_MORNING)
    try:
        person = Person(fake, 6102, "Arta", language_code="sq")
        sent = await onboard(fake, person, "sq")
        person.presses("menu:human")
        texts = await fake.wait_sent(sent + 1, person.id)
        assert "sot para orës 16:00" in texts[-1]
        person.says("Ku ta nxjerr letërnjoftimin? Më duhet shëndetësia.")
        fake.files["ph-1"] = b"\xff\xd8 a photo"
        person.sends(photo=[{"file_id": "ph-1", "file_unique_id": "u1", "width": 10, "height": 10}])
        await fake.wait_for(lambda: fake.pending_updates() == 0)
        await app.turns.wait_idle()
        assert len(fake.texts(person.id)) == sent + 1  # with a caseworker's queue, the bot stays silent
        await add_staff(app, "amra", "caseworker")
        async with client(app) as http:
            await sign_in(http, "amra")
            inbox = (await http.get("/inbox?view=needs_human")).text
            assert "Arta" in inbox
            found = (await http.get("/search?q=shendetesia")).text
            cid = int(found.split('href="/conversations/')[1].split("#")[0])
            page = (await http.get(f"/conversations/{cid}")).text
            photo = (await _messages(app, kind="photo"))[0]
            assert "letërnjoftimin" in page and f"/conversations/{cid}/messages/{photo.id}/file" in page
            media = await http.get(f"/conversations/{cid}/messages/{photo.id}/file")
            assert media.status_code == 200 and media.content == b"\xff\xd8 a photo"
            assert media.headers["content-disposition"].startswith("inline")  # a photo, shown in the page
            assert (
                media.headers["content-type"] == "image/jpeg" and media.headers["x-content-type-options"] == "nosniff"
            )

            token = await csrf(http)
            refused = await http.post(f"/conversations/{cid}/reply", data={"csrf": token, "text": "Mirëdita"})
            assert "error=not_owner" in refused.headers["location"]
            await http.post(f"/conversations/{cid}/take", data={"csrf": token})
            texts = await fake.wait_sent(sent + 2, person.id)
            assert texts[-1] == "Një menaxher rasti iu bashkua bisedës dhe do t'ju përgjigjet këtu."
            await http.post(f"/conversations/{cid}/reply", data={"csrf": token, "text": "Mirëdita Arta, <b>po</b>."})
            texts = await fake.wait_sent(sent + 3, person.id)
            assert texts[-1] == "Mirëdita Arta, <b>po</b>."
            await app.delivery.drain()
            reply = (await _messages(app, author="staff:amra"))[0]
            assert reply.status == "sent" and reply.direction == "out"
            page = (await http.get(f"/conversations/{cid}")).text
            assert "Mirëdita Arta, &lt;b&gt;po&lt;/b&gt;." in page and "amra" in page

            await http.post(f"/conversations/{cid}/notes", data={"csrf": token, "text": "Needs an ID appointment"})
            await http.post(f"/conversations/{cid}/labels", data={"csrf": token, "text": "", "labels": "id, health"})
            await http.post(f"/conversations/{cid}/return", data={"csrf": token})
            texts = await fake.wait_sent(sent + 4, person.id)
            assert "/menu" in texts[-1]
            person.says("/menu")
            await fake.wait_sent(sent + 5, person.id)

            exported = await http.get(f"/conversations/{cid}/export?format=csv")
            rows = list(csv.DictReader(io.StringIO(exported.text)))
            cli = [r async for r in transcript_records(app.db)]
            assert [r["message"] for r in rows] == ["" if r["message"] is None else str(r["message"]) for r in cli]
            notes = [r for r in rows if r["kind"] == "note"]
            assert [(n["author"], n["text"]) for n in notes] == [("staff:amra", "Needs an ID appointment")]
            assert any(r["author"] == "staff:amra" for r in rows)
        async with app.db.sessions() as session:
            conversation = await session.get(Conversation, cid)
            assert conversation is not None and conversation.mode == "bot" and not conversation.needs_human
            assert conversation.labels == ["id", "health"]
            actions = await session.execute(select(AuditEntry.action).where(AuditEntry.actor == "staff:amra"))
            done = set(actions.scalars())
        assert {
            "transcript.read",
            "transcript.search",
            "media.view",
            "conversation.take_over",
            "conversation.reply",
            "note.add",
            "conversation.labels",
            "conversation.return_to_bot",
            "export.transcripts",
        } <= done
    finally:
        await app.stop()


async def _messages(app: Homeward, **where: str) -> list[Message]:
    return [m for m in await transcript(app) if all(getattr(m, k) == v for k, v in where.items())]


async def test_a_caseworkers_serbian_reaches_a_latin_reader_in_latin(settings: Settings, fake: FakeBotApi) -> None:
    app = await _running(settings, MONDAY_MORNING)
    try:
        person = Person(fake, 6103, "Jelena", language_code="sr")
        sent = await onboard(fake, person, "sr-Latn")
        person.says("/human")
        await fake.wait_sent(sent + 1, person.id)
        await app.turns.wait_idle()
        await add_staff(app, "amra", "caseworker")
        async with client(app) as http:
            await sign_in(http, "amra")
            async with app.db.sessions() as session:
                cid = (await session.execute(select(Conversation.id))).scalar_one()
            token = await csrf(http)
            await http.post(f"/conversations/{cid}/take", data={"csrf": token})
            texts = await fake.wait_sent(sent + 2, person.id)
            assert texts[-1] == "Voditelj slučaja se uključio u razgovor i odgovoriće Vam ovde."
            await http.post(
                f"/conversations/{cid}/reply", data={"csrf": token, "text": "Добар дан, Јелена. Чујемо се сутра."}
            )
            texts = await fake.wait_sent(sent + 3, person.id)
            assert texts[-1] == "Dobar dan, Jelena. Čujemo se sutra."
    finally:
        await app.stop()


async def test_unread_marks_and_alerts_follow_each_caseworker(settings: Settings, fake: FakeBotApi) -> None:
    app = await _running(settings, MONDAY_MORNING)
    try:
        arta = Person(fake, 6104, "Arta", language_code="sq")
        sent = await onboard(fake, arta, "sq")
        arta.says("/human")
        await fake.wait_sent(sent + 1, arta.id)
        await app.turns.wait_idle()
        await add_staff(app, "amra", "caseworker")
        await add_staff(app, "besim", "caseworker")
        async with app.db.sessions() as session:
            cid = (await session.execute(select(Conversation.id))).scalar_one()

        async def alerts(http: httpx.AsyncClient) -> dict[str, object]:
            stream = (await http.get("/events/alerts")).text
            return json.loads(stream.split("event: alerts\ndata: ")[1].split("\n")[0])

        async with client(app) as amra, client(app) as besim:
            await sign_in(amra, "amra")
            await sign_in(besim, "besim")
            assert 'class=" unread"' in (await amra.get("/inbox")).text
            assert (await alerts(amra))["waiting"] == 1
            await amra.get(f"/conversations/{cid}")  # amra reads it
            assert 'class=" unread"' not in (await amra.get("/inbox")).text
            assert (await alerts(amra))["waiting"] == 0
            assert 'class=" unread"' in (await besim.get("/inbox")).text  # still new for besim
            assert (await alerts(besim))["waiting"] == 1
            arta.says("A jeni aty?")
            await fake.wait_for(lambda: fake.pending_updates() == 0)
            await app.turns.wait_idle()
            assert 'class=" unread"' in (await amra.get("/inbox")).text  # new words from the person
            assert (await alerts(amra))["waiting"] == 1
    finally:
        await app.stop()


async def test_while_waiting_for_a_caseworker_a_person_can_still_erase_their_data(
    settings: Settings, fake: FakeBotApi
) -> None:
    app = await _running(settings, FRIDAY_EVENING)
    try:
        person = Person(fake, 6105, "Drita", language_code="sq")
        sent = await onboard(fake, person, "sq")
        person.says("/human")
        await fake.wait_sent(sent + 1, person.id)
        person.says("/delete")
        texts = await fake.wait_sent(sent + 2, person.id)
        assert "Ky veprim nuk mund të zhbëhet." in texts[-1]
        person.presses("del:yes")  # a tap answers the bot's own question, even while a caseworker is awaited
        texts = await fake.wait_sent(sent + 3, person.id)
        assert "u fshinë" in texts[-1]
        await app.turns.wait_idle()
        async with app.db.sessions() as session:
            consent = (await session.execute(select(Beneficiary.consent))).scalar_one()
        assert consent == "erased"
    finally:
        await app.stop()
