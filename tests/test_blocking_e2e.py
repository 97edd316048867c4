"""Blocking the bot (a `my_chat_member` update) stops follow-ups; unblocking lets the next wave go out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.app import Homeward
from bot.clock import FixedClock
from db.models import Beneficiary, FollowupContact
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

START = datetime(2026, 1, 10, 11, 0, tzinfo=UTC)  # 12:00 in Prishtina


@pytest.fixture
def start_at() -> datetime:
    return START


async def _blocked(app: Homeward) -> bool:
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        return bool((await session.execute(select(Beneficiary.blocked))).scalar_one())


async def test_blocking_the_bot_skips_follow_ups_and_unblocking_resumes_them(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, clock = clocked
    person = Person(fake, 9300, "Liridon", "sq")
    n = await onboard(fake, person, "sq")
    person.presses("menu:followup")
    await fake.wait_sent(n + 1, person.id)
    person.presses("fu:consent:yes")
    await fake.wait_sent(n + 2, person.id)
    person.says("01.11.2025")  # waves due 1 Feb, 1 May and 1 Nov 2026
    sent = len(await fake.wait_sent(n + 3, person.id))

    person.blocks()
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    assert await _blocked(app)
    clock.set(datetime(2026, 2, 1, 10, 0, tzinfo=UTC))
    assert (await app.followups.run_once())["skipped"] == 1
    assert len(fake.texts(person.id)) == sent  # nothing was sent to someone who blocked the bot

    person.blocks(False)
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    assert not await _blocked(app)
    clock.set(datetime(2026, 5, 1, 10, 0, tzinfo=UTC))
    assert (await app.followups.run_once())["invited"] == 1
    await fake.wait_sent(sent + 1, person.id)
    async with app.db.sessions() as session:
        contacts = (await session.execute(select(FollowupContact).order_by(FollowupContact.wave))).scalars()
        waves = [(c.wave, c.status, c.reason) for c in contacts]
    assert waves[:2] == [(1, "skipped", "blocked"), (2, "sent", None)]
