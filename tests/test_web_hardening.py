"""The process's web server: /metrics only for the configured networks or token, security headers on
every response (errors and HTTPS included), and no message text or token in the log from errors."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from bot import logs
from bot.app import Homeward
from bot.server import web_app
from db.models import Message
from tests.console_support import BASE, add_staff, person_with_transcript, sign_in
from tests.fakebot import TOKEN, FakeBotApi, Person
from tests.steps import onboard

SCRAPE_TOKEN = "scrape-7c1d0e2f9a8b"
SECRET_TEXT = "Fatbardha Qerimaj-Zhubi po kerkon strehim"
SECURITY = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy", "cache-control")


def _client(app: Homeward, *, console: bool, address: str = "127.0.0.1", base: str = BASE) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=web_app(app, webhook=False, console=console), client=(address, 40000), raise_app_exceptions=False
    )
    return httpx.AsyncClient(transport=transport, base_url=base)


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    output = io.StringIO()
    logs.configure("DEBUG", output)
    yield output
    logging.getLogger().handlers.clear()


async def test_metrics_are_served_only_to_allowed_networks_or_with_the_bearer_token(
    homeward: Homeward, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(homeward.settings, "metrics_allow", "127.0.0.1/32,10.20.0.0/16")
    monkeypatch.setattr(homeward.settings, "metrics_token", SCRAPE_TOKEN)
    answers = {}
    for address, authorization in (
        ("203.0.113.9", None),  # anyone on the public port
        ("203.0.113.9", "Bearer wrong-token"),
        ("203.0.113.9", f"Basic {SCRAPE_TOKEN}"),
        ("203.0.113.9", f"Bearer {SCRAPE_TOKEN}"),  # a scraper elsewhere with the token
        ("10.20.3.4", None),  # the monitoring network
        ("127.0.0.1", None),
    ):
        async with _client(homeward, console=True, address=address) as http:
            headers = {"authorization": authorization} if authorization else {}
            response = await http.get("/metrics", headers=headers)
            answers[(address, authorization)] = response.status_code
            if response.status_code == 200:
                assert "homeward_outbox_queue" in response.text
            else:
                assert "homeward_" not in response.text
            assert (await http.get("/healthz")).status_code == 200  # health stays open to load balancers
    assert list(answers.values()) == [403, 403, 403, 200, 200, 200]


async def test_by_default_metrics_are_for_this_machine_only(homeward: Homeward) -> None:
    for address, status in (("127.0.0.1", 200), ("::1", 200), ("192.0.2.10", 403)):
        async with _client(homeward, console=False, address=address) as http:
            assert (await http.get("/metrics")).status_code == status, address


async def test_a_media_file_that_cannot_be_fetched_answers_with_security_headers_and_logs_no_token(
    homeward: Homeward, fake: FakeBotApi, logged: io.StringIO
) -> None:
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=[SECRET_TEXT], name="Fatbardha")
    async with homeward.db.transaction() as session:
        photo = Message(
            conversation_id=cid,
            direction="in",
            author="person",
            kind="photo",
            text=SECRET_TEXT,
            file_id="photo-gone",  # Telegram answers getFile, then the download fails
            status="received",
            created_at=homeward.clock.now() + timedelta(seconds=5),
        )
        session.add(photo)
    await add_staff(homeward, "amra", "caseworker")
    async with _client(homeward, console=True) as http:
        await sign_in(http, "amra")
        response = await http.get(f"/conversations/{cid}/messages/{photo.id}/file")
    assert response.status_code in (404, 500, 502)
    for header in SECURITY:
        assert header in response.headers, header
    assert SECRET_TEXT not in response.text and TOKEN not in response.text
    output = logged.getvalue()
    assert "request failed" in output or response.status_code != 500  # a 500 is logged, by type and place
    for secret in (TOKEN, TOKEN.split(":")[1], SECRET_TEXT, "Fatbardha"):
        assert secret not in output, secret


async def test_every_response_carries_the_security_headers_and_hsts_over_https(homeward: Homeward) -> None:
    for console in (False, True):
        async with _client(homeward, console=console, base="https://homeward.example") as http:
            for path in ("/healthz", "/metrics", "/login") if console else ("/healthz", "/no-such-page"):
                response = await http.get(path)
                assert response.headers["strict-transport-security"].startswith("max-age="), path
                assert all(h in response.headers for h in SECURITY), path
        async with _client(homeward, console=console) as http:
            proxied = await http.get("/healthz", headers={"x-forwarded-proto": "https"})
            plain = await http.get("/healthz")
            missing = await http.get("/no-such-page")
        assert "strict-transport-security" in proxied.headers  # TLS ended at the proxy in front
        assert "strict-transport-security" not in plain.headers
        assert missing.status_code == 404 and all(h in missing.headers for h in SECURITY)


async def test_a_malformed_update_is_logged_without_the_text_or_the_name_it_holds(
    homeward: Homeward, fake: FakeBotApi, logged: io.StringIO
) -> None:
    person = Person(fake, 8801, "Fatbardha", "sq")
    sent = await onboard(fake, person, "sq")
    # A text that is not a string: validation fails, and the error quotes the value it refused.
    person.sends(text={"body": SECRET_TEXT})
    await fake.wait_for(lambda: "ValidationError" in logged.getvalue())  # logged: the scan means something
    await fake.wait_sent(sent + 1, person.id)  # read in part, and answered as any message is
    output = logged.getvalue()
    for secret in (SECRET_TEXT, "Qerimaj", "Fatbardha"):
        assert secret not in output, secret
