"""The public chat page and the webhook under abuse: floods, throw-away visitors, streams, bad bodies."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import Homeward
from bot.config import Settings
from bot.server import WEBHOOK_PATH, web_app
from console.addresses import forwarded_for, proxies
from console.throttle import Streams, Window
from console.web import create_console
from db.models import AuditEntry, InboxUpdate
from tests.console_support import add_staff, sign_in

BASE = "http://chat.test"


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Homeward]:
    homeward = Homeward(settings.model_copy(update={"webchat_visitors_per_address": 5}))
    await homeward.start()
    yield homeward
    await homeward.stop()


def _client(app: Homeward, stream_seconds: float = 0.0) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_console(app, stream_seconds=stream_seconds))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def _token(http: httpx.AsyncClient) -> str:
    page = await http.get("/chat")
    assert page.status_code == 200
    return page.text.split('name="chat-token" content="')[1].split('"')[0]


async def _inbox_rows(app: Homeward) -> int:
    async with app.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one())


async def test_one_visitor_flooding_is_refused_after_the_limit(app: Homeward) -> None:
    async with _client(app) as http:
        headers = {"x-chat-token": await _token(http)}
        codes = [
            (await http.post("/chat/messages", json={"id": f"f{i}", "text": "hi"}, headers=headers)).status_code
            for i in range(300)
        ]
    assert codes.count(202) == app.settings.webchat_messages_per_visitor
    assert set(codes[app.settings.webchat_messages_per_visitor :]) == {429}
    await app.turns.wait_idle()
    assert await _inbox_rows(app) == app.settings.webchat_messages_per_visitor


async def test_one_address_cannot_make_visitor_after_visitor(app: Homeward) -> None:
    async with _client(app) as http:
        codes = []
        for _ in range(8):
            http.cookies.clear()  # no cookie: a new visitor each time
            codes.append((await http.get("/chat")).status_code)
        assert codes == [200] * 5 + [429] * 3
        app.settings.trusted_proxies = "127.0.0.1"  # behind a trusted proxy, each person counts on their own
        fresh = []
        for i in range(8):
            http.cookies.clear()
            fresh.append((await http.get("/chat", headers={"x-forwarded-for": f"198.51.100.{i}"})).status_code)
        assert fresh == [200] * 8
        app.settings.trusted_proxies = ""  # anyone else's header is not believed
        http.cookies.clear()
        assert (await http.get("/chat", headers={"x-forwarded-for": "198.51.100.200"})).status_code == 429


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    trusted = proxies("10.0.0.0/8, 127.0.0.1")
    assert forwarded_for("203.0.113.9", ["198.51.100.1"], trusted) == "203.0.113.9"  # not a proxy of ours
    assert forwarded_for("10.1.2.3", ["198.51.100.1"], trusted) == "198.51.100.1"
    assert forwarded_for("10.1.2.3", ["1.1.1.1, 198.51.100.1, 10.0.0.7"], trusted) == "198.51.100.1"  # spoofed left
    assert forwarded_for("10.1.2.3", ["1.1.1.1", "198.51.100.1"], trusted) == "198.51.100.1"
    assert forwarded_for("10.1.2.3", ["not-an-address"], trusted) == "10.1.2.3"
    assert forwarded_for("10.1.2.3", [], trusted) == "10.1.2.3"
    assert forwarded_for("127.0.0.1", ["198.51.100.1"], proxies("")) == "127.0.0.1"


async def test_sign_in_counts_the_address_a_trusted_proxy_names_and_no_other(app: Homeward) -> None:
    await add_staff(app, "amra", "caseworker")
    async with _client(app) as http:
        for i in range(3):
            http.headers["x-forwarded-for"] = f"198.51.100.{i}"
            await sign_in(http, "amra", "wrong password, surely")
        app.settings.trusted_proxies = "127.0.0.0/8"
        http.headers["x-forwarded-for"] = "192.0.2.44"
        await sign_in(http, "amra", "wrong password, surely")
    async with app.db.sessions() as session:
        addresses = [
            d["address"]
            for d in (
                await session.execute(
                    select(AuditEntry.detail).where(AuditEntry.action.like("login%")).order_by(AuditEntry.id)
                )
            ).scalars()
        ]
    # ASGI test clients connect from 127.0.0.1: only once it is a trusted proxy is its header believed.
    assert addresses == ["127.0.0.1"] * 3 + ["192.0.2.44"]


@pytest.mark.parametrize(
    "body",
    [b"[]", b"null", b'"text"', b"17", b'{"id": "a", "text": "\\ud800"}', b'{"id": "\\udfff", "text": "x"}', b"\xff{"],
)
async def test_malformed_bodies_are_refused_with_400(app: Homeward, body: bytes) -> None:
    async with _client(app) as http:
        headers = {"x-chat-token": await _token(http), "content-type": "application/json"}
        assert (await http.post("/chat/messages", content=body, headers=headers)).status_code == 400
    assert await _inbox_rows(app) == 0


async def test_a_message_over_the_limit_is_refused_and_the_page_is_told(app: Homeward) -> None:
    async with _client(app) as http:
        headers = {"x-chat-token": await _token(http)}
        response = await http.post("/chat/messages", json={"id": "l1", "text": "ë" * 4097}, headers=headers)
        assert response.status_code == 413 and response.json() == {"error": "too_long", "limit": 4096}
        huge = await http.post("/chat/messages", json={"id": "l2", "text": "a" * 40_000}, headers=headers)
        assert huge.status_code == 413
        fits = await http.post("/chat/messages", json={"id": "l3", "text": "ë" * 4096}, headers=headers)
        assert fits.status_code == 202
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        raws = (await session.execute(select(InboxUpdate.raw))).scalars().all()
    assert len(raws) == 1 and len(json.loads(raws[0] or "{}").get("text", "ë" * 4096)) == 4096
    assert "Mesazhi juaj është shumë i gjatë" in (await _page_text(app))


async def _page_text(app: Homeward) -> str:
    async with _client(app) as http:
        return (await http.get("/chat", headers={"accept-language": "sq"})).text


@pytest.mark.parametrize("after", ["99999999999999999999999", "-1", "1e9", "abc", str(2**63)])
async def test_a_cursor_out_of_range_is_refused(app: Homeward, after: str) -> None:
    async with _client(app) as http:
        await http.get("/chat")
        assert (await http.get(f"/chat/events?after={after}")).status_code == 400
        assert (await http.get("/chat/events", headers={"last-event-id": after})).status_code == 400
        assert (await http.get("/chat/events?after=12")).status_code == 200


async def test_live_streams_are_bounded_per_visitor(app: Homeward) -> None:
    async with _client(app, stream_seconds=1.5) as http:
        await http.get("/chat")
        limit = app.settings.webchat_streams_per_visitor
        codes = await asyncio.gather(*(http.get("/chat/events") for _ in range(limit + 2)))
        assert sorted(r.status_code for r in codes) == [200] * limit + [429] * 2
        assert (await http.get("/chat/events")).status_code == 200  # closed streams free their places


def test_streams_are_bounded_per_visitor_per_address_and_in_total() -> None:
    streams = Streams(per_visitor=2, per_address=3, total=4)
    first = streams.open("a", "1.1.1.1", 0, 300)
    assert first and streams.open("a", "1.1.1.1", 0, 300)
    assert streams.open("a", "2.2.2.2", 0, 300) is None  # a third for one visitor
    assert streams.open("b", "1.1.1.1", 0, 300) and streams.open("c", "1.1.1.1", 0, 300) is None  # a 4th, one address
    assert streams.open("c", "2.2.2.2", 0, 300) and streams.open("d", "3.3.3.3", 0, 300) is None  # a fifth in all
    streams.close(first)
    assert streams.open("d", "3.3.3.3", 1, 300)
    # A stream whose closing never ran holds its place only until it would have ended.
    assert streams.open("e", "4.4.4.4", 2, 300) is None
    assert streams.open("e", "4.4.4.4", 301, 600)


def test_a_window_counts_per_key_and_forgets_what_passed() -> None:
    window = Window(3, 10.0, keys=2)
    assert [window.allow("a", t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert window.allow("a", 10.5)  # the first has left the window
    assert window.allow("b", 11) and window.allow("c", 30)  # past `keys` keys, idle ones are forgotten
    assert len(window._seen) <= 2


async def test_visitors_who_never_consented_stay_out_of_the_caseworkers_queue(app: Homeward) -> None:
    await add_staff(app, "amra", "caseworker")
    for _ in range(20):
        async with _client(app) as http:
            app.settings.trusted_proxies = "127.0.0.1"  # twenty scripted visitors from twenty addresses
            headers = {"x-forwarded-for": f"198.51.100.{secrets.randbelow(250)}"}
            page = await http.get("/chat", headers=headers)
            token = page.text.split('name="chat-token" content="')[1].split('"')[0]
            headers["x-chat-token"] = token
            await http.post("/chat/messages", json={"id": "h1", "text": "/human"}, headers=headers)
            await http.post("/chat/messages", json={"id": "h2", "text": "Ndihmë!"}, headers=headers)
    async with _client(app) as http:
        token = await _token(http)
        for i, event in enumerate(
            ({"text": "/start"}, {"data": "lang:sq"}, {"data": "consent:yes"}, {"text": "/human"})
        ):
            await http.post("/chat/messages", json={"id": f"c{i}", **event}, headers={"x-chat-token": token})
            await app.turns.wait_idle()
    async with _client(app) as staff:
        await sign_in(staff, "amra")
        listed = (await staff.get("/inbox?view=open")).text
        waiting = (await staff.get("/inbox?view=needs_human")).text
    assert listed.count('href="/conversations/') == 1
    assert waiting.count('href="/conversations/') == 1


async def test_the_webhook_refuses_a_body_over_one_megabyte(settings: Settings) -> None:
    settings = settings.model_copy(update={"webhook_url": "https://example.org", "webhook_secret": "s3cret-Value"})
    homeward = Homeward(settings)
    await homeward.start(polling=False)
    transport = httpx.ASGITransport(app=web_app(homeward, webhook=True, console=False))
    good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Value"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://homeward") as client:
            padded = json.dumps({"update_id": 77, "padding": "x" * (2 * 1024 * 1024)}).encode()
            assert (await client.post(WEBHOOK_PATH, content=padded, headers=good)).status_code == 413

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
                for _ in range(40):
                    yield b" " * 65536

            assert (await client.post(WEBHOOK_PATH, content=chunks(), headers=good)).status_code == 413
            small = json.dumps({"update_id": 78, "padding": "x" * 1000}).encode()
            assert (await client.post(WEBHOOK_PATH, content=small, headers=good)).status_code == 200
        assert await _inbox_rows(homeward) == 1
    finally:
        await homeward.stop()
