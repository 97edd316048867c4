"""How many SQL statements one inbound text costs, from the webhook to the reply recorded sent.

A person already onboarded writes "menu" on Telegram, WhatsApp and Viber. Every statement the
database sees meanwhile is counted by what it does (its verb and table): storing the update, the
turn, claiming the reply and recording its send. The counts are pinned, so a query or a commit
added to the path of every message shows here first; change them only for a reason the commit
names. Delivery's look at an empty outbox (each half second when nothing wakes it) depends on
timing and is left out, and so are receipts, which the fakes are told not to send.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, func, select

from bot.config import Settings
from db.models import OutboxItem
from tests.chats import Apps, onboard, running
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi

# Storing the update (1), the turn (SQLite: 11) and delivery's claim and record (3), beside the claims' reads.
SQLITE = {
    "INSERT inbox": 1,  # the update, stored before the webhook is answered
    "SELECT inbox": 1,  # the turn: its update, person and conversation
    "SELECT beneficiaries": 1,
    "SELECT conversations": 1,
    "UPDATE messages": 2,  # SQLite's write lock, taken by a write that changes nothing; the line's send recorded
    "SELECT max messages": 1,  # where the turn's new ids begin
    "SELECT max outbox": 1,
    "INSERT messages": 2,  # the person's line and the reply's
    "INSERT outbox": 1,
    "UPDATE conversations": 1,  # its state, once
    "UPDATE inbox": 1,  # the update done
    "UPDATE outbox": 2,  # claimed; sent
}
# PostgreSQL: no write lock nor largest ids; the chat's lock is taken with its update, and ids come in blocks.
POSTGRESQL = {
    "INSERT inbox": 1,
    "SELECT inbox": 2,  # the chat's lock, then its oldest waiting update, locked
    "SELECT beneficiaries": 1,
    "SELECT conversations": 1,
    "SELECT nextval": 2,  # a block of ids for transcript lines, one for outbox rows
    "INSERT messages": 2,
    "INSERT outbox": 1,
    "UPDATE conversations": 1,
    "UPDATE inbox": 1,
    "UPDATE messages": 1,  # the line's send recorded
    "UPDATE outbox": 2,
}
EXTRA = {"viber": {"SELECT beneficiaries": 2}}  # before sending, whether the person unsubscribed meanwhile


@pytest.fixture(params=["telegram", "whatsapp", "viber"])
async def apps(request: pytest.FixtureRequest, settings: Settings, fake: FakeBotApi) -> AsyncIterator[Apps]:
    graph = await FakeGraphApi().start()
    viber_api = await FakeViberApi().start() if request.param == "viber" else None
    async for running_apps in running(settings, request.param, fake, graph, viber_api):
        yield running_apps


def _kind(statement: str) -> str:
    words = statement.split()
    verb = words[0].upper()
    table = {"INSERT": 2, "UPDATE": 1}.get(verb)
    if table is not None:
        return f"{verb} {words[table]}"
    found = re.search(r"\bFROM\s+(\w+)", statement)
    if "nextval(" in statement:
        return "SELECT nextval"
    what = "max" if re.match(r"SELECT max\(", statement) else ""
    return f"{verb} {what} {found.group(1) if found else ''}".replace("  ", " ").strip()


async def _sent(apps: Apps) -> None:
    for _ in range(400):
        async with apps.app.db.sessions() as session:
            waiting = (
                await session.execute(
                    select(func.count()).select_from(OutboxItem).where(OutboxItem.status.in_(("pending", "sending")))
                )
            ).scalar_one()
        if not waiting:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("the reply was not recorded sent")


async def test_one_text_costs_a_fixed_number_of_statements(apps: Apps) -> None:
    app = apps.app
    apps.graph.receipts = False
    if apps.viber is not None:
        apps.viber.receipts = False
    chat = apps.chat(61, "Drita")
    await onboard(chat, "sq")
    await app.turns.wait_idle()
    await _sent(apps)
    await app.delivery.drain()
    seen: Counter[str] = Counter()
    counting = True

    mine = asyncio.current_task()

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if counting and asyncio.current_task() is not mine:  # the test's own look at the outbox is not counted
            seen[_kind(statement)] += 1

    engine = app.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        before = len(chat.texts())
        await chat.says("menu")
        await chat.wait_sent(before + 1)
        await app.turns.wait_idle()
        await _sent(apps)
        await app.delivery.drain()
    finally:
        counting = False
        event.remove(engine, "before_cursor_execute", count)
    claims = seen.pop("SELECT outbox", 0)  # delivery's claims: one at least, more as the clock goes
    assert claims >= 1
    expected = SQLITE if app.db.is_sqlite else POSTGRESQL
    assert dict(seen) == {**expected, **EXTRA.get(apps.channel, {})}


async def test_a_sent_row_without_a_transcript_line_keeps_neither_chat_nor_payload(apps: Apps) -> None:
    """Recorded sent in the same statement as the rest: a button's answer keeps nothing; a reply keeps its line."""
    chat = apps.chat(62, "Drita")
    await onboard(chat, "sq")  # two presses: answered on Telegram, each a row without a line
    await apps.app.turns.wait_idle()
    await _sent(apps)
    async with apps.app.db.sessions() as session:
        rows = (await session.execute(select(OutboxItem).where(OutboxItem.status == "sent"))).scalars().all()
    lineless = [row for row in rows if row.message_id is None]
    lined = [row for row in rows if row.message_id is not None]
    assert lined and all(row.chat_id and row.payload for row in lined)
    if apps.channel == "telegram":
        assert len(lineless) == 2
    assert all(row.chat_id == "" and row.payload == {} for row in lineless)
