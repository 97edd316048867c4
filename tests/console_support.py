"""Shared steps for console tests: staff accounts, a signed-in HTTP client, people and their transcripts."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from markupsafe import escape
from sqlalchemy import select

from bot.app import Homeward
from bot.followup.contacts import FORM_ID as FOLLOWUP_FORM
from bot.text import fold
from console import auth
from console.web import create_console
from db.models import Beneficiary, Conversation, FollowupContact, FormVersion, KbQuestion, Message, Submission
from db.youth import Cohort, Enrolment, Programme

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
    return await http.post("/login", data={"name": name, "password": password, "csrf": token.group(1), "next": "/"})


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


def shown(app: Homeward, message: str, locale: str = "sq", **values: Any) -> str:
    """A console label as a page shows it: translated, then HTML-escaped."""
    return str(escape(app.translations(locale).gettext(message, **values)))


async def person_of(app: Homeward, conversation_id: int) -> int:
    async with app.db.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.beneficiary_id


async def add_followup(
    app: Homeward,
    conversation_id: int,
    wave: int,
    status: str,
    *,
    reason: str | None = None,
    scores: dict[str, float | None] | None = None,
    values: dict[str, Any] | None = None,
    completed: bool = True,
) -> None:
    """A follow-up contact of the person in `conversation_id`; with `scores`, their questionnaire too."""
    now = app.clock.now()
    person_id = await person_of(app, conversation_id)
    questionnaire = app.services.extras["questionnaires"].items[FOLLOWUP_FORM]
    async with app.db.transaction() as session:
        submission_id = None
        if scores is not None:
            version = (
                await session.execute(select(FormVersion).where(FormVersion.form_id == FOLLOWUP_FORM))
            ).scalar_one_or_none()
            if version is None:
                version = FormVersion(form_id=FOLLOWUP_FORM, sha256="0" * 64, created_at=now)
                session.add(version)
                await session.flush()
            state = questionnaire.runner.start()
            state["values"] = dict(values or {})
            submission = Submission(
                beneficiary_id=person_id,
                form_version_id=version.id,
                form_id=FOLLOWUP_FORM,
                wave=wave,
                state=state,
                scores=scores,
                status="completed" if completed else "in_progress",
                started_at=now,
                updated_at=now,
                completed_at=now if completed else None,
            )
            session.add(submission)
            await session.flush()
            submission_id = submission.id
        months = {1: 3, 2: 6, 3: 12}[wave]
        session.add(
            FollowupContact(
                beneficiary_id=person_id,
                wave=wave,
                months=months,
                due_at=now - timedelta(days=10),
                expires_at=now + timedelta(days=20),
                reminders=[],
                status=status,
                reason=reason,
                sent_at=now - timedelta(days=10) if status in ("sent", "answered", "expired") else None,
                submission_id=submission_id,
                updated_at=now,
            )
        )


async def add_cohort(
    app: Homeward,
    *,
    code: str = "code-club",
    programme: tuple[str, str] = ("Klubi i kodimit", "Клуб програмирања"),
    name: tuple[str, str] = ("Grupi i pranverës", "Пролећна група"),
    municipality: str | None = "Prizren",
    capacity: int = 2,
    starts: date = date(2026, 9, 1),
) -> tuple[int, int]:
    """A programme (reused by code) and one cohort of it; returns (programme id, cohort id)."""
    now = app.clock.now()
    async with app.db.transaction() as session:
        found = (await session.execute(select(Programme).where(Programme.code == code))).scalar_one_or_none()
        if found is None:
            found = Programme(code=code, name_sq=programme[0], name_sr=programme[1], created_at=now)
            session.add(found)
            await session.flush()
        cohort = Cohort(
            programme_id=found.id,
            name_sq=name[0],
            name_sr=name[1],
            municipality=municipality,
            starts_on=starts,
            ends_on=starts + timedelta(days=60),
            capacity=capacity,
            created_at=now,
        )
        session.add(cohort)
        await session.flush()
        return found.id, cohort.id


async def add_sign_up(
    app: Homeward,
    conversation_id: int,
    programme_id: int,
    cohort_id: int | None,
    status: str,
    *,
    full_name: str,
    guardian_state: str = "not_needed",
    source: str | None = "link",
    waiting_since: datetime | None = None,
) -> int:
    now = app.clock.now()
    person_id = await person_of(app, conversation_id)
    async with app.db.transaction() as session:
        enrolment = Enrolment(
            beneficiary_id=person_id,
            programme_id=programme_id,
            cohort_id=cohort_id,
            status=status,
            source=source,
            full_name=full_name,
            birth_date=date(2009, 4, 1),
            municipality="Prizren",
            guardian_state=guardian_state,
            waiting_since=waiting_since,
            created_at=now,
            updated_at=now,
        )
        session.add(enrolment)
        await session.flush()
        return enrolment.id


async def add_question(
    app: Homeward,
    conversation_id: int | None,
    text: str | None,
    outcome: str,
    *,
    topic: str | None = None,
    candidates: list[str] | None = None,
    helpful: bool | None = None,
    minutes_ago: int = 0,
) -> None:
    async with app.db.transaction() as session:
        session.add(
            KbQuestion(
                conversation_id=conversation_id,
                locale="sq",
                text=text,
                outcome=outcome,
                topic=topic,
                candidates=candidates or [],
                helpful=helpful,
                created_at=app.clock.now() - timedelta(minutes=minutes_ago),
            )
        )


async def a_broadcast(
    app: Homeward, author: str, text_sq: str = "Takim nesër.", text_sr: str = "Састанак сутра."
) -> int:
    """A broadcast to everyone, sent through the service as the console sends it; returns its id."""
    from bot import broadcasts

    async with app.db.transaction() as session:
        broadcast, _ = await broadcasts.send(
            session,
            app.settings.whatsapp_templates,
            author=author,
            token=f"test-{author}-{text_sq}"[:32],
            segment=broadcasts.Segment(),
            scope=None,
            text_sq=text_sq,
            text_sr=text_sr,
            now=app.clock.now(),
        )
        return broadcast.id
