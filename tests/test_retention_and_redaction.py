"""Retention removes exactly what is due (and a dry run nothing); redaction masks personal details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.privacy import PersonalData
from bot.redaction import redact
from bot.retention import Periods, Retention
from db.encryption import Keyring
from db.models import AuditEntry, Beneficiary, Conversation, InboxUpdate, KbQuestion, Message
from db.session import Database

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def _person(session, name: str, last: datetime, ref: str) -> Beneficiary:  # type: ignore[no-untyped-def]
    person = Beneficiary(
        channel="telegram",
        channel_ref=ref,
        channel_user_id=ref,
        chat_id=ref,
        display_name=name,
        consent="given",
        created_at=last,
        last_contact_at=last,
    )
    session.add(person)
    await session.flush()
    conversation = Conversation(beneficiary_id=person.id, state={}, labels=[], created_at=last, updated_at=last)
    session.add(conversation)
    await session.flush()
    session.add(
        Message(
            conversation_id=conversation.id,
            direction="in",
            author="person",
            kind="text",
            text=f"{name} wrote this",
            status="received",
            created_at=last,
        )
    )
    session.add(
        KbQuestion(
            conversation_id=conversation.id,
            locale="sq",
            text=f"{name} asked",
            outcome="none",
            candidates=[],
            created_at=last,
        )
    )
    return person


async def test_retention_removes_exactly_what_is_due(database_url: str) -> None:
    db = Database(database_url, keyring=Keyring(["k"]))
    try:
        async with db.transaction() as session:
            await _person(session, "Old Person", NOW - timedelta(days=31 * 25), "1")  # past 24 months
            await _person(session, "Recent Person", NOW - timedelta(days=31 * 7), "2")  # question past 6 months
            await _person(session, "New Person", NOW - timedelta(days=3), "3")
            session.add(AuditEntry(at=NOW - timedelta(days=366 * 5 + 2), actor="x", action="read", target=None))
            session.add(AuditEntry(at=NOW - timedelta(days=300), actor="x", action="read", target=None))
            session.add(
                InboxUpdate(
                    channel="telegram",
                    update_id=1,
                    chat_key="a",
                    raw=None,
                    status="done",
                    received_at=NOW - timedelta(days=40),
                )
            )
            session.add(
                InboxUpdate(
                    channel="telegram",
                    update_id=2,
                    chat_key="a",
                    raw="{}",
                    status="pending",
                    received_at=NOW - timedelta(days=40),
                )
            )
        retention = Retention(db, PersonalData(), Periods())
        planned = await retention.run(NOW, dry_run=True)
        assert planned == {"people": 1, "questions": 2, "audit_log": 1, "raw_updates": 1, "outbox": 0}
        async with db.sessions() as session:  # a dry run removes nothing
            assert (await session.execute(select(func.count()).select_from(KbQuestion))).scalar_one() == 3
        done = await retention.run(NOW, dry_run=False)
        assert done == planned
        async with db.sessions() as session:
            names = (await session.execute(select(Beneficiary.display_name).order_by(Beneficiary.id))).scalars().all()
            assert names == [None, "Recent Person", "New Person"]
            texts = (await session.execute(select(Message.text))).scalars().all()
            assert sorted(texts) == ["New Person wrote this", "Recent Person wrote this"]
            assert (await session.execute(select(KbQuestion.text))).scalars().all() == ["New Person asked"]
            assert (await session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one() == 1
            actions = (await session.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars().all()
            assert actions == ["read", "erase", "retention"]
        assert await retention.run(NOW, dry_run=False) == {k: 0 for k in planned}
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("Jam Arta Krasniqi, +383 44 123 456", ["Arta Krasniqi"], "Jam [name] [name], [phone]"),
        ("Зовем се Милица, milica.j@mail.rs", ["Milica Jović"], "Зовем се [name], [email]"),
        ("lindur më 12.03.2007, letërnjoftimi 1234567890", [], "lindur më [date], letërnjoftimi [phone]"),
        ("pasoš broj P01234567", [], "pasoš broj [id]"),
        ("Imam 3 dece i 25 evra", [], "Imam 3 dece i 25 evra"),
    ],
)
def test_redaction_masks_personal_details_only(text: str, names: list[str], expected: str) -> None:
    assert redact(text, names) == expected
