"""Shared steps for console tests: staff accounts, a signed-in HTTP client, people and their transcripts."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from bot.app import Homeward
from bot.text import fold
from console import auth
from console.web import create_console
from db.models import Beneficiary, Conversation, Message

PASSWORD = "correct horse battery"
BASE = "http://console.test"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def add_staff(app: Homeward, name: str, role: str, municipalities: tuple[str, ...] = ()) -> None:
    async with app.db.transaction() as session:
        await auth.create_account(
            session,
            name=name,
            password=PASSWORD,
            role=role,
            municipalities=list(municipalities),
            now=app.clock.now(),
        )


def client(app: Homeward) -> httpx.AsyncClient:
    """An HTTP client for the console; live-update streams answer once and end."""
    transport = httpx.ASGITransport(app=create_console(app, stream_seconds=0.0))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def sign_in(http: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    form = await http.get("/login")
    token = _CSRF.search(form.text)
    assert token is not None
    return await http.post(
        "/login", data={"name": name, "password": password, "csrf": token.group(1), "next": "/"}
    )


async def csrf(http: httpx.AsyncClient) -> str:
    page = await http.get("/dashboard")
    token = _CSRF.search(page.text)
    assert token is not None, page.text[:300]
    return token.group(1)


async def person_with_transcript(
    app: Homeward,
    *,
    municipality: str | None,
    texts: list[str],
    name: str = "Arta",
    locale: str = "sq",
    needs_human: bool = False,
    chat_id: str = "900",
) -> int:
    """A consenting Telegram person with an inbound transcript, written straight to the database.

    Returns the conversation id.
    """
    now = app.clock.now()
    async with app.db.transaction() as session:
        person = Beneficiary(
            channel="telegram",
            channel_ref=f"ref-{name}-{chat_id}",
            channel_user_id=chat_id,
            chat_id=chat_id,
            display_name=name,
            locale=locale,
            consent="given",
            consent_version=1,
            consent_at=now,
            municipality=municipality,
            opted_out=False,
            blocked=False,
            created_at=now,
        )
        session.add(person)
        await session.flush()
        conversation = Conversation(
            beneficiary_id=person.id,
            mode="human" if needs_human else "bot",
            state={},
            urgent=False,
            needs_human=needs_human,
            labels=[],
            created_at=now,
            updated_at=now,
            last_message_at=now,
        )
        session.add(conversation)
        await session.flush()
        for i, text in enumerate(texts):
            session.add(
                Message(
                    conversation_id=conversation.id,
                    direction="in",
                    author="person",
                    kind="text",
                    text=text,
                    norm_text=fold(text),
                    status="received",
                    created_at=now + timedelta(seconds=i),
                )
            )
        return conversation.id
