"""Shared steps for end-to-end tests: bring a person through onboarding, read the transcript."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import Homeward
from db.models import Message
from tests.fakebot import FakeBotApi, Person


async def onboard(fake: FakeBotApi, person: Person, locale: str = "sq", consent: str = "yes") -> int:
    """Start, choose `locale`, answer consent; returns how many messages the person has received."""
    before = len(fake.texts(person.id))
    person.says("/start")
    await fake.wait_sent(before + 1, person.id)
    person.presses(f"lang:{locale}")
    await fake.wait_sent(before + 3, person.id)
    person.presses(f"consent:{consent}")
    return len(await fake.wait_sent(before + 5, person.id))


async def transcript(app: Homeward) -> list[Message]:
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        return list((await session.execute(select(Message).order_by(Message.id))).scalars().all())
