"""The web chat page over HTTP: after /delete it answers and starts again, /mydata gives one-time
links, replies show as soon as their turn commits, and the visitor id is never stored."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bot.app import Homeward
from bot.channels import webchat
from bot.config import Settings
from bot.engine import pseudonym
from console import chat
from console.web import create_console
from db.models import AuditEntry, Beneficiary, ChatFile, Conversation, InboxUpdate, Message, OutboxItem

BASE = "http://chat.test"


class Page:
    """A browser on /chat: its cookie, its token, and what its live stream has shown so far."""

    def __init__(self, http: httpx.AsyncClient, app: Homeward) -> None:
        self.http = http
        self.app = app
        self.token = ""
        self.cursor = 0
        self.lines: list[dict[str, Any]] = []
        self.looked = 0  # lines before this one were looked at by `until`

    async def open(self) -> Page:
        page = await self.http.get("/chat")
        assert page.status_code == 200
        self.token = page.text.split('name="chat-token" content="')[1].split('"')[0]
        return self

    @property
    def visitor(self) -> str:
        return str(self.http.cookies[chat.COOKIE])

    async def post(self, **event: str) -> httpx.Response:
        return await self.http.post(
            "/chat/messages", json={"id": secrets.token_hex(8), **event}, headers={"x-chat-token": self.token}
        )

    async def say(self, **event: str) -> None:
        assert (await self.post(**event)).status_code == 202
        await self.app.turns.wait_idle()

    async def read(self) -> list[dict[str, Any]]:
        """One round of the live stream (it ends after the console's stream lifetime)."""
        response = await self.http.get(f"/chat/events?after={self.cursor}")
        assert response.status_code == 200
        shown = []
        for block in response.text.split("\n\n"):
            if block.startswith("event: line"):
                line = json.loads(block.split("data: ", 1)[1])
                self.cursor = line["cursor"]
                shown.append(line)
        self.lines += shown
        return shown

    async def until(self, text: str, rounds: int = 40) -> dict[str, Any]:
        """The first bubble shown from now on that contains `text`."""
        for _ in range(rounds):
            while self.looked < len(self.lines):
                line = self.lines[self.looked]
                self.looked += 1
                if text in line["text"]:
                    return line
            await self.read()
        raise AssertionError(f"never shown: {text!r}; shown: {[line['text'][:40] for line in self.lines]}")


@pytest.fixture
async def http(homeward: Homeward) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_console(homeward, stream_seconds=0.3))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def _onboarded(http: httpx.AsyncClient, app: Homeward) -> Page:
    page = await Page(http, app).open()
    await page.say(text="/start")
    await page.say(data="lang:sq")
    await page.say(data="consent:yes")
    await page.until("Si mund t'ju ndihmoj?")
    return page


async def test_after_delete_the_page_confirms_and_the_person_can_start_again(
    homeward: Homeward, http: httpx.AsyncClient
) -> None:
    page = await _onboarded(http, homeward)
    await page.say(text="/delete")
    await page.until("A dëshironi t'i fshini të dhënat tuaja?")
    await page.say(data="del:yes")
    await page.until("Të dhënat tuaja u fshinë")

    reloaded = await Page(http, homeward).open()  # a reload: same cookie, the stream starts from the top
    assert await reloaded.read() == []
    await reloaded.say(text="/start")
    await reloaded.until("Ju lutemi zgjidhni gjuhën")
    await reloaded.say(data="lang:sq")
    await reloaded.until("Si kujdesemi për të dhënat tuaja")
    await reloaded.say(data="consent:yes")
    await reloaded.until("Faleminderit. Mirë se vini në Homeward.")
    await reloaded.until("Si mund t'ju ndihmoj?")
    await reloaded.say(text="/menu")
    assert (await reloaded.until("Si mund t'ju ndihmoj?"))["buttons"]
    async with homeward.db.sessions() as session:
        person = (await session.execute(select(Beneficiary))).scalar_one()
    assert person.consent == "given"


