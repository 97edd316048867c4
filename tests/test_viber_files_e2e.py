"""/mydata on Viber: the person's two files go as Viber `file` messages whose address is a one-time,
expiring, audited link to Homeward's public address; without one, the person is told so and gets the
content as text."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.config import Settings
from db.models import AuditEntry, Beneficiary, ChatFile
from tests.chats import Apps, ViberChat, WhatsAppChat, onboard, running, waiting_retry
from tests.console_support import client
from tests.fakebot import FakeBotApi
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi, Fetcher

START = datetime(2026, 5, 11, 9, 0, tzinfo=UTC)
PUBLIC = "https://homeward.example"


@pytest.fixture
async def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def viber_api() -> FakeViberApi:
    return await FakeViberApi().start()


async def _apps(
    settings: Settings, fake: FakeBotApi, viber_api: FakeViberApi, clock: FixedClock, public: str | None
) -> AsyncIterator[Apps]:
    graph = await FakeGraphApi().start()
    settings = settings.model_copy(update={"public_url": public})
    async for running_apps in running(settings, "viber", fake, graph, viber_api, clock=clock):
        yield running_apps
    assert viber_api.violations == []


def _fetcher(http: httpx.AsyncClient) -> Fetcher:
    async def fetch(url: str) -> tuple[int, bytes]:  # Viber's servers, reaching Homeward's public address
        assert url.startswith(PUBLIC + "/"), url
        answer = await http.get(url.removeprefix(PUBLIC))
        return answer.status_code, answer.content

    return fetch


@pytest.fixture
async def apps(settings: Settings, fake: FakeBotApi, viber_api: FakeViberApi, clock: FixedClock) -> AsyncIterator[Apps]:
    async for running_apps in _apps(settings, fake, viber_api, clock, PUBLIC):
        async with client(running_apps.app) as http:
            viber_api.fetch = _fetcher(http)
            yield running_apps


@pytest.fixture
async def without_address(
    settings: Settings, fake: FakeBotApi, viber_api: FakeViberApi, clock: FixedClock
) -> AsyncIterator[Apps]:
    async for running_apps in _apps(settings, fake, viber_api, clock, None):
        yield running_apps


async def _ask_for_data(apps: Apps, chat: ViberChat) -> None:
    await onboard(chat, "sq")
    await chat.says("Më duhet letërnjoftimi për Besnikun")
    await chat.wait_sent(len(chat.texts()) + 1)
    await chat.says("/mydata")


async def test_mydata_files_are_viber_files_fetched_once_from_an_audited_link(
    apps: Apps, viber_api: FakeViberApi, clock: FixedClock
) -> None:
    chat = ViberChat(viber_api, 51, "Besnik")
    await _ask_for_data(apps, chat)
    await viber_api.wait_for(lambda: len(viber_api.files) == 2)
    files = [(m, s.token) for s in viber_api.sent if (m := s.message)["type"] == "file" and s.to == chat.id]
    assert [m["file_name"].rsplit(".", 1)[1] for m, _ in files] == ["json", "txt"]
    json_file, text_file = (viber_api.files[token] for _, token in files)
    assert [m["size"] for m, _ in files] == [len(json_file), len(text_file)]
    assert json.loads(json_file)["transcript"] and "letërnjoftimi për Besnikun".encode() in text_file
    # Each file came right after its caption, in the person's language.
    texts = [str(m.get("text") or m["type"]) for m in viber_api.messages(chat.id)]
    assert texts[texts.index("file") - 1] == "Të dhënat tuaja (JSON)"
    async with apps.app.db.sessions() as session:
        audited = (await session.execute(select(AuditEntry).where(AuditEntry.action == "mydata.download"))).scalars()
        audited = list(audited)
        person = (await session.execute(select(Beneficiary.id))).scalar_one()
        assert (await session.execute(select(ChatFile))).scalars().all() == []  # taken: nothing kept
    expected = [(f"beneficiary:{person}", m["file_name"]) for m, _ in files]
    assert [(a.target, a.detail["file"]) for a in audited] == expected
    # The link worked once: fetched again, it is gone.
    async with client(apps.app) as http:
        for message, _ in files:
            assert (await http.get(urlsplit(message["media"]).path)).status_code == 404


async def test_a_link_not_fetched_in_15_minutes_expires_and_a_forged_one_opens_nothing(
    apps: Apps, viber_api: FakeViberApi, clock: FixedClock
) -> None:
    viber_api.fetch = None  # nobody fetches: the links wait
    chat = ViberChat(viber_api, 52, "Drita")
    await _ask_for_data(apps, chat)
    await viber_api.wait_for(lambda: sum(m["type"] == "file" for m in viber_api.messages(chat.id)) == 2)
    first, second = (urlsplit(m["media"]).path for m in viber_api.messages(chat.id) if m["type"] == "file")
    file_id, signature, name = first.split("/")[3:]
    async with client(apps.app) as http:
        forged = f"/chat/files/{file_id}/{'0' * len(signature)}/{name}"
        assert (await http.get(forged)).status_code == 404
        other = second.split("/")[3]  # another file's id under this one's signature
        assert (await http.get(f"/chat/files/{other}/{signature}/{name}")).status_code == 404
        clock.advance(timedelta(minutes=14))
        assert (await http.get(first)).status_code == 200
        clock.advance(timedelta(minutes=2))
        assert (await http.get(second)).status_code == 404  # 16 minutes: expired
    async with apps.app.db.sessions() as session:
        audited = (await session.execute(select(AuditEntry).where(AuditEntry.action == "mydata.download"))).all()
    assert len(audited) == 1


async def test_without_a_public_address_the_person_is_told_and_gets_the_content_as_text(
    without_address: Apps, viber_api: FakeViberApi
) -> None:
    chat = ViberChat(viber_api, 53, "Arben")
    await _ask_for_data(without_address, chat)
    await viber_api.wait_for(lambda: sum("nuk mund të dërgohen" in t for t in chat.texts()) == 2)
    assert not any(m["type"] == "file" for m in viber_api.messages(chat.id))
    assert any("letërnjoftimi për Besnikun" in t for t in chat.texts())


async def test_a_file_refused_once_goes_once_after_its_caption_and_leaves_no_copy_behind(
    apps: Apps, viber_api: FakeViberApi, clock: FixedClock
) -> None:
    refused: list[dict[str, object]] = []

    def once(body: dict[str, object]) -> tuple[int, str] | None:
        if body.get("type") == "file" and not refused:
            refused.append(body)
            return (10, "webhookNotSet")  # Viber not ready: tried again later
        return None

    chat = ViberChat(viber_api, 54, "Erza")
    await onboard(chat, "sq")
    viber_api.fault = once
    await chat.says("/mydata")
    await viber_api.wait_for(lambda: bool(refused))
    assert (await waiting_retry(apps.app)).parts_sent == 1  # its caption confirmed
    clock.advance(timedelta(seconds=15))
    await viber_api.wait_for(lambda: len(viber_api.files) == 2)
    kinds = [str(m.get("text") or m["type"]) for m in viber_api.messages(chat.id)]
    assert kinds.count("Të dhënat tuaja (JSON)") == 1 and kinds.count("file") == 2
    async with apps.app.db.sessions() as session:
        assert (await session.execute(select(ChatFile))).scalars().all() == []


async def test_delete_ends_the_links_at_once_and_leaves_no_file_behind(
    apps: Apps, viber_api: FakeViberApi, clock: FixedClock
) -> None:
    """/delete within the 15 minutes: the links open nothing and the files' rows are gone, taken or not."""
    viber_api.fetch = None  # nobody has fetched the files yet
    chat = ViberChat(viber_api, 54, "Drita")
    await _ask_for_data(apps, chat)
    await viber_api.wait_for(lambda: sum(m["type"] == "file" for m in viber_api.messages(chat.id)) == 2)
    links = [urlsplit(m["media"]).path for m in viber_api.messages(chat.id) if m["type"] == "file"]
    async with apps.app.db.sessions() as session:
        assert len((await session.execute(select(ChatFile))).scalars().all()) == 2
    await chat.says("/delete")
    await chat.wait_button("del:yes")
    await chat.presses("del:yes")
    await viber_api.wait_for(lambda: any("u fshinë" in t for t in chat.texts()))
    await apps.app.turns.wait_idle()
    clock.advance(timedelta(minutes=1))  # well within the links' 15 minutes
    async with client(apps.app) as http:
        for link in links:
            assert (await http.get(link)).status_code == 404
    async with apps.app.db.sessions() as session:
        assert (await session.execute(select(ChatFile))).scalars().all() == []
        downloads = (await session.execute(select(AuditEntry).where(AuditEntry.action == "mydata.download"))).all()
    assert downloads == []


