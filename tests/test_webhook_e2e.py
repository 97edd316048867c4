"""Webhook mode: the secret header is checked, the update stored, 200 answered, the turn run after."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from bot.app import Homeward
from bot.config import Settings
from bot.server import WEBHOOK_PATH, web_app
from db.models import InboxUpdate
from tests.fakebot import FakeBotApi, Person


def _update(person_id: int, update_id: int, text: str) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": person_id, "type": "private"},
            "from": {"id": person_id, "is_bot": False, "first_name": "Luan"},
            "text": text,
        },
    }


async def test_webhook_checks_the_secret_and_stores_before_answering(settings: Settings, fake: FakeBotApi) -> None:
    settings = settings.model_copy(update={"webhook_url": "https://example.org", "webhook_secret": "s3cret-Value"})
    app = Homeward(settings)
    await app.start(polling=False)
    transport = httpx.ASGITransport(app=web_app(app, webhook=True, console=False))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://homeward") as client:
            update = _update(8101, 501, "/start")
            assert (await client.post(WEBHOOK_PATH, json=update)).status_code == 401
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Valuf"}
            assert (await client.post(WEBHOOK_PATH, json=update, headers=wrong)).status_code == 401
            good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Value"}
            assert (await client.post(WEBHOOK_PATH, content=b"not json", headers=good)).status_code == 400
            response = await client.post(WEBHOOK_PATH, json=update, headers=good)
            assert response.status_code == 200
            async with app.db.sessions() as session:  # stored by the time 200 went out
                assert (await session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one() == 1
            texts = await fake.wait_sent(1, 8101)
            assert "zgjidhni gjuhën" in texts[0]
            # Telegram retries the same update: answered 200, nothing runs twice.
            assert (await client.post(WEBHOOK_PATH, json=update, headers=good)).status_code == 200
            await app.turns.wait_idle()
            assert len(fake.texts(8101)) == 1
    finally:
        await app.stop()


async def test_webhook_requests_arriving_together_share_commits_and_each_gets_its_turn(
    settings: Settings, fake: FakeBotApi
) -> None:
    settings = settings.model_copy(update={"webhook_url": "https://example.org", "webhook_secret": "s3cret-Value"})
    app = Homeward(settings)
    await app.start(polling=False)
    transport = httpx.ASGITransport(app=web_app(app, webhook=True, console=False))
    calls = 0
    store = app.store_telegram

    async def counted(batch: list[tuple[int, str, str]]) -> list[tuple[str, int]]:
        nonlocal calls
        calls += 1
        return await store(batch)

    app.webhook_inbox._store = counted
    good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Value"}
    people = range(8300, 8330)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://homeward") as client:
            posts = [
                client.post(WEBHOOK_PATH, json=_update(p, 600 + n, "/start"), headers=good)
                for n, p in enumerate(people)
            ]
            answers = await asyncio.gather(*posts)
        assert [r.status_code for r in answers] == [200] * len(people)
        assert calls < len(people)  # requests in hand together were committed together
        for p in people:
            assert "zgjidhni gjuhën" in (await fake.wait_sent(1, p))[0]  # every update got its turn
    finally:
        await app.stop()


async def test_polling_stores_updates_before_confirming_them(homeward: Homeward, fake: FakeBotApi) -> None:
    person = Person(fake, 8200, "Luan", "sq")
    person.says("/start")
    await fake.wait_sent(1, person.id)
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    get_updates_offsets = [c for c in fake.calls if c.method == "deleteWebhook"]
    assert get_updates_offsets  # polling mode removes any webhook first, so updates come to getUpdates