async def test_mydata_on_the_web_gives_two_files_each_downloaded_once(
    homeward: Homeward, http: httpx.AsyncClient
) -> None:
    page = await _onboarded(http, homeward)
    await page.say(text="/mydata")
    files = []
    for _ in range(40):
        files += [line["file"] for line in await page.read() if line.get("file")]
        if len(files) == 2:
            break
    assert sorted(f["name"].rsplit(".", 1)[1] for f in files) == ["json", "txt"]
    first = await http.get(files[0]["url"])
    assert first.status_code == 200 and "attachment" in first.headers["content-disposition"]
    contents = {f["name"].rsplit(".", 1)[1]: (await http.get(f["url"])) for f in files[1:]}
    contents[files[0]["name"].rsplit(".", 1)[1]] = first
    assert json.loads(contents["json"].content)["profile"]["channel"] == "web"
    assert "Si mund t'ju ndihmoj?" in contents["txt"].text
    assert (await http.get(files[0]["url"])).status_code == 404  # once only
    async with homeward.db.sessions() as session:
        downloads = (
            (await session.execute(select(AuditEntry.action).where(AuditEntry.action == "mydata.download")))
            .scalars()
            .all()
        )
        assert len(downloads) == 2
        assert (await session.execute(select(ChatFile))).first() is None

    # Another browser cannot take a visitor's file, and a link outlives its lifetime by nothing.
    await page.say(text="/mydata")
    fresh: list[dict[str, str]] = []
    for _ in range(40):
        fresh += [line["file"] for line in await page.read() if line.get("file")]
        if len(fresh) == 2:
            break
    async with httpx.AsyncClient(transport=http._transport, base_url=BASE) as stranger:
        await stranger.get("/chat")
        assert (await stranger.get(fresh[0]["url"])).status_code == 404
    async with homeward.db.transaction() as session:
        await session.execute(update(ChatFile).values(expires_at=homeward.clock.now() - timedelta(seconds=1)))
    assert (await http.get(fresh[1]["url"])).status_code == 404
    page.cursor = 0
    shown = [line["file"] for line in await page.read() if line.get("file")]
    assert shown and all(f["url"] == "" for f in shown)  # after a reload: said to be used or expired
    await page.open()  # any page load deletes files whose links expired unused
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(ChatFile))).first() is None


async def test_a_reply_shows_when_its_turn_commits_without_waiting_for_delivery(settings: Settings) -> None:
    app = Homeward(settings)
    await app.start(delivery=False)  # nothing is ever delivered: the page reads the committed transcript
    try:
        visitor = webchat.visitor_hash(app.services.pseudonym_key, webchat.new_visitor())
        with app.webchat.bells.listening(visitor) as bell:
            await chat.submit(app, visitor, "r1", text="/start", language_code="sq")
            await app.turns.wait_idle()
            assert await bell.wait(0.0)  # rung by the commit itself
        lines, _ = await chat.lines_after(app, visitor, 0)
        assert lines[0].text == "/start"
        assert "Ju lutemi zgjidhni gjuhën" in lines[1].text and lines[1].buttons
    finally:
        await app.stop()


async def test_the_visitor_id_is_stored_nowhere(homeward: Homeward, http: httpx.AsyncClient) -> None:
    page = await _onboarded(http, homeward)
    await page.say(text="/human")
    await homeward.delivery.drain()
    visitor = page.visitor
    async with homeward.db.sessions() as session:
        stored = [
            *(await session.execute(select(Beneficiary.channel_user_id, Beneficiary.chat_id))).all(),
            *(await session.execute(select(InboxUpdate.raw, InboxUpdate.chat_key))).all(),
            *(await session.execute(select(OutboxItem.chat_id, OutboxItem.payload))).all(),
        ]
    assert stored and not any(visitor in str(row) for row in stored)


async def test_a_visitor_known_before_ids_were_hashed_finds_their_conversation(
    homeward: Homeward, http: httpx.AsyncClient
) -> None:
    visitor = webchat.new_visitor()
    now = homeward.clock.now()
    async with homeward.db.transaction() as session:  # as left by the migration: no clear id, the old pseudonym
        person = Beneficiary(
            channel="web",
            channel_ref=pseudonym(homeward.services.pseudonym_key, "web", visitor),
            consent="given",
            consent_version=1,
            locale="sq",
            created_at=now,
        )
        session.add(person)
        await session.flush()
        conversation = Conversation.opened(person.id, now)
        session.add(conversation)
        await session.flush()
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="in",
                author="person",
                kind="text",
                text="Pyetja ime e vjetër",
                status="received",
                created_at=now,
            )
        )
    http.cookies.set(chat.COOKIE, visitor)
    page = await Page(http, homeward).open()
    assert (await page.until("Pyetja ime e vjetër"))["mine"]
    await page.say(text="/menu")
    await page.until("Si mund t'ju ndihmoj?")
    async with homeward.db.sessions() as session:
        people = (await session.execute(select(Beneficiary))).scalars().all()
    assert len(people) == 1 and people[0].chat_id == webchat.visitor_hash(homeward.services.pseudonym_key, visitor)