async def test_delete_from_another_linked_app_ends_the_viber_links_too(
    apps: Apps, viber_api: FakeViberApi, clock: FixedClock
) -> None:
    """The person's files are found under every app linked to them, not only the one they wrote from last."""
    viber_api.fetch = None
    on_viber = ViberChat(viber_api, 55, "Drita")
    await _ask_for_data(apps, on_viber)
    await viber_api.wait_for(lambda: sum(m["type"] == "file" for m in viber_api.messages(on_viber.id)) == 2)
    links = [urlsplit(m["media"]).path for m in viber_api.messages(on_viber.id) if m["type"] == "file"]
    sent = len(on_viber.texts())
    await on_viber.presses("menu:link")
    code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", await on_viber.wait_text("15", sent))
    assert code is not None
    on_whatsapp = WhatsAppChat(apps.graph, 55, "Drita")
    await on_whatsapp.says(code.group(0))
    await on_whatsapp.wait_text("lidhur")
    await on_whatsapp.says("/delete")
    await on_whatsapp.wait_button("del:yes")
    await on_whatsapp.presses("del:yes")
    await on_whatsapp.wait_text("u fshinë")
    await apps.app.turns.wait_idle()
    async with client(apps.app) as http:
        for link in links:
            assert (await http.get(link)).status_code == 404
    async with apps.app.db.sessions() as session:
        assert (await session.execute(select(ChatFile))).scalars().all() == []
