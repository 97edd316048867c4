"""The REST API and outgoing webhooks, as an integration (a case-management or M&E system) uses them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import re
from collections.abc import AsyncIterator
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import Homeward
from bot.cli import main
from bot.clock import FixedClock
from bot.config import Settings
from bot.integrations import tokens, webhooks
from console.web import create_console
from db.integrations import WebhookDelivery
from db.models import AuditEntry, Beneficiary, Conversation, Message
from tests.console_support import BASE, add_staff, client, csrf, person_with_transcript, sign_in
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard, transcript

MONDAY_MORNING = datetime(2026, 5, 11, 9, 0, tzinfo=UTC)  # office hours in Prishtina


async def _token(app: Homeward, name: str, *scopes: str) -> str:
    async with app.db.transaction() as session:
        _, plain = await tokens.issue(session, name=name, scopes=scopes, by="test", now=app.clock.now())
    return plain


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _audit(app: Homeward, action: str) -> list[AuditEntry]:
    async with app.db.sessions() as session:
        return list((await session.execute(select(AuditEntry).where(AuditEntry.action == action))).scalars())


async def test_a_token_reads_only_what_its_scopes_allow_and_every_read_is_audited(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="prishtine", texts=["Ku e marr letërnjoftimin?"])
    reader = await _token(homeward, "crm", "people:read")
    async with client(homeward) as http:
        assert (await http.get("/api/v1/people")).status_code == 401
        assert (await http.get("/api/v1/people", headers=_auth("hw_not-a-token"))).status_code == 401
        people = await http.get("/api/v1/people", headers=_auth(reader))
        assert people.status_code == 200
        assert [p["municipality"] for p in people.json()["data"]] == ["prishtine"]
        refused = await http.get(f"/api/v1/messages?conversation={cid}", headers=_auth(reader))
        assert refused.status_code == 403 and "messages:read" in refused.json()["detail"]
    reads = await _audit(homeward, "api.read")
    assert [(r.actor, r.target) for r in reads] == [("api:crm", "people")]


async def test_a_revoked_token_stops_working_at_once(homeward: Homeward) -> None:
    token = await _token(homeward, "dashboard", "conversations:read")
    async with client(homeward) as http:
        assert (await http.get("/api/v1/conversations", headers=_auth(token))).status_code == 200
        async with homeward.db.transaction() as session:
            await tokens.revoke(session, "dashboard", homeward.clock.now())
        assert (await http.get("/api/v1/conversations", headers=_auth(token))).status_code == 401


async def test_only_a_hash_of_a_token_is_stored(homeward: Homeward) -> None:
    token = await _token(homeward, "m-and-e", "submissions:read")
    async with homeward.db.sessions() as session:
        row = (await session.execute(select(tokens.IntegrationToken))).scalar_one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash


async def test_pages_follow_on_without_gaps_and_since_filters(homeward: Homeward) -> None:
    for i in range(5):
        await person_with_transcript(
            homeward, municipality="peje", texts=[f"pyetja {i}"], name=f"P{i}", chat_id=f"{70 + i}"
        )
    token = await _token(homeward, "sync", "people:read", "messages:read")
    async with client(homeward) as http:
        seen: list[int] = []
        cursor: str | None = None
        pages = 0
        while True:
            url = "/api/v1/people?limit=2" + (f"&after={cursor}" if cursor else "")
            body = (await http.get(url, headers=_auth(token))).json()
            seen += [p["id"] for p in body["data"]]
            pages += 1
            cursor = body["next"]
            if cursor is None:
                break
        assert pages == 3 and len(seen) == 5 and len(set(seen)) == 5
        lines = (await http.get("/api/v1/messages?limit=3", headers=_auth(token))).json()
        assert [m["text"] for m in lines["data"]] == ["pyetja 0", "pyetja 1", "pyetja 2"]
        rest = (await http.get(f"/api/v1/messages?after={lines['next']}", headers=_auth(token))).json()
        assert [m["text"] for m in rest["data"]] == ["pyetja 3", "pyetja 4"] and rest["next"] is None
        later = (homeward.clock.now() + timedelta(days=1)).isoformat()
        assert (await http.get("/api/v1/people", params={"since": later}, headers=_auth(token))).json()["data"] == []
        naive = await http.get("/api/v1/people?since=2026-01-01T00:00:00", headers=_auth(token))
        assert naive.status_code == 400
        bad = await http.get("/api/v1/people?after=garbage", headers=_auth(token))
        assert bad.status_code == 400


async def test_a_message_sent_through_the_api_reaches_the_person_in_their_script(
    homeward: Homeward, fake: FakeBotApi
) -> None:
    milan = Person(fake, 7301, "Milan", language_code="sr")
    await onboard(fake, milan, "sr-Latn")
    await transcript(homeward)
    async with homeward.db.sessions() as session:
        person_id = (await session.execute(select(Beneficiary.id))).scalar_one()
    sender = await _token(homeward, "crm", "messages:send")
    reader = await _token(homeward, "reader", "people:read")
    async with client(homeward) as http:
        lacking = await http.post(f"/api/v1/people/{person_id}/messages", json={"text": "x"}, headers=_auth(reader))
        assert lacking.status_code == 403
        sent = await http.post(
            f"/api/v1/people/{person_id}/messages",
            json={"text": "Ваш термин је у уторак у 10:00."},
            headers=_auth(sender),
        )
        assert sent.status_code == 202 and sent.json()["status"] == "queued"
        assert (
            await http.post("/api/v1/people/999999/messages", json={"text": "x"}, headers=_auth(sender))
        ).status_code == 404
        empty = await http.post(f"/api/v1/people/{person_id}/messages", json={"text": ""}, headers=_auth(sender))
        assert empty.status_code == 400
        secret_words = "my-secret-words"
        wrong = await http.post(
            f"/api/v1/people/{person_id}/messages", json={"txt": secret_words}, headers=_auth(sender)
        )
        assert wrong.status_code == 400 and secret_words not in wrong.text
    await fake.wait_for(lambda: "Vaš termin je u utorak u 10:00." in fake.texts(milan.id))
    lines = await transcript(homeward)
    assert lines[-1].author == "api:crm" and lines[-1].text == "Vaš termin je u utorak u 10:00."
    assert [a.target for a in await _audit(homeward, "api.send")] == [f"conversation:{lines[-1].conversation_id}"]


async def test_a_person_who_stopped_or_was_erased_is_not_messaged(homeward: Homeward, fake: FakeBotApi) -> None:
    arta = Person(fake, 7302, "Arta", language_code="sq")
    await onboard(fake, arta, "sq")
    arta.says("/stop")
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    await transcript(homeward)
    async with homeward.db.sessions() as session:
        person_id = (await session.execute(select(Beneficiary.id))).scalar_one()
    sender = await _token(homeward, "crm", "messages:send")
    async with client(homeward) as http:
        refused = await http.post(f"/api/v1/people/{person_id}/messages", json={"text": "Tung"}, headers=_auth(sender))
    assert refused.status_code == 409 and "opted out" in refused.json()["detail"]


async def test_the_schema_documents_every_route_and_the_bearer_token(homeward: Homeward) -> None:
    async with client(homeward) as http:
        schema = (await http.get("/api/v1/openapi.json")).json()
    assert {
        "/people",
        "/conversations",
        "/messages",
        "/submissions",
        "/signups",
        "/people/{person_id}/messages",
    } <= set(schema["paths"])
    assert any(s.get("scheme") == "bearer" for s in schema["components"]["securitySchemes"].values())


class Receiver:
    """A system that takes webhooks: answers with the statuses it is given, then 200; keeps what came."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._take)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def _take(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


