"""WhatsApp's own rules, end to end against the fake Graph API: signatures, replays, receipts, the 24-hour window."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import Homeward
from bot.clock import FixedClock
from bot.config import Settings
from bot.server import WHATSAPP_PATH
from db.models import Beneficiary, InboxUpdate, Message, OutboxItem
from tests import fakegraph
from tests.chats import Apps, WhatsAppChat, connect, onboard, running
from tests.console_support import add_staff, client, csrf, sign_in
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi, sign

START = datetime(2026, 5, 11, 9, 0, tzinfo=UTC)  # a Monday morning: caseworkers are in


@pytest.fixture
async def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def graph(clock: FixedClock) -> FakeGraphApi:
    return await FakeGraphApi(now=clock.now, templates={"homeward_caseworker_sq"}).start()


@pytest.fixture
async def apps(settings: Settings, fake: FakeBotApi, graph: FakeGraphApi, clock: FixedClock) -> AsyncIterator[Apps]:
    settings = settings.model_copy(update={"whatsapp_templates": {"caseworker:sq": "homeward_caseworker_sq"}})
    async for running_apps in running(settings, "whatsapp", fake, graph, clock=clock):
        yield running_apps


async def _last_line(app: Homeward, *, settled: bool = True) -> Message:
    """The newest transcript line, once delivery has settled it (sent, delivered, failed or skipped)."""
    for _ in range(200):
        async with app.db.sessions() as session:
            last = (await session.execute(select(Message).order_by(Message.id.desc()))).scalars().first()
        if last is not None and (not settled or last.status not in ("queued", "sending")):
            return last
        await asyncio.sleep(0.05)
    raise TimeoutError("the last line was not settled")


async def _inbox_rows(app: Homeward) -> int:
    async with app.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one())


async def test_the_webhook_verification_handshake(apps: Apps) -> None:
    http = connect(apps.app, apps.graph)
    async with http:
        good = {"hub.mode": "subscribe", "hub.verify_token": fakegraph.VERIFY_TOKEN, "hub.challenge": "1158201444"}
        answer = await http.get(WHATSAPP_PATH, params=good)
        assert answer.status_code == 200 and answer.text == "1158201444"
        wrong = {**good, "hub.verify_token": "guess"}
        assert (await http.get(WHATSAPP_PATH, params=wrong)).status_code == 403
        assert (await http.get(WHATSAPP_PATH, params={**good, "hub.mode": "unsubscribe"})).status_code == 403


async def test_forged_missing_and_malformed_requests_are_refused_and_replays_run_once(apps: Apps) -> None:
    chat = WhatsAppChat(apps.graph, 11, "Arta")
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "W",
                    "changes": [
                        {
                            "field": "messages",
                            "value": chat.person._value(chat.person._message("text", text={"body": "/start"})),
                        }
                    ],
                }
            ],
        }
    ).encode()
    http = connect(apps.app, apps.graph)
    async with http:
        post = http.post
        assert (await post(WHATSAPP_PATH, content=body)).status_code == 401
        forged = {"X-Hub-Signature-256": sign("not-the-secret", body)}
        assert (await post(WHATSAPP_PATH, content=body, headers=forged)).status_code == 401
        tampered = body.replace(b"/start", b"/stop!")
        signed = {"X-Hub-Signature-256": sign(fakegraph.APP_SECRET, body)}
        assert (await post(WHATSAPP_PATH, content=tampered, headers=signed)).status_code == 401
        assert await _inbox_rows(apps.app) == 0
        bad = b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": '
        assert (
            await post(WHATSAPP_PATH, content=bad, headers={"X-Hub-Signature-256": sign(fakegraph.APP_SECRET, bad)})
        ).status_code == 400
        other = b'{"object": "page", "entry": []}'
        assert (
            await post(WHATSAPP_PATH, content=other, headers={"X-Hub-Signature-256": sign(fakegraph.APP_SECRET, other)})
        ).status_code == 400
        # Meta sends the same webhook again (no 200 seen): stored once, answered once.
        for _ in range(3):
            assert (await post(WHATSAPP_PATH, content=body, headers=signed)).status_code == 200
        await chat.wait_sent(1)
        await apps.app.turns.wait_idle()
        await apps.app.delivery.drain()
        assert len(chat.texts()) == 1 and await _inbox_rows(apps.app) == 1
        # A change of another field (e.g. a template's review) is acknowledged and ignored.
        review = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "W",
                        "changes": [{"field": "message_template_status_update", "value": {"event": "APPROVED"}}],
                    }
                ],
            }
        ).encode()
        assert (
            await post(
                WHATSAPP_PATH, content=review, headers={"X-Hub-Signature-256": sign(fakegraph.APP_SECRET, review)}
            )
        ).status_code == 200
    assert await _inbox_rows(apps.app) == 1


async def test_unknown_message_types_media_and_location_are_kept(apps: Apps) -> None:
    chat = WhatsAppChat(apps.graph, 12, "Drita")
    sent = await onboard(chat, "sq")
    await chat.person.send(chat.person._message("reaction", reaction={"message_id": "x", "emoji": "👍"}))
    media_id = await chat.person.sends_media("image", b"\x89PNG a photo", "image/png", caption="Letra ime")
    await chat.person.send(chat.person._message("location", location={"latitude": 42.66, "longitude": 21.16}))
    await chat.wait_sent(sent + 3)
    await apps.app.turns.wait_idle()
    async with apps.app.db.sessions() as session:
        lines = (
            (await session.execute(select(Message).where(Message.direction == "in").order_by(Message.id)))
            .scalars()
            .all()
        )
    kinds = [line.kind for line in lines][-3:]
    assert kinds == ["other", "photo", "location"]
    photo = lines[-2]
    assert photo.file_id == media_id and photo.text == "Letra ime" and lines[-1].payload["latitude"] == 42.66
    await add_staff(apps.app, "amra", "caseworker")
    async with client(apps.app) as http:
        await sign_in(http, "amra")
        await apps.app.media.run_once()
        del apps.graph.media[media_id]  # Meta keeps received media for 30 days; ours was kept when it came
        media = await http.get(f"/conversations/{photo.conversation_id}/messages/{photo.id}/file")
        assert media.status_code == 200 and media.content == b"\x89PNG a photo"
        assert media.headers["content-type"] == "image/png" and media.headers["content-disposition"].startswith(
            "inline"
        )


async def test_receipts_move_each_line_forward_and_failures_keep_their_reason(apps: Apps) -> None:
    chat = WhatsAppChat(apps.graph, 13, "Luan")
    await onboard(chat, "sq")
    await apps.app.turns.wait_idle()
    await apps.app.delivery.drain()

    async def statuses() -> list[str]:
        async with apps.app.db.sessions() as session:
            found = await session.execute(select(Message.status).where(Message.direction == "out").order_by(Message.id))
            return list(found.scalars())

    await apps.graph.wait_for(lambda: apps.graph.receipts_answered >= 2 * len(apps.graph.sent))
    assert set(await statuses()) == {"delivered"}
    async with apps.app.db.sessions() as session:
        first = (
            (await session.execute(select(Message).where(Message.direction == "out").order_by(Message.id)))
            .scalars()
            .first()
        )
        assert first is not None and first.channel_message_id and first.channel_message_id.startswith("wamid.")
    wamid = apps.graph.sent[0].wamid
    apps.graph._report(chat.id, wamid, f"line:{first.id}", "read")
    apps.graph._report(chat.id, wamid, f"line:{first.id}", "sent")  # late and out of order: no step back
    await apps.graph.wait_for(lambda: apps.graph.receipts_answered >= 2 * len(apps.graph.sent) + 2)
    assert (await statuses())[0] == "read"

    apps.graph.fault = lambda body: (131026, "Message undeliverable", 400)
    sent = len(chat.texts())
    await chat.says("menu")
    await apps.app.turns.wait_idle()
    last = await _last_line(apps.app)
    assert last.status == "failed" and last.error == "undeliverable (131026)"
    assert len(chat.texts()) == sent


async def test_a_throttled_send_waits_and_goes_out(apps: Apps, clock: FixedClock) -> None:
    chat = WhatsAppChat(apps.graph, 14, "Besa")
    refused = []

    def once(body: dict[str, object]) -> tuple[int, str, int] | None:
        if not refused:
            refused.append(body)
            return (130429, "Rate limit hit", 400)
        return None

    apps.graph.fault = once
    limiter = apps.app.delivery.limiters["whatsapp"]
    original, moved = type(limiter).pause, asyncio.Event()

    async def pause(seconds: float) -> None:  # the clock moves on while delivery pauses
        await moved.wait()  # a test that fails first cancels this with the rest of delivery
        await original(limiter, 0.05)  # the test does not wait Meta's suggested seconds

    limiter.pause = pause  # type: ignore[method-assign]
    await chat.says("/start")
    await apps.graph.wait_for(lambda: apps.app.delivery.throttled == 1)
    # Meta's throughput error: tried again 5 s after Meta's answer, however long the pause itself took.
    clock.advance(timedelta(seconds=6))
    moved.set()
    await chat.wait_sent(1)
    assert len(refused) == 1 and apps.app.delivery.throttled == 1


async def test_outside_24_hours_a_reply_goes_as_its_template_or_is_skipped(
    apps: Apps, clock: FixedClock, settings: Settings
) -> None:
    chat = WhatsAppChat(apps.graph, 15, "Arben")
    await onboard(chat, "sq")
    await chat.presses("menu:human")
    await apps.app.turns.wait_idle()
    await add_staff(apps.app, "amra", "caseworker")
    async with apps.app.db.sessions() as session:
        cid = (await session.execute(select(Message.conversation_id))).scalars().first()
    clock.advance(timedelta(hours=25))
    async with client(apps.app) as http:
        await sign_in(http, "amra")
        token = await csrf(http)
        sent = len(chat.texts())
        await http.post(f"/conversations/{cid}/take", data={"csrf": token})
        await chat.wait_sent(sent + 1)  # the take-over notice, itself a template this late
        sent = len(chat.texts())
        await http.post(
            f"/conversations/{cid}/reply", data={"csrf": token, "text": "Mirëdita Arben,\n\ntermini është nesër."}
        )
        await chat.wait_sent(sent + 1)
        template = apps.graph.messages(chat.id)[-1]
        assert template["type"] == "template" and template["template"]["name"] == "homeward_caseworker_sq"
        assert chat.texts()[-1] == "Mirëdita Arben, termini është nesër."
    async with apps.app.db.sessions() as session:
        person = (await session.execute(select(Beneficiary))).scalar_one()
        person.locale = "sr-Latn"  # no template configured for this locale
    async with apps.app.db.transaction() as session:
        (await session.execute(select(Beneficiary))).scalar_one().locale = "sr-Latn"
    async with client(apps.app) as http:
        await sign_in(http, "amra")
        token = await csrf(http)
        await http.post(f"/conversations/{cid}/reply", data={"csrf": token, "text": "Dobar dan, Arbene."})
        last = await _last_line(apps.app)
        assert last.status == "skipped" and last.error == "outside_window"
        page = (await http.get(f"/conversations/{cid}")).text
        assert "outside_window" in page and "nuk u dërgua" in page
    assert len(chat.texts()) == sent + 1
    assert apps.graph.violations == []


async def test_one_person_across_apps_after_a_link_code(apps: Apps) -> None:
    from tests.chats import TelegramChat

    on_telegram = TelegramChat(apps.fake, 16, "Arta", "sq")
    on_whatsapp = WhatsAppChat(apps.graph, 16, "Arta")
    await onboard(on_telegram, "sq")
    await on_telegram.says("Ku ta nxjerr letërnjoftimin?")
    # Meanwhile, from WhatsApp, before linking: a second person as far as Homeward knows.
    await on_whatsapp.says("/start")
    await on_whatsapp.wait_sent(1)
    sent = len(on_telegram.texts())
    await on_telegram.presses("menu:link")
    code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", await on_telegram.wait_text("15", sent))
    assert code is not None
    await on_whatsapp.says("a1b2-c3d4")  # a wrong code is ordinary text
    await on_whatsapp.wait_sent(2)
    await on_whatsapp.says(code.group(0).lower())
    try:
        await on_whatsapp.wait_text("lidhur", 2)
    except TimeoutError:
        async with apps.app.db.sessions() as session:
            from db.models import OutboxItem

            print(
                "OUTBOX",
                [
                    (o.id, o.channel, o.chat_id, o.status, o.method, o.message_id, o.beneficiary_id)
                    for o in (await session.execute(select(OutboxItem))).scalars()
                    if o.channel == "whatsapp"
                ],
            )
            print("GRAPH", [(x.to, x.message.get("type")) for x in apps.graph.sent])
        raise
    await apps.app.turns.wait_idle()
    async with apps.app.db.sessions() as session:
        people = (await session.execute(select(Beneficiary))).scalars().all()
        assert len(people) == 1
        person = people[0]
        assert person.channel == "whatsapp" and person.consent == "given" and person.locale == "sq"
        lines = (await session.execute(select(Message).order_by(Message.id))).scalars().all()
    assert {line.conversation_id for line in lines} == {lines[0].conversation_id}
    assert {line.channel for line in lines} == {"telegram", "whatsapp"}
    # The code works once: typed again it links nothing (and is just text).
    await on_telegram.says(code.group(0))
    # A caseworker's reply goes to the app used last.
    await add_staff(apps.app, "amra", "caseworker")
    async with client(apps.app) as http:
        await sign_in(http, "amra")
        token = await csrf(http)
        await on_whatsapp.says("menu")
        await on_whatsapp.wait_button("menu:privacy")
        await http.post(f"/conversations/{lines[0].conversation_id}/take", data={"csrf": token})
        telegram_before = len(on_telegram.texts())
        await http.post(
            f"/conversations/{lines[0].conversation_id}/reply", data={"csrf": token, "text": "Përshëndetje!"}
        )
        await on_whatsapp.wait_text("Përshëndetje!")
        await http.post(f"/conversations/{lines[0].conversation_id}/return", data={"csrf": token})
    assert not any("Përshëndetje!" in t for t in on_telegram.texts()[telegram_before:])
    # /delete in one app erases the person of both.
    await on_whatsapp.says("/delete")
    await on_whatsapp.wait_button("del:yes")
    await on_whatsapp.presses("del:yes")
    await on_whatsapp.wait_text("u fshinë")
    await apps.app.turns.wait_idle()
    async with apps.app.db.sessions() as session:
        assert (await session.execute(select(Beneficiary.consent))).scalars().all() == ["erased"]
        texts = (await session.execute(select(Message.text))).scalars().all()
        raws = (await session.execute(select(InboxUpdate.raw).where(InboxUpdate.status == "done"))).scalars().all()
    assert not any(text and "letërnjoftimin" in text for text in texts)
    assert not any(raw and "letërnjoftimin" in raw for raw in raws)


async def test_sends_recorded_together_are_each_recorded_once(apps: Apps) -> None:
    people = [WhatsAppChat(apps.graph, 100 + n, f"P{n}") for n in range(8)]
    await asyncio.gather(*(p.says("/start") for p in people))
    for p in people:
        await p.wait_sent(1)
    for _ in range(100):
        async with apps.app.db.sessions() as session:
            found = await session.execute(select(OutboxItem.status).where(OutboxItem.method == "sendMessage"))
            statuses = list(found.scalars())
        if len(statuses) == len(people) and set(statuses) == {"sent"}:
            break
        await asyncio.sleep(0.05)
    assert len(statuses) == len(people) and set(statuses) == {"sent"}, statuses
    assert all(len(p.texts()) == 1 for p in people)


async def test_a_follow_up_wave_and_its_reminder_go_as_templates_with_answers(
    settings: Settings, fake: FakeBotApi
) -> None:
    clock = FixedClock(datetime(2026, 1, 10, 11, 0, tzinfo=UTC))
    graph = await FakeGraphApi(
        now=clock.now, templates={"homeward_notice_sq"}, templates_with_buttons={"homeward_notice_sq"}
    ).start()
    settings = settings.model_copy(update={"whatsapp_templates": {"followup:sq": "homeward_notice_sq"}})
    async for apps in running(settings, "whatsapp", fake, graph, clock=clock):
        chat = WhatsAppChat(graph, 17, "Arben")
        await onboard(chat, "sq")
        await chat.presses("menu:followup")
        await chat.wait_button("fu:consent:yes")
        await chat.presses("fu:consent:yes")
        await chat.wait_text("15.03.2026")
        await chat.says("15.12.2025")
        await chat.wait_text("15.3.2026", len(chat.texts()) - 1)
        clock.set(datetime(2026, 3, 15, 9, 30, tzinfo=UTC))  # months later: far outside the 24 hours
        assert (await apps.app.followups.run_once())["invited"] == 1
        invitation = await chat.wait_text("Kanë kaluar 3 muaj", len(chat.texts()))
        sent = graph.messages(chat.id)[-1]
        assert sent["type"] == "template" and "\n" not in invitation
        clock.advance(timedelta(days=1, hours=1))
        assert (await apps.app.followups.run_once())["reminded"] == 1
        await chat.wait_text("kujtesë", len(chat.texts()))
        reminder = graph.messages(chat.id)[-1]
        assert reminder["type"] == "template"
        payloads = [c["parameters"][0]["payload"] for c in reminder["template"]["components"] if c["type"] == "button"]
        assert payloads[0].startswith("fu:start:") and payloads[1].startswith("fu:later:")
        before = len(chat.texts())
        await chat.presses(payloads[0])  # the template's quick reply: the window is open again
        assert "(1/" in await chat.wait_text("(1/", before)
        assert graph.messages(chat.id)[-1]["type"] == "interactive"
        assert graph.violations == []
