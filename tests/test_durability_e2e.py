"""Nothing is lost: redelivered updates, a crash between inbox commit and reply, and send failures."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import func, select

from bot.app import Homeward
from bot.config import Settings
from db.models import Beneficiary, InboxUpdate, Message, OutboxItem
from tests.fakebot import FakeBotApi, Fault, Person
from tests.steps import onboard, transcript


async def test_a_redelivered_update_changes_nothing(homeward: Homeward, fake: FakeBotApi, person: Person) -> None:
    sent = await onboard(fake, person, "sq")
    update = person.says("ku ta gjej mjekun")
    await fake.wait_sent(sent + 1, person.id)
    before = len(await transcript(homeward))
    # Telegram sends the same update again (e.g. our confirmation was lost in a restart).
    fake.push(update)
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    await asyncio.sleep(0.3)
    assert len(await transcript(homeward)) == before
    assert len(fake.texts(person.id)) == sent + 1
    async with homeward.db.sessions() as session:
        assert (
            await session.execute(
                select(func.count()).select_from(InboxUpdate).where(InboxUpdate.update_id == update["update_id"])
            )
        ).scalar_one() == 1


async def test_a_crash_after_the_inbox_commit_replays_the_turn_once(settings: Settings, fake: FakeBotApi) -> None:
    person = Person(fake, 6100, "Drita", "sq")
    first = Homeward(settings)
    update = person.says("/start")
    # The process stores the update, then dies before its turn runs (no engine, no delivery).
    raw = json.dumps(update)
    stored = await first.store_telegram([(update["update_id"], str(person.id), raw)])
    assert len(stored) == 1
    await first.stop()
    assert fake.texts(person.id) == []

    second = Homeward(settings)
    await second.start()
    try:
        texts = await fake.wait_sent(1, person.id)
        # Telegram still offers the update (its offset was never confirmed): it must not run twice.
        await fake.wait_for(lambda: fake.pending_updates() == 0)
        await second.turns.wait_idle()
        await asyncio.sleep(0.3)
        assert len(fake.texts(person.id)) == 1 and "zgjidhni gjuhën" in texts[0]
        assert [m.kind for m in await transcript(second)] == ["command", "text"]
    finally:
        await second.stop()


async def test_a_crash_after_the_turn_sends_the_queued_reply_once(settings: Settings, fake: FakeBotApi) -> None:
    person = Person(fake, 6200, "Drita", "sq")
    first = Homeward(settings)
    update = person.says("/start")
    stored = await first.store_telegram([(update["update_id"], str(person.id), json.dumps(update))])
    await first.engine.process(stored[0][1])  # the turn commits; the process dies before delivery
    await first.stop()
    second = Homeward(settings)
    await second.start()
    try:
        await fake.wait_sent(1, person.id)
        await fake.wait_for(lambda: fake.pending_updates() == 0)
        await asyncio.sleep(0.3)
        assert len(fake.texts(person.id)) == 1
        async with second.db.sessions() as session:
            out = (await session.execute(select(Message).where(Message.direction == "out"))).scalar_one()
            assert out.status == "sent" and out.channel_message_id is not None
    finally:
        await second.stop()


async def test_retry_after_server_errors_and_timeouts_still_deliver(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sq")
    faults = iter(
        [
            Fault(429, "Too Many Requests: retry after 1", retry_after=1),
            Fault(502, "Bad Gateway"),
            Fault(reset=True),
        ]
    )

    def inject(method: str, params: dict[str, Any]) -> Fault | None:
        return next(faults, None) if method == "sendMessage" else None

    fake.injector = inject
    person.says("a jeni aty?")
    texts = await fake.wait_sent(sent + 2, person.id, timeout=20)
    assert "Nuk kam përgjigje" in texts[sent]
    assert homeward.delivery.throttled == 1
    await homeward.turns.wait_idle()
    await asyncio.sleep(0.2)
    async with homeward.db.sessions() as session:
        items = (await session.execute(select(OutboxItem).where(OutboxItem.method == "sendMessage"))).scalars().all()
    assert all(item.status == "sent" for item in items)
    assert max(item.attempts for item in items) == 3  # a 502 and a reset, then success; the 429 only paused


async def test_a_bad_request_is_a_permanent_failure_with_its_reason(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sq")
    fake.injector = lambda method, params: (
        Fault(400, "Bad Request: message text is empty") if method == "sendMessage" else None
    )
    person.says("pershendetje")
    await fake.wait_for(lambda: homeward.delivery.failed >= 1)
    await asyncio.sleep(0.2)
    async with homeward.db.sessions() as session:
        failed = (await session.execute(select(Message).where(Message.status == "failed"))).scalars().all()
    assert failed and failed[0].error == "Bad Request: message text is empty"
    assert len(fake.texts(person.id)) == sent


async def test_blocked_by_the_person_marks_them_and_stops_sending(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    await onboard(fake, person, "sq")
    fake.injector = lambda method, params: (
        Fault(403, "Forbidden: bot was blocked by the user") if method == "sendMessage" else None
    )
    person.says("a po me degjon")
    await fake.wait_for(lambda: homeward.delivery.failed >= 1)
    await asyncio.sleep(0.2)
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(Beneficiary.blocked))).scalar_one() is True
        pending = (
            await session.execute(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending"))
        ).scalar_one()
        assert pending == 0
    # Unblocking (a my_chat_member update) clears the mark.
    fake.injector = None
    person.blocks(False)
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    await homeward.turns.wait_idle()
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(Beneficiary.blocked))).scalar_one() is False