async def _pass(app: Homeward) -> int:
    async with aiohttp.ClientSession() as http:
        return await app.webhooks.run_once(http)


async def test_a_hand_off_is_told_to_the_integration_signed_and_retried_until_taken(
    settings: Settings, fake: FakeBotApi, receiver: Receiver
) -> None:
    clock = FixedClock(MONDAY_MORNING)
    app = Homeward(settings, clock=clock)
    await app.start(delivery=False)
    try:
        async with app.db.transaction() as session:
            _, secret = await webhooks.subscribe(
                session, name="cms", url=receiver.url, events=["handoff"], by="test", now=clock.now()
            )
        clock.advance(timedelta(seconds=1))
        person = Person(fake, 7401, "Arta", language_code="sq")
        await onboard_without_delivery(app, fake, person)
        person.says("/human")
        await fake.wait_for(lambda: fake.pending_updates() == 0)
        await app.turns.wait_idle()
        receiver.statuses = [500]
        assert await _pass(app) == 1  # tried once; the receiver failed
        assert await _pass(app) == 0  # not due again yet
        clock.advance(webhooks.BACKOFF[0])
        assert await _pass(app) == 1
        assert len(receiver.received) == 2
        headers, body = receiver.received[-1]
        timestamp = headers["X-Homeward-Timestamp"]
        expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert headers["X-Homeward-Signature-256"] == f"sha256={expected}"
        assert headers["X-Homeward-Event"] == "handoff"
        payload = json.loads(body)
        async with app.db.sessions() as session:
            conversation = (await session.execute(select(Conversation))).scalar_one()
            delivery = (await session.execute(select(WebhookDelivery))).scalar_one()
            lines = list((await session.execute(select(Message.text))).scalars())
        assert payload["conversation"] == conversation.id and payload["event"] == "handoff"
        assert not any(line and line in body.decode() for line in lines)  # ids and kinds, never words
        assert (delivery.status, delivery.attempts, delivery.last_status) == ("sent", 2, 200)
        assert await _pass(app) == 0  # nothing is sent twice
    finally:
        await app.stop()


