"""Web chat: the engine and transcript Telegram uses, idempotent events, nothing kept if declined."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, func, select

from bot.app import Homeward
from bot.channels import webchat
from console import chat
from db.models import Beneficiary, InboxUpdate, Message
from tests.console_support import client


async def _say(app: Homeward, visitor: str, ref: str, *, text: str | None = None, data: str | None = None) -> None:
    await chat.submit(app, visitor, ref, text=text, data=data, language_code="sq")
    await app.turns.wait_idle()
    await app.delivery.drain()


async def _until_delivered(app: Homeward, visitor: str, cursor: int, count: int) -> tuple[list[chat.Line], int]:
    lines: list[chat.Line] = []
    while len(lines) < count:
        app.delivery.wake()
        more, cursor = await chat.lines_after(app, visitor, cursor)
        lines += [line for line in more if line.chose is None]  # bubbles; a pressed button marks its own
        if len(lines) < count:
            await app.webchat.doorbell.wait(1.0)
    return lines, cursor


async def test_a_web_visitor_is_onboarded_by_the_same_handlers(homeward: Homeward) -> None:
    visitor = webchat.new_visitor()
    await _say(homeward, visitor, "a1", text="/start")
    await _say(homeward, visitor, "a1", text="/start")  # the browser retried: heard once
    lines, cursor = await _until_delivered(homeward, visitor, 0, 2)
    assert lines[0].mine and lines[0].text == "/start" and lines[0].ref == "a1"
    assert [b["data"] for row in lines[1].buttons for b in row] == ["lang:sq", "lang:sr-Latn", "lang:sr-Cyrl"]
    await _say(homeward, visitor, "a2", data="lang:sr-Cyrl")
    lines, cursor = await _until_delivered(homeward, visitor, cursor, 2)
    assert lines[0].text.startswith("Како чувамо Ваше податке")
    async with homeward.db.sessions() as session:
        person = (await session.execute(select(Beneficiary))).scalar_one()
        assert person.channel == "web" and person.locale == "sr-Cyrl" and visitor not in person.channel_ref
        assert (await session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one() == 2


async def test_a_visitor_who_declines_still_sees_answers_but_nothing_is_kept(homeward: Homeward) -> None:
    visitor = webchat.new_visitor()
    await _say(homeward, visitor, "b1", text="/start")
    await _say(homeward, visitor, "b2", data="lang:sq")
    _, cursor = await _until_delivered(homeward, visitor, 0, 4)
    await _say(homeward, visitor, "b3", data="consent:no")
    lines, _ = await _until_delivered(homeward, visitor, cursor, 2)
    assert "Nuk do ta ruajmë" in lines[0].text
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Message))).scalar_one() == 0


async def test_the_page_refuses_messages_without_its_token(homeward: Homeward) -> None:
    async with client(homeward) as http:
        page = await http.get("/chat")
        assert page.status_code == 200 and "hw_visitor" in page.headers["set-cookie"]
        assert "HttpOnly" in page.headers["set-cookie"]
        token = page.text.split('name="chat-token" content="')[1].split('"')[0]
        assert (await http.post("/chat/messages", json={"id": "c1", "text": "hi"})).status_code == 403
        bad = {"x-chat-token": "0" * 40}
        assert (await http.post("/chat/messages", json={"id": "c1", "text": "hi"}, headers=bad)).status_code == 403
        good = {"x-chat-token": token}
        assert (await http.post("/chat/messages", json={"text": "hi"}, headers=good)).status_code == 400
        assert (await http.post("/chat/messages", json={"id": "c1", "text": "/start"}, headers=good)).status_code == 202
    await homeward.turns.wait_idle()
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(Beneficiary.channel))).scalar_one() == "web"


async def test_a_button_press_reaches_the_page_in_few_round_trips(homeward: Homeward) -> None:
    """From the POST to the answer on the page: the statements the database answers, counted.

    On PostgreSQL each is a round trip; the press's own path (the page's identity, storing the
    event, the turn, the stream's read) was 20 statements there (18 on SQLite) and is now 15 on
    both: the identity is known after the first look, the event is stored with RETURNING, the turn
    locks its chat and reads its update in two statements, and the stream reads each line with its
    pending send in one.
    """
    visitor = webchat.new_visitor()
    chat_identity = await chat.identity(homeward, visitor)
    for ref, did in (("r1", {"text": "/start"}), ("r2", {"data": "lang:sq"}), ("r3", {"data": "consent:yes"})):
        await _say(homeward, chat_identity, ref, **did)
    _, cursor = await _until_delivered(homeward, chat_identity, 0, 5)
    await homeward.delivery.drain()
    statements: list[tuple[asyncio.Task[object] | None, str]] = []

    def count(conn: object, cursor_: object, statement: str, *args: object) -> None:
        statements.append((asyncio.current_task(), statement.split()[0].upper()))

    engine = homeward.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        identity = await chat.identity(homeward, visitor)
        await chat.submit(homeward, identity, "r4", data="menu:privacy", language_code="sq")
        turn = homeward.turns._runner  # the press's turn runs in the scheduler's task
        await homeward.turns.wait_idle()
        lines, _ = await chat.lines_after(homeward, identity, cursor)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # Delivery's claims and records run beside, in tasks of their own: not the press's path.
    path = [kind for task, kind in statements if task in (asyncio.current_task(), turn) and kind != "PRAGMA"]
    assert [line.chose for line in lines if line.mine] == ["menu:privacy"]
    assert any(not line.mine and line.text for line in lines)  # the privacy screen, from the transcript
    assert identity == chat_identity
    assert turn is not None and len(path) <= 15, path
