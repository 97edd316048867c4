"""Steps shared by the youth programme's end-to-end tests: a person answering the sign-up in the chat."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

import pytest

from bot.app import Homeward
from bot.cli import main
from bot.config import Settings
from db.youth import Cohort, Programme
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard


class Chat:
    """One person's side of the chat: act, then wait for exactly the replies that act brings."""

    def __init__(self, fake: FakeBotApi, person: Person) -> None:
        self.fake = fake
        self.person = person

    def count(self) -> int:
        return len(self.fake.texts(self.person.id))

    async def _after(self, before: int, replies: int) -> list[str]:
        texts = await self.fake.wait_sent(before + replies, self.person.id)
        return texts[before:]

    async def say(self, text: str, replies: int = 1) -> list[str]:
        before = self.count()
        self.person.says(text)
        return await self._after(before, replies)

    async def press(self, data: str, replies: int = 1) -> list[str]:
        before = self.count()
        self.person.presses(data)
        return await self._after(before, replies)

    def button(self, action: str) -> str:
        """The current question's button whose last part is `action` (n, b, s, d, c0…), or a prefix."""
        for data in self.person.buttons():
            if data.rsplit(":", 1)[-1] == action or data.startswith(action):
                return data
        raise AssertionError(f"no button {action!r} in {self.person.buttons()}")

    async def choose(self, action: str, replies: int = 1) -> list[str]:
        return await self.press(self.button(action), replies)


async def answer_adult_form(chat: Chat, name: str, birth: str, municipality: str) -> list[str]:
    """From the form's first note to its end, for someone 18 or older; returns the last replies."""
    await chat.choose("n")  # the introduction
    await chat.choose("c0")  # programme consent: yes
    await chat.say(name)
    await chat.say(birth)
    await chat.say(municipality)
    await chat.choose("c0")  # preferred language
    await chat.choose("t0")
    await chat.choose("d")  # interests
    await chat.choose("t2")
    await chat.choose("d")  # availability
    await chat.choose("s")  # school or work: skipped
    await chat.choose("s")  # community: skipped, it is voluntary
    await chat.choose("c0")  # contact: Telegram
    return await chat.choose("c0", replies=2)  # photos: yes → summary, menu


async def add_programme(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    *,
    capacity: int,
    municipality: str = "any",
    starts: date = date(2026, 6, 1),
) -> None:
    """A programme and one cohort, made the way coordinators make them: on the command line."""
    monkeypatch.setenv("HOMEWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("HOMEWARD_SECRET_KEY", settings.secret_key or "")
    assert (
        await asyncio.to_thread(
            main,
            [
                "youth",
                "programme-add",
                "bridges",
                "--name-sq",
                "Ura mes nesh",
                "--name-sr",
                "Мостови међу нама",
                "--by",
                "mira",
            ],
        )
        == 0
    )
    assert (
        await asyncio.to_thread(
            main,
            [
                "youth",
                "cohort-add",
                "--programme",
                "bridges",
                "--name-sq",
                "Grupi i verës",
                "--name-sr",
                "Летња група",
                "--municipality",
                municipality,
                "--starts",
                starts.isoformat(),
                "--capacity",
                str(capacity),
                "--by",
                "mira",
            ],
        )
        == 0
    )


async def programme_and_cohort(app: Homeward) -> tuple[Programme, Cohort]:
    from sqlalchemy import select

    async with app.db.sessions() as session:
        programme = (await session.execute(select(Programme))).scalar_one()
        cohort = (await session.execute(select(Cohort))).scalar_one()
        return programme, cohort


def at(day: date, hour: int) -> datetime:
    """A moment in UTC from a day and an hour in UTC."""
    from datetime import UTC

    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def signed_up(fake: FakeBotApi, user_id: int, name: str, locale: str, birth: str) -> tuple[Chat, list[str]]:
    """An adult onboarded in `locale` who signs up from the menu, living in Peja."""
    person = Person(fake, user_id, name.split()[0], locale[:2])
    await onboard(fake, person, locale)
    chat = Chat(fake, person)
    await chat.press("menu:youth", replies=2)
    return chat, await answer_adult_form(chat, name, birth, "Peja" if locale == "sq" else "Пећ")
