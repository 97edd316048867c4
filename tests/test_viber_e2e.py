"""Viber's own rules, end to end against the fake Viber API: signatures, replays, welcome, subscriptions, receipts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import Homeward
from bot.channels.viber_commands import set_webhook
from bot.cli import main
from bot.clock import FixedClock
from bot.config import Settings
from bot.server import VIBER_PATH
from db.models import Beneficiary, FollowupContact, InboxUpdate, Message
from tests import fakeviber
from tests.chats import Apps, ViberChat, connect, onboard, running
from tests.console_support import add_staff, client, csrf, shown, sign_in
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi, buttons_of, sign

START = datetime(2026, 1, 10, 11, 0, tzinfo=UTC)  # a Saturday, 12:00 in Prishtina


@pytest.fixture
async def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def viber_api() -> FakeViberApi:
    return await FakeViberApi().start()


@pytest.fixture
async def apps(settings: Settings, fake: FakeBotApi, viber_api: FakeViberApi, clock: FixedClock) -> AsyncIterator[Apps]:
    graph = await FakeGraphApi().start()
    async for running_apps in running(settings, "viber", fake, graph, viber_api, clock=clock):
        yield running_apps


async def _inbox_rows(app: Homeward) -> int:
    async with app.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one())


async def _statuses(app: Homeward) -> list[str]:
    async with app.db.sessions() as session:
        found = await session.execute(select(Message.status).where(Message.direction == "out").order_by(Message.id))
        return list(found.scalars())


async def _last_line(app: Homeward) -> Message:
    for _ in range(200):
        async with app.db.sessions() as session:
            last = (await session.execute(select(Message).order_by(Message.id.desc()))).scalars().first()
        if last is not None and last.status not in ("queued", "sending"):
            return last
        await asyncio.sleep(0.05)
    raise TimeoutError("the last line was not settled")


async def test_forged_missing_and_malformed_callbacks_are_refused_and_replays_run_once(
    apps: Apps, viber_api: FakeViberApi
) -> None:
    chat = ViberChat(viber_api, 11, "Arta")
    viber_api.subscribed.add(chat.id)
    body = json.dumps(chat.person.message_body({"type": "text", "text": "/start"})).encode()
    http = connect(apps.app, apps.graph, viber_api)
    async with http:
        post = http.post
        assert (await post(VIBER_PATH, content=body)).status_code == 401
        forged = {"X-Viber-Content-Signature": sign("not-the-token", body)}
        assert (await post(VIBER_PATH, content=body, headers=forged)).status_code == 401
        signed = {"X-Viber-Content-Signature": sign(fakeviber.TOKEN, body)}
        tampered = body.replace(b"/start", b"/stop!")
        assert (await post(VIBER_PATH, content=tampered, headers=signed)).status_code == 401
        assert await _inbox_rows(apps.app) == 0
        for bad in (
            b'{"event": "message", "sender": {"id": ',  # cut short
            b'{"event": "message", "message_token": 1, "message": {"type": "text"}}',  # no sender
            b'{"event": "unsubscribed", "message_token": 2}',  # whose?
            b'["message"]',
        ):
            answer = await post(
                VIBER_PATH, content=bad, headers={"X-Viber-Content-Signature": sign(fakeviber.TOKEN, bad)}
            )
            assert answer.status_code == 400, bad
        # Viber sends the same callback again (no 200 seen): stored once, answered once.
        for _ in range(3):
            assert (await post(VIBER_PATH, content=body, headers=signed)).status_code == 200
        await chat.wait_sent(1)
        await apps.app.turns.wait_idle()
        await apps.app.delivery.drain()
        assert len(chat.texts()) == 1 and await _inbox_rows(apps.app) == 1
        # Viber's check of the address, and kinds of callbacks still to come, are acknowledged and ignored.
        for other in ({"event": "webhook", "timestamp": 1, "message_token": 9}, {"event": "client_status", "x": 1}):
            raw = json.dumps(other).encode()
            answer = await post(
                VIBER_PATH, content=raw, headers={"X-Viber-Content-Signature": sign(fakeviber.TOKEN, raw)}
            )
            assert answer.status_code == 200 and answer.json() == {}
    assert await _inbox_rows(apps.app) == 1


async def test_conversation_started_is_answered_with_the_language_picker(apps: Apps, viber_api: FakeViberApi) -> None:
    chat = ViberChat(viber_api, 12, "Drita")
    chat.person.language = "sr"
    welcome = await chat.person.opens()
    assert "Ju lutemi zgjidhni gjuhën" in welcome["text"] and "Молимо Вас да изаберете језик" in welcome["text"]
    assert buttons_of(welcome) == ["lang:sr-Cyrl", "lang:sq", "lang:sr-Latn"]  # Viber's language suggests one
    assert welcome["sender"]["name"] == "Homeward" and viber_api.violations == []
    assert await _inbox_rows(apps.app) == 0 and chat.texts() == []  # nothing kept, nothing sent before consent
    await chat.presses("lang:sq")  # a tap on the welcome's keyboard subscribes and starts onboarding
    await chat.wait_button("consent:yes")
    assert await chat.person.opens(subscribed=True) == {}  # someone already talking gets no second welcome


async def test_an_unsubscribed_person_is_not_messaged_and_follow_ups_are_skipped_as_blocked(
    apps: Apps, viber_api: FakeViberApi, clock: FixedClock
) -> None:
    chat = ViberChat(viber_api, 13, "Liridon")
    await onboard(chat, "sq")
    await chat.presses("menu:followup")
    await chat.wait_button("fu:consent:yes")
    await chat.presses("fu:consent:yes")
    sent = len(chat.texts())
    await chat.says("01.11.2025")  # waves due 1 Feb, 1 May and 1 Nov 2026
    await chat.wait_sent(sent + 1)
    await apps.app.turns.wait_idle()
    await apps.app.delivery.drain()
    sent = len(chat.texts())

    await chat.person.unsubscribes()
    await apps.app.turns.wait_idle()
    async with apps.app.db.sessions() as session:
        assert (await session.execute(select(Beneficiary.blocked))).scalar_one() is True
    clock.set(datetime(2026, 2, 1, 10, 0, tzinfo=UTC))
    assert (await apps.app.followups.run_once())["skipped"] == 1
    await apps.app.delivery.drain()
    assert len(chat.texts()) == sent and viber_api.violations == []

    # A caseworker's reply meanwhile is not sent: it is marked failed, and Viber is never asked.
    await add_staff(apps.app, "amra", "caseworker")
    async with apps.app.db.sessions() as session:
        cid = (await session.execute(select(Message.conversation_id))).scalars().first()
    async with client(apps.app) as http:
        await sign_in(http, "amra")
        token = await csrf(http)
        await http.post(f"/conversations/{cid}/take", data={"csrf": token})
        await http.post(f"/conversations/{cid}/reply", data={"csrf": token, "text": "Mirëdita Liridon."})
    last = await _last_line(apps.app)
    assert last.status == "failed" and last.error.startswith("receiverNotSubscribed")  # type: ignore[union-attr]
    assert len(chat.texts()) == sent and viber_api.violations == []
    async with client(apps.app) as http:
        await sign_in(http, "amra")
        await http.post(f"/conversations/{cid}/close", data={"csrf": await csrf(http)})

    await chat.person.subscribes()
    await apps.app.turns.wait_idle()
    clock.set(datetime(2026, 5, 1, 10, 0, tzinfo=UTC))
    assert (await apps.app.followups.run_once())["invited"] == 1
    await chat.wait_sent(sent + 1)
    async with apps.app.db.sessions() as session:
        contacts = (await session.execute(select(FollowupContact).order_by(FollowupContact.wave))).scalars()
        waves = [(c.wave, c.status, c.reason) for c in contacts]
    assert waves[:2] == [(1, "skipped", "blocked"), (2, "sent", None)]


async def test_writing_again_after_unsubscribing_subscribes(apps: Apps, viber_api: FakeViberApi) -> None:
    chat = ViberChat(viber_api, 17, "Arben")
    await onboard(chat, "sq")
    await chat.person.unsubscribes()
    await apps.app.turns.wait_idle()
    sent = len(chat.texts())
    await chat.says("menu")  # Viber subscribes whoever writes, with no `subscribed` callback
    await chat.wait_text("Si mund t'ju ndihmoj?", sent)
    async with apps.app.db.sessions() as session:
        assert (await session.execute(select(Beneficiary.blocked))).scalar_one() is False


async def test_a_link_opened_before_subscribing_waits_for_the_tap_in_the_welcome(
    apps: Apps, viber_api: FakeViberApi
) -> None:
    chat = ViberChat(viber_api, 18, "Mimoza")
    await onboard(chat, "sq")
    await chat.person.unsubscribes()
    await apps.app.turns.wait_idle()
    sent = len(chat.texts())
    link = f"viber://pa?chatURI={fakeviber.CHAT_URI}&context=g_AAAAAAAAAAAAAAAAAAAAAA"
    welcome = await chat.opens(link)
    assert welcome is not None and "lang:sq" in buttons_of(welcome)
    await apps.app.turns.wait_idle()
    await apps.app.delivery.drain()
    assert len(chat.texts()) == sent  # nothing can reach someone not subscribed
    await chat.presses("lang:sq")  # from the welcome: subscribes, and the link's code is read
    await chat.wait_text("Kjo lidhje nuk vlen më", sent)
    async with apps.app.db.sessions() as session:
        commands = (await session.execute(select(Message.text).where(Message.kind == "command"))).scalars().all()
    assert "/start g_AAAAAAAAAAAAAAAAAAAAAA" in commands


async def test_receipts_move_each_line_forward_and_failures_keep_their_reason(
    apps: Apps, viber_api: FakeViberApi
) -> None:
    chat = ViberChat(viber_api, 14, "Luan")
    await onboard(chat, "sq")
    await apps.app.turns.wait_idle()
    await apps.app.delivery.drain()
    await viber_api.wait_for(lambda: viber_api.receipts_answered >= len(viber_api.sent))
    assert set(await _statuses(apps.app)) == {"delivered"}
    async with apps.app.db.sessions() as session:
        _first, second = (
            (await session.execute(select(Message).where(Message.direction == "out").order_by(Message.id)))
            .scalars()
            .all()[:2]
        )
    # `seen` of the first line's message; `failed` of it afterwards takes nothing back.
    token = viber_api.sent[0].token
    for event in ("seen", "failed"):
        body = {"event": event, "timestamp": 1, "message_token": int(token), "user_id": chat.id, "desc": "x"}
        assert (await viber_api.callback(body))[0] == 200
    # A receipt for a message another process sent: found through the line's stored token.
    assert apps.app.viber_sender is not None
    apps.app.viber_sender.lines.clear()
    assert second.channel_message_id
    body = {"event": "seen", "timestamp": 1, "message_token": int(second.channel_message_id), "user_id": chat.id}
    assert (await viber_api.callback(body))[0] == 200
    assert (await _statuses(apps.app))[:2] == ["read", "read"]

    viber_api.receipts = False
    sent = len(chat.texts())
    await chat.says("menu")
    await apps.app.turns.wait_idle()
    await apps.app.delivery.drain()
    await chat.wait_sent(sent + 1)
    failed = {"event": "failed", "timestamp": 1, "message_token": int(viber_api.sent[-1].token), "user_id": chat.id}
    assert (await viber_api.callback({**failed, "desc": "the receiver has no suitable device"}))[0] == 200
    last = await _last_line(apps.app)
    assert last.status == "failed" and last.error == "failed: the receiver has no suitable device"


async def test_a_failure_reported_before_the_send_returns_is_not_taken_back(
    apps: Apps, viber_api: FakeViberApi
) -> None:
    """Viber may call back `failed` before it answers the send: recording the send afterwards keeps it."""
    chat = ViberChat(viber_api, 16, "Drita")
    await onboard(chat, "sq")
    await apps.app.turns.wait_idle()
    await apps.app.delivery.drain()
    viber_api.receipts = False
    viber_api.report_first = ("failed", "the receiver has no suitable device")
    sent = len(chat.texts())
    await chat.says("menu")
    await apps.app.turns.wait_idle()
    await apps.app.delivery.drain()
    await chat.wait_sent(sent + 1)
    last = await _last_line(apps.app)
    assert last.direction == "out"
    assert (last.status, last.error) == ("failed", "failed: the receiver has no suitable device")


async def test_viber_refusals_pause_block_or_are_recorded(
    apps: Apps, viber_api: FakeViberApi, clock: FixedClock
) -> None:
    chat = ViberChat(viber_api, 15, "Besa")
    await onboard(chat, "sq")
    await apps.app.turns.wait_idle()
    await apps.app.delivery.drain()

    refused: list[object] = []

    def once(body: dict[str, object]) -> tuple[int, str] | None:
        if not refused:
            refused.append(body)
            return (12, "tooManyRequests")
        return None

    limiter = apps.app.delivery.limiters["viber"]
    original = type(limiter).pause

    async def short_pause(seconds: float) -> None:
        await original(limiter, 0.05)  # the test does not wait the pause out

    limiter.pause = short_pause  # type: ignore[method-assign]
    viber_api.fault = once
    sent = len(chat.texts())
    await chat.says("menu")
    await viber_api.wait_for(lambda: apps.app.delivery.throttled == 1)
    clock.advance(timedelta(seconds=11))
    await chat.wait_sent(sent + 1)
    assert len(refused) == 1

    viber_api.fault = lambda body: (3, "badData")
    await chat.says("menu")
    await apps.app.turns.wait_idle()
    last = await _last_line(apps.app)
    assert last.status == "failed" and last.error == "badData (3): badData"

    viber_api.fault = lambda body: (6, "receiverNotSubscribed")
    await chat.says("menu")
    await apps.app.turns.wait_idle()
    last = await _last_line(apps.app)
    assert last.status == "failed" and last.error.startswith("receiverNotSubscribed (6)")  # type: ignore[union-attr]
    async with apps.app.db.sessions() as session:
        assert (await session.execute(select(Beneficiary.blocked))).scalar_one() is True


async def test_media_location_contact_and_stickers_reach_the_transcript(apps: Apps, viber_api: FakeViberApi) -> None:
    chat = ViberChat(viber_api, 16, "Drita")
    await onboard(chat, "sq")
    viber_api.media["1.jpg"] = (b"\xff\xd8 a photo", "image/jpeg")
    picture = {"type": "picture", "text": "Letra ime", "media": f"{viber_api.base}/media/1.jpg", "size": 1200}
    await chat.person.send(picture)
    await chat.person.send({"type": "location", "location": {"lat": 42.66, "lon": 21.16}})
    await chat.person.send({"type": "contact", "contact": {"name": "Agim", "phone_number": "38344111222"}})
    await chat.person.send({"type": "sticker", "sticker_id": 46105})
    gone_file = {"type": "file", "media": f"{viber_api.base}/media/2.pdf", "file_name": "a.pdf", "size": 9}
    await chat.person.send(gone_file)  # its address expired before it could be fetched
    await chat.person.send({"type": "rich_media", "rich_media": {}})
    await apps.app.turns.wait_idle()
    await apps.app.media.run_once()
    async with apps.app.db.sessions() as session:
        lines = (
            (await session.execute(select(Message).where(Message.direction == "in").order_by(Message.id)))
            .scalars()
            .all()
        )
    assert [line.kind for line in lines][-6:] == ["photo", "location", "contact", "sticker", "document", "other"]
    photo = lines[-6]
    assert photo.text == "Letra ime" and lines[-5].payload["latitude"] == 42.66 and lines[-4].text == "Agim"
    await add_staff(apps.app, "amra", "caseworker")
    async with client(apps.app) as http:
        await sign_in(http, "amra")
        del viber_api.media["1.jpg"]  # Viber's address expires: the photo was kept when it came
        kept = await http.get(f"/conversations/{photo.conversation_id}/messages/{photo.id}/file")
        assert kept.status_code == 200 and kept.content == b"\xff\xd8 a photo"
        page = (await http.get(f"/conversations/{photo.conversation_id}")).text
        expired = "This file has expired: the app no longer had it when we asked, or its keeping period is over."
        assert shown(apps.app, expired) in page and f"/messages/{lines[-2].id}/file" not in page
        gone = await http.get(f"/conversations/{photo.conversation_id}/messages/{lines[-2].id}/file")
        assert gone.status_code == 404


async def test_set_webhook_registers_the_address_and_says_what_is_wrong(
    apps: Apps, viber_api: FakeViberApi, settings: Settings
) -> None:
    configured = apps.configured
    http = connect(apps.app, apps.graph, viber_api)  # Viber checks the address by calling it
    async with http:
        code, lines = await set_webhook(configured, "https://homeward.example.org")
        assert code == 0 and viber_api.webhook == "https://homeward.example.org/viber/webhook", lines
        assert "Homeward" in lines[0]
        code, lines = await set_webhook(configured, "http://homeward.example.org")
        assert code == 2 and "https" in lines[0]
        wrong = configured.model_copy(update={"viber_token": "not-the-token"})
        code, lines = await set_webhook(wrong, "https://homeward.example.org")
        assert code == 1 and "HOMEWARD_VIBER_TOKEN" in lines[0]
        code, lines = await set_webhook(settings.model_copy(update={"viber_token": None}), "https://x.example.org")
        assert code == 2 and lines[0] == "not set: HOMEWARD_VIBER_TOKEN"


def test_set_webhook_from_the_command_line_names_the_missing_token(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("HOMEWARD_VIBER_TOKEN", raising=False)
    monkeypatch.chdir("/")  # no .env file of a developer's working folder
    assert main(["viber", "set-webhook", "https://homeward.example.org"]) == 2
    assert "not set: HOMEWARD_VIBER_TOKEN" in capsys.readouterr().out
