"""Youth sign-up on WhatsApp: a 17-year-old signs up from a school link and the guardian confirms, on WhatsApp."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.config import Settings
from db.youth import Enrolment
from tests.chats import Apps, WhatsAppChat, act, button, running
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi
from tests.youth_steps import add_programme


@pytest.fixture
async def apps(
    settings: Settings, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Apps, FixedClock]]:
    clock = FixedClock(datetime(2026, 5, 10, 11, 0, tzinfo=UTC))
    graph = await FakeGraphApi(now=clock.now).start()
    await add_programme(settings, monkeypatch, capacity=10, municipality="prishtine")
    async for running_apps in running(settings, "whatsapp", fake, graph, clock=clock):
        yield running_apps, clock
    assert graph.violations == []


async def test_a_17_year_old_signs_up_and_the_guardian_confirms_on_whatsapp(
    apps: tuple[Apps, FixedClock],
) -> None:
    running_apps, _clock = apps
    minor = WhatsAppChat(running_apps.graph, 21, "Drita")
    await act(running_apps, minor, says="/start youth_school12")
    await act(running_apps, minor, presses="lang:sq")
    texts = await act(running_apps, minor, presses="consent:yes")
    assert any("Ura mes nesh" in t for t in texts)
    for step in ("n", "c0"):
        await act(running_apps, minor, presses=button(minor, step))
    await act(running_apps, minor, says="Drita Berisha")
    await act(running_apps, minor, says="11.05.2008")  # 17 today
    await act(running_apps, minor, says="Prishtine")
    for step in ("c0", "t0", "d", "t2", "d"):
        await act(running_apps, minor, presses=button(minor, step))
    await act(running_apps, minor, says="Gjimnazi Sami Frashëri")
    for step in ("s", "c0", "n"):
        await act(running_apps, minor, presses=button(minor, step))
    await act(running_apps, minor, says="Shpresa Berisha")
    await act(running_apps, minor, says="+383 44 123 456")
    texts = await act(running_apps, minor, presses=button(minor, "c0"))  # photos: yes
    summary = " ".join(texts)
    assert "Drita Berisha" in summary and "Shpresa Berisha" in summary
    token = re.search(r"g_([A-Za-z0-9_-]+)", summary)
    assert token is not None

    guardian = WhatsAppChat(running_apps.graph, 22, "Shpresa")
    await act(running_apps, guardian, says=f"/start g_{token.group(1)}")
    await act(running_apps, guardian, presses="lang:sr-Latn")
    texts = await act(running_apps, guardian, presses="consent:yes")
    assert any("Drita Berisha" in t for t in texts)
    async with running_apps.app.db.sessions() as session:
        enrolment = (await session.execute(select(Enrolment))).scalar_one()
    before_minor = len(minor.texts())
    await act(running_apps, guardian, presses=f"yo:g:{enrolment.id}:nomedia")
    assert any("Prindi ose kujdestari juaj është pajtuar" in t for t in minor.texts()[before_minor:])
    async with running_apps.app.db.sessions() as session:
        enrolment = (await session.execute(select(Enrolment))).scalar_one()
    assert (enrolment.status, enrolment.guardian_state, enrolment.guardian_confirmed_by, enrolment.source) == (
        "confirmed",
        "confirmed",
        "whatsapp",
        "school12",
    )
    assert enrolment.media_consent is False
