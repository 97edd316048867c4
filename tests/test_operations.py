"""Operations endpoints: /healthz and /metrics, served on the console port of every process."""

from __future__ import annotations

import gc

import httpx

from bot.app import Homeward
from bot.config import Settings
from bot.server import YOUNG_OBJECTS, settle_collector, web_app
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard


async def test_health_and_metrics(homeward: Homeward, fake: FakeBotApi, person: Person) -> None:
    await onboard(fake, person, "sq")
    await homeward.turns.wait_idle()
    transport = httpx.ASGITransport(app=web_app(homeward, webhook=False, console=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://homeward") as client:
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        body = (await client.get("/metrics")).text
    assert 'homeward_outbox_queue{lane="reply"}' in body and 'homeward_outbox_queue{lane="announcement"} 0' in body
    sends = next(line for line in body.splitlines() if line.startswith("homeward_sends_total"))
    assert int(sends.split()[1]) >= 4
    assert "homeward_turn_seconds_count 3" in body
    assert "# TYPE homeward_throttled_total counter" in body


async def test_health_reports_an_unreachable_database(settings: Settings) -> None:
    broken = Homeward(settings.model_copy(update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:9/none"}))
    transport = httpx.ASGITransport(app=web_app(broken, webhook=False, console=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://homeward") as client:
        response = await client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"status": "database unavailable"}
    await broken.db.dispose()


def test_a_started_process_settles_the_garbage_collector() -> None:
    thresholds = gc.get_threshold()
    try:
        settle_collector()
        assert gc.get_freeze_count() > 0  # what start-up built is no longer walked by every full collection
        assert gc.get_threshold()[0] == YOUNG_OBJECTS
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
