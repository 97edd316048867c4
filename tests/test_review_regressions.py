"""Regressions found in review: declined people's queued turns, re-declining, re-planning, busy follow-up passes."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.app import Homeward
from bot.clock import FixedClock
from bot.config import Settings
from bot.followup.contacts import set_return_date
from bot.outbox import LANE_FOLLOWUP, queue_reply
from db.models import (
    Beneficiary,
    Consent,
    Conversation,
    FollowupContact,
    InboxUpdate,
    KbQuestion,
    Message,
    OutboxItem,
    Submission,
)
from handlers.turn import Reply

UID = 7301


def _message(update_id: int, message_id: int, text: str) -> dict[str, Any]:
    user = {"id": UID, "is_bot": False, "first_name": "Ardita"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": UID, "type": "private"},
            "from": user,
            "text": text,
        },
    }


def _press(update_id: int, data: str) -> dict[str, Any]:
    user = {"id": UID, "is_bot": False, "first_name": "Ardita"}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": user,
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": UID, "type": "private"},
                "from": {"id": 1, "is_bot": True, "first_name": "Homeward"},
                "text": "…",
            },
        },
    }


async def _store(app: Homeward, *updates: dict[str, Any]) -> list[int]:
    stored = await app.store_telegram([(u["update_id"], str(UID), json.dumps(u)) for u in updates])
    return [inbox_id for _, inbox_id in stored]


async def _run(app: Homeward, *updates: dict[str, Any]) -> None:
    for raw in updates:
        for inbox_id in await _store(app, raw):
            await app.engine.process(inbox_id)


async def _following_up(app: Homeward, question: str) -> None:
    """Start, Albanian, consent; a question; yes to follow-ups; a return date."""
    await _run(
        app,
        _message(1, 1, "/start"),
        _press(2, "lang:sq"),
        _press(3, "consent:yes"),
        _message(4, 2, question),
        _press(5, "fu:consent:yes"),
        _message(6, 3, "15.03.2026"),
    )


async def test_turns_queued_behind_a_refusal_still_run_and_keep_nothing(settings: Settings) -> None:
    app = Homeward(settings)
    try:
        await _run(app, _message(1, 1, "/start"), _press(2, "lang:sq"), _press(3, "consent:no"))
        queued = await _store(app, _message(4, 2, "ku e marr letërnjoftimin"), _message(5, 3, "edhe pasaporten?"))
        for inbox_id in queued:
            await asyncio.wait_for(app.engine.process(inbox_id), 10)
        (later,) = await _store(app, _message(6, 4, "pershendetje"))
        await asyncio.wait_for(app.engine.process(later), 10)  # no chat is ever stuck behind a blanked row
        async with app.db.sessions() as session:
            rows = (await session.execute(select(InboxUpdate).order_by(InboxUpdate.id))).scalars().all()
        assert [(r.status, r.raw) for r in rows] == [("done", None)] * 6
    finally:
        await app.stop()


async def test_declining_a_new_notice_removes_what_was_kept_under_the_old_one(settings: Settings) -> None:
    app = Homeward(settings)
    try:
        await _following_up(app, "ku e marr letërnjoftimin, djali eshte i semure")
        async with app.db.transaction() as session:
            await session.execute(update(Beneficiary).values(consent_version=0))  # the notice changed since
        await _run(app, _message(7, 4, "pershendetje"), _press(8, "consent:no"))
        async with app.db.sessions() as session:
            person = (await session.execute(select(Beneficiary))).scalar_one()
            assert (person.consent, person.return_date, person.followup_consent) == ("declined", None, False)
            assert (await session.execute(select(func.count()).select_from(KbQuestion))).scalar_one() == 0
            assert (await session.execute(select(func.count()).select_from(FollowupContact))).scalar_one() == 0
            assert (await session.execute(select(func.count()).select_from(Submission))).scalar_one() == 0
            consents = (await session.execute(select(Consent.purpose, Consent.granted))).all()
            assert consents == [("general", False)]  # the marker that they declined, nothing else
    finally:
        await app.stop()


async def test_a_corrected_return_date_plans_the_waves_again(settings: Settings) -> None:
    app = Homeward(settings)
    now = datetime(2026, 5, 10, 11, 0, tzinfo=UTC)
    try:
        async with app.db.transaction() as session:
            person = Beneficiary(
                channel="telegram", channel_ref="x", consent="given", opted_out=False, blocked=False, created_at=now
            )
            session.add(person)
            await session.flush()
            typo = await set_return_date(session, person, date(2023, 3, 15), now)
            assert {c.status for c in typo} == {"skipped"}
            fixed = await set_return_date(session, person, date(2026, 3, 15), now)
            assert [(c.wave, c.status) for c in fixed] == [(1, "planned"), (2, "planned"), (3, "planned")]
    finally:
        await app.stop()


async def _invitable(session: Any, now: datetime, n: int, *, due: timedelta, status: str) -> FollowupContact:
    """A person who agreed to follow-ups, their conversation, and a contact `due` ago in `status`."""
    person = Beneficiary(
        channel="telegram",
        channel_ref=f"r{n}",
        chat_id=str(1000 + n),
        consent="given",
        consent_version=1,
        followup_consent=True,
        opted_out=False,
        blocked=False,
        locale="sq",
        created_at=now,
    )
    session.add(person)
    await session.flush()
    session.add(Conversation.opened(person.id, now))
    contact = FollowupContact(
        beneficiary_id=person.id,
        wave=1,
        months=3,
        reminders=[],
        updated_at=now,
        due_at=now - due,
        expires_at=now + timedelta(days=25),
        status=status,
    )
    session.add(contact)
    await session.flush()
    return contact


async def test_people_thinking_about_an_invitation_do_not_hide_new_ones(settings: Settings) -> None:
    now = datetime(2026, 5, 12, 9, 0, tzinfo=UTC)  # 11:00 in Kosovo
    app = Homeward(settings, clock=FixedClock(now))
    try:
        async with app.db.transaction() as session:
            for i in range(500):  # invited five days ago, still thinking about it
                await _invitable(session, now, i, due=timedelta(days=5), status="sent")
            await _invitable(session, now, 500, due=timedelta(hours=1), status="planned")
        assert (await app.followups.run_once())["invited"] == 1
    finally:
        await app.stop()


async def test_a_follow_up_pass_never_writes_over_a_stop_it_did_not_see(settings: Settings) -> None:
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite: one process, and the pass and the turns share one connection, one at a time")
    now = datetime(2026, 5, 12, 9, 0, tzinfo=UTC)  # 11:00 in Kosovo
    app = Homeward(settings, clock=FixedClock(now))
    try:
        async with app.db.transaction() as session:
            contact = await _invitable(session, now, 1, due=timedelta(hours=1), status="planned")
            person_id = contact.beneficiary_id
        # The person presses "stop follow-ups": their turn has changed the contact, not yet committed.
        async with app.db.transaction() as turn:
            await turn.execute(
                update(FollowupContact)
                .where(FollowupContact.id == contact.id)
                .values(status="skipped", reason="opted_out", updated_at=now)
            )
            await turn.execute(update(Beneficiary).where(Beneficiary.id == person_id).values(followup_consent=False))
            passing = asyncio.create_task(app.followups.run_once())
            done, _ = await asyncio.wait({passing}, timeout=5)
            assert done, "the pass waited for the turn instead of leaving its contact for later"
        assert passing.result()["invited"] == 0
        async with app.db.sessions() as session:
            kept = await session.get(FollowupContact, contact.id)
            assert kept is not None and (kept.status, kept.reason) == ("skipped", "opted_out")
            invitations = (
                await session.execute(select(func.count()).select_from(OutboxItem).where(OutboxItem.lane == 2))
            ).scalar_one()
            assert invitations == 0
    finally:
        await app.stop()


async def test_stopping_follow_ups_also_stops_an_invitation_already_queued(settings: Settings) -> None:
    app = Homeward(settings)
    try:
        await _following_up(app, "ku e marr letërnjoftimin")
        async with app.db.transaction() as session:  # the follow-up pass queued an invitation just now
            person = (await session.execute(select(Beneficiary))).scalar_one()
            conversation = (await session.execute(select(Conversation))).scalar_one()
            await queue_reply(
                session,
                person=person,
                conversation=conversation,
                chat_id=str(UID),
                reply=Reply("Kanë kaluar 3 muaj që kur jeni kthyer."),
                now=app.clock.now(),
                lane=LANE_FOLLOWUP,
            )
        await _run(app, _press(7, "fu:stop"))
        async with app.db.sessions() as session:
            invitation = (
                await session.execute(select(OutboxItem).where(OutboxItem.lane == LANE_FOLLOWUP))
            ).scalar_one()
            line = await session.get(Message, invitation.message_id)
            assert (invitation.status, invitation.last_error) == ("failed", "follow-ups stopped")
            assert line is not None and line.status == "failed"
            person = (await session.execute(select(Beneficiary))).scalar_one()
            assert person.followup_consent is False
    finally:
        await app.stop()
