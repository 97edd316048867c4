"""Real Telegram update shapes, replayed end to end through polling and through the webhook.

The corpus (`telegram_updates.json`) holds update shapes written by other Telegram libraries'
tests (teloxide, tgbot, pyTelegramBotAPI), each with its source. Some are older or newer than
our aiogram's types. Every one must be stored once and finished (none left pending), nothing
may be logged as a traceback or with what people wrote, someone writing normally afterwards
is answered normally, and erasing each person leaves nothing of their updates.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from bot.app import Homeward
from bot.config import Settings
from bot.server import WEBHOOK_PATH, web_app
from db.models import Base, InboxUpdate
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

CORPUS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "telegram_updates.json").read_text("utf-8"))[
    "updates"
]
SECRET = "s3cret-Value"
# Words that only the corpus's private chats wrote: none may outlive their writers' erasure.
PRIVATE_WORDS = ["hello there", "Лол кек", "Власов", "HIHI", "message-text", "Edited text", "eternnoir", "Test poll 1"]


async def every_row(app: Homeward) -> dict[str, str]:
    """Every row of every table (and, on SQLite, of the search index's own tables), as text, by table."""
    tables: dict[str, str] = {}
    async with app.db.sessions() as session:
        names = [t.name for t in Base.metadata.sorted_tables]
        if app.db.is_sqlite:
            found = (await session.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))).scalars()
            names += [n for n in found if n not in names and not n.startswith("sqlite")]
        for name in names:
            rows = (await session.execute(text(f'SELECT * FROM "{name}"'))).all()
            tables[name] = json.dumps([list(r) for r in rows], default=str, ensure_ascii=False)
    return tables


def _replayed(first_id: int) -> list[dict[str, Any]]:
    """The corpus with fresh update ids (several sources reuse 1), in order."""
    updates = []
    for n, entry in enumerate(CORPUS):
        update = copy.deepcopy(entry["update"])
        update["update_id"] = first_id + n
        updates.append(update)
    return updates


def _private_writers(updates: list[dict[str, Any]]) -> list[tuple[int, int, bool]]:
    """(user id, chat id, asks for an answer) of each update a person sent in a private chat, read from the JSON."""
    found = []
    for update in updates:
        query = update.get("callback_query")
        if query is not None:
            chat = (query.get("message") or {}).get("chat") or query["from"]
            found.append((query["from"]["id"], chat["id"], True))
            continue
        for key in ("message", "edited_message"):
            message = update.get(key)
            if message and message.get("from") and message["chat"].get("type") == "private":
                found.append((message["from"]["id"], message["chat"]["id"], key == "message"))
    return found


async def _settled(app: Homeward) -> None:
    await asyncio.wait_for(app.turns.wait_idle(), timeout=60)


async def _replay(app: Homeward, fake: FakeBotApi, updates: list[dict[str, Any]], answered: list[int] | None) -> None:
    for update in updates:
        fake.push(update)
    await fake.wait_for(lambda: fake.pending_updates() == 0, timeout=30)
    if answered is not None:  # webhook mode: until the last request is answered, its update may not be stored yet
        await fake.wait_for(lambda: len(answered) >= len(updates), timeout=30)
    await _settled(app)


async def _erase(fake: FakeBotApi, user_id: int, chat_id: int) -> None:
    """The person asks to delete their data and confirms, if there is anything to delete."""
    person = Person(fake, user_id, "x")
    before = len(fake.texts(chat_id))
    update = person.says("/delete")
    update["message"]["chat"]["id"] = chat_id
    await fake.wait_sent(before + 1, chat_id, timeout=20)
    if "del:yes" in str(fake.sent(chat_id=chat_id)[-1]):  # the erasure question, with its buttons
        press = person.presses("del:yes")
        press["callback_query"]["message"]["chat"]["id"] = chat_id
        await fake.wait_sent(before + 2, chat_id, timeout=20)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_every_real_update_shape_is_stored_once_answered_and_erasable(
    settings: Settings, fake: FakeBotApi, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings.model_copy(update={"webhook_url": "https://example.org", "webhook_secret": SECRET})
    app = Homeward(settings)
    await app.start(polling=mode == "polling")
    stop = asyncio.Event()
    transport = httpx.ASGITransport(app=web_app(app, webhook=True, console=False))
    client = httpx.AsyncClient(transport=transport, base_url="http://homeward")
    answers: list[int] = []

    async def post(update: dict[str, Any]) -> None:
        response = await client.post(WEBHOOK_PATH, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        answers.append(response.status_code)

    webhook = asyncio.create_task(fake.deliver(post, stop)) if mode == "webhook" else None
    try:
        updates = _replayed(700_000)
        await _replay(app, fake, updates, answers if mode == "webhook" else None)
        assert set(answers) <= {200}

        async with app.db.sessions() as session:
            rows = (await session.execute(select(InboxUpdate))).scalars().all()
        assert sorted(r.update_id for r in rows) == [u["update_id"] for u in updates]  # each stored once
        assert [r.update_id for r in rows if r.status != "done"] == []  # none pending, none given up on
        writers = _private_writers(updates)
        asking = {chat_id for _, chat_id, asks in writers if asks}
        await fake.wait_for(lambda: all(fake.texts(chat_id) for chat_id in asking), timeout=30)
        pressed = [u["callback_query"]["id"] for u in updates if "callback_query" in u]
        await fake.wait_for(
            lambda: {p["callback_query_id"] for p in fake.sent("answerCallbackQuery")} >= set(pressed), timeout=20
        )

        newcomer = Person(fake, 5001, "Arta", language_code="sq")
        sent = await onboard(fake, newcomer, "sq")
        newcomer.says("ku eshte komuna")
        assert len(await fake.wait_sent(sent + 1, newcomer.id, timeout=20)) == sent + 1

        for user_id, chat_id in dict.fromkeys((u, c) for u, c, _ in writers):
            await _erase(fake, user_id, chat_id)
        await _settled(app)
        await app.delivery.drain()
        tables = await every_row(app)
        for word in PRIVATE_WORDS:
            assert not [name for name, dumped in tables.items() if word in dumped], word
    finally:
        stop.set()
        if webhook is not None:
            await webhook
        await client.aclose()
        await app.stop()
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    logged = "\n".join(str(r.__dict__) for r in caplog.records)
    for word in [*PRIVATE_WORDS, "Андрей", "WaffleLapkin"]:
        assert word not in logged, word