async def onboard_without_delivery(app: Homeward, fake: FakeBotApi, person: Person) -> None:
    """Onboarding with delivery run by hand (the test owns the clock and the passes)."""
    for step in ("/start", "lang:sq", "consent:yes"):
        if step.startswith("/"):
            person.says(step)
        else:
            person.presses(step)
        await fake.wait_for(lambda: fake.pending_updates() == 0)
        await app.turns.wait_idle()


def test_a_delivery_is_given_up_after_the_last_try() -> None:
    delivery = WebhookDelivery(attempts=0, status="pending")
    now = MONDAY_MORNING
    for _ in range(webhooks.MAX_ATTEMPTS - 1):
        webhooks.record_attempt(delivery, now, 503, None)
        assert delivery.status == "pending" and delivery.next_attempt_at > now
    webhooks.record_attempt(delivery, now, None, "ClientConnectorError")
    assert delivery.status == "failed" and delivery.last_error == "ClientConnectorError"


async def test_erasure_removes_the_persons_webhook_events(
    homeward: Homeward, fake: FakeBotApi, receiver: Receiver
) -> None:
    async with homeward.db.transaction() as session:
        await webhooks.subscribe(
            session,
            name="cms",
            url=receiver.url,
            events=["handoff"],
            by="test",
            now=homeward.clock.now() - timedelta(hours=1),
        )
    person = Person(fake, 7402, "Besa", language_code="sq")
    await onboard(fake, person, "sq")
    person.says("/human")
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    await transcript(homeward)
    async with homeward.db.transaction() as session:
        await webhooks.discover(session, homeward.clock.now())  # unless the running dispatcher already has
    async with homeward.db.sessions() as session:
        assert len(list((await session.execute(select(WebhookDelivery))).scalars())) == 1
    async with homeward.db.transaction() as session:
        row = (await session.execute(select(Beneficiary))).scalar_one()
        await homeward.personal_data.erase(session, row, actor="person", chat_key=None, now=homeward.clock.now())
    async with homeward.db.sessions() as session:
        person_row = (await session.execute(select(Beneficiary))).scalar_one()
        left = list((await session.execute(select(WebhookDelivery))).scalars())
    assert person_row.consent == "erased"
    assert left == []


