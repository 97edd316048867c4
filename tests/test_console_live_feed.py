"""The console's live feed: one look for every open page, ringing only the pages a change concerns."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.app import Homeward
from bot.text import fold
from console import live
from db.models import Message
from tests.console_support import person_with_transcript


async def _line(app: Homeward, conversation_id: int, text: str, *, message_id: int | None = None) -> None:
    async with app.db.transaction() as session:
        session.add(
            Message(
                id=message_id,
                conversation_id=conversation_id,
                direction="in",
                author="person",
                kind="text",
                text=text,
                norm_text=fold(text),
                status="received",
                created_at=app.clock.now() + timedelta(seconds=5),
            )
        )


async def test_a_new_line_rings_its_conversation_page_and_no_other(homeward: Homeward) -> None:
    first = await person_with_transcript(homeward, municipality="Prizren", texts=["Mirëdita"], chat_id="901")
    second = await person_with_transcript(
        homeward, municipality="Prizren", texts=["Добар дан"], name="Mira", chat_id="902"
    )
    feed = live.Feed(homeward.db, [])
    with feed.listen(("conversation", first)) as one, feed.listen(("conversation", second)) as two:
        await feed.look()  # the first look only learns where things stand
        await _line(homeward, first, "A jeni aty?")
        await feed.look()
        assert await one.wait(0) is True
        assert await two.wait(0) is False


async def test_a_line_committed_after_a_newer_one_is_not_missed(homeward: Homeward) -> None:
    """On PostgreSQL ids are taken when a row is written, not when its transaction commits."""
    first = await person_with_transcript(homeward, municipality="Prizren", texts=["Mirëdita"], chat_id="903")
    second = await person_with_transcript(
        homeward, municipality="Prizren", texts=["Добар дан"], name="Mira", chat_id="904"
    )
    feed = live.Feed(homeward.db, [])
    with feed.listen(("conversation", first)) as one, feed.listen(("conversation", second)) as two:
        await feed.look()
        async with homeward.db.sessions() as session:
            newest = (await session.execute(select(func.max(Message.id)))).scalar_one()
        await _line(homeward, second, "Да ли сте ту?", message_id=newest + 5)  # committed first, higher id
        await feed.look()
        assert await two.wait(0) is True and await one.wait(0) is False
        await _line(homeward, first, "A jeni aty?", message_id=newest + 2)  # its id taken earlier, committed later
        await feed.look()
        assert await one.wait(0) is True
        assert await two.wait(0) is False  # seen already: not rung twice


async def test_a_turn_committed_in_the_process_wakes_the_feed(homeward: Homeward) -> None:
    conversation = await person_with_transcript(homeward, municipality="Prizren", texts=["Mirëdita"], chat_id="905")
    feed = live.Feed(homeward.db, homeward.change_listeners, interval=30.0)  # its own look would be far off
    with feed.listen(("conversation", conversation)) as page:
        assert await page.wait(1.0) is False  # running: the first look is done, nothing new
        await _line(homeward, conversation, "A jeni aty?")
        homeward._committed()
        assert await page.wait(5.0) is True