async def test_tokens_and_webhooks_from_the_command_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, homeward: Homeward
) -> None:
    monkeypatch.setenv("HOMEWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOMEWARD_SECRET_KEY", settings.secret_key or "")

    async def run(argv: list[str]) -> tuple[int, str]:
        out = io.StringIO()

        def call() -> int:
            with redirect_stdout(out):
                return main(argv)

        return await asyncio.to_thread(call), out.getvalue()

    code, printed = await run(["api", "token", "add", "crm", "--scope", "people:read"])
    assert code == 0
    token = printed.strip().splitlines()[-1]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_console(homeward)), base_url=BASE) as http:
        assert (await http.get("/api/v1/people", headers=_auth(token))).status_code == 200
        assert (await run(["api", "token", "add", "crm", "--scope", "people:read"]))[0] == 2  # the name is taken
        assert (await run(["api", "token", "revoke", "crm"]))[0] == 0
        assert (await http.get("/api/v1/people", headers=_auth(token))).status_code == 401
    code, printed = await run(["api", "webhook", "add", "cms", "https://cms.example/hooks", "--event", "signup"])
    assert code == 0 and printed.strip().splitlines()[-1].startswith("whsec_")
    code, listed = await run(["api", "webhook", "list"])
    assert "cms\thttps://cms.example/hooks\tsignup\tactive" in listed
    actions = [a.action for a in await _audit(homeward, "api.token_add")] + [
        a.action for a in await _audit(homeward, "api.token_revoke")
    ]
    assert actions == ["api.token_add", "api.token_revoke"]


def _console(app: Homeward) -> Any:
    return create_console(app, stream_seconds=0.0)


async def test_an_admin_makes_and_revokes_tokens_and_webhooks_on_screen(homeward: Homeward) -> None:
    await add_staff(homeward, "drita", "admin")
    await add_staff(homeward, "amra", "caseworker")
    async with client(homeward) as http:
        await sign_in(http, "amra")
        assert (await http.get("/integrations")).status_code == 403
    async with client(homeward) as http:
        await sign_in(http, "drita")
        token = await csrf(http)
        made = await http.post(
            "/integrations/tokens",
            data={"csrf": token, "name": "m-and-e", "scope": ["submissions:read", "signups:read"]},
        )
        assert made.status_code == 200
        plain = re.search(r'<code class="secret">(hw_[^<]+)</code>', made.text)
        assert plain is not None
        assert (await http.get("/api/v1/signups", headers=_auth(plain.group(1)))).status_code == 200
        assert (await http.get("/api/v1/people", headers=_auth(plain.group(1)))).status_code == 403
        unknown = await http.post("/integrations/tokens", data={"csrf": token, "name": "x", "scope": ["root"]})
        assert "unknown scope root" in unknown.text
        forged = await http.post("/integrations/tokens", data={"csrf": "forged", "name": "y", "scope": ["people:read"]})
        assert forged.status_code == 403
        await http.post("/integrations/tokens/m-and-e/revoke", data={"csrf": token})
        assert (await http.get("/api/v1/signups", headers=_auth(plain.group(1)))).status_code == 401
        hook = await http.post(
            "/integrations/webhooks",
            data={"csrf": token, "name": "cms", "url": "https://cms.example/in", "event": ["handoff"]},
        )
        assert re.search(r'<code class="secret">whsec_[^<]+</code>', hook.text)
        listed = (await http.get("/integrations")).text
        assert "https://cms.example/in" in listed and plain.group(1) not in listed
    done = [(a.actor, a.action) for a in await _audit(homeward, "api.token_add")]
    assert done == [("staff:drita", "api.token_add")]
