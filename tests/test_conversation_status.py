"""Conversation status: pending and snoozed beside open and closed; a snooze ends on time, when the person
writes, or when the conversation turns urgent; every change is audited and reaches the API and exports."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot import ownership, snoozes
from bot.app import Homeward
from bot.clock import FixedClock
from bot.integrations import records
from bot.transcripts import transcript_records
from console import inbox, notifications
from console.access import Staff
from db.models import AuditEntry, Beneficiary, Conversation
from db.session import Database
from tests.console_support import add_staff, client, csrf, person_with_transcript, shown, sign_in
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

DANGER = "burri po me rrah, kam frikë"


@pytest.fixture
def start_at() -> datetime:
    return datetime(2026, 5, 11, 8, 0, tzinfo=UTC)  # Monday 10:00 in Prishtina (summer time, UTC+2)


async def _conversation(app: Homeward, cid: int) -> Conversation:
    async with app.db.sessions() as session:
        found = await session.get(Conversation, cid)
        assert found is not None
        return found


async def _audit(app: Homeward, action: str) -> list[AuditEntry]:
    async with app.db.sessions() as session:
        rows = await session.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return list(rows.scalars())


def _everyone(staff_id: int) -> Staff:
    return Staff(id=staff_id, name="amra", role="admin", municipalities=(), locale="en", csrf="", session_id="")


async def _counts(app: Homeward) -> dict[str, int]:
    async with app.db.sessions() as session:
        return await inbox.counts(session, _everyone(1), inbox.Query())


async def test_pending_then_snoozed_in_kosovo_time_then_awake_when_the_time_passes(
    clocked: tuple[Homeward, FixedClock],
) -> None:
    app, clock = clocked
    cid = await person_with_transcript(app, municipality="prishtine", texts=["Kam pyetje"], needs_human=True)
    await add_staff(app, "amra", "caseworker")
    async with client(app) as http:
        await sign_in(http, "amra")
        token = await csrf(http)
        await http.post(f"/conversations/{cid}/status", data={"csrf": token, "status": "pending"})
        assert ((await _conversation(app, cid)).status, (await _counts(app))["pending"]) == ("pending", 1)
        assert (await _counts(app))["open"] == 0
        page = await http.get(f"/conversations/{cid}")
        assert shown(app, "Pending", "sq") in page.text

        # 09:00 tomorrow on the page is Kosovo time: 07:00 UTC in May.
        answer = await http.post(
            f"/conversations/{cid}/status", data={"csrf": token, "status": "snoozed", "until": "2026-05-12T09:00"}
        )
        assert answer.status_code == 303
        conversation = await _conversation(app, cid)
        assert conversation.snoozed_until == datetime(2026, 5, 12, 7, 0, tzinfo=UTC)
        page = await http.get(f"/conversations/{cid}")
        assert shown(app, "Snoozed until {when}", "sq", when="12.5.2026 09:00") in page.text
        counts = await _counts(app)
        assert (counts["snoozed"], counts["needs_human"], counts["unassigned"], counts["pending"]) == (1, 0, 0, 0)
        async with app.db.sessions() as session:
            assert (await notifications.alerts(session, _everyone(999))).waiting == 0  # nor in the tab's title
        listed = await http.get("/inbox?view=snoozed")
        assert f"/conversations/{cid}" in listed.text and "12.5.2026 09:00" in listed.text
        assert f"/conversations/{cid}" not in (await http.get("/inbox?view=needs_human")).text

        # A time in the past, or a snooze of an urgent conversation, is refused and changes nothing.
        refused = await http.post(
            f"/conversations/{cid}/status", data={"csrf": token, "status": "snoozed", "until": "2026-05-10T09:00"}
        )
        assert refused.headers["location"].endswith("error=snooze_time")
        assert (await _conversation(app, cid)).snoozed_until == datetime(2026, 5, 12, 7, 0, tzinfo=UTC)

    changes = await _audit(app, "conversation.status")
    assert [(e.actor, e.detail) for e in changes] == [
        ("staff:amra", {"from": "open", "to": "pending"}),
        ("staff:amra", {"from": "pending", "to": "snoozed", "until": "2026-05-12T07:00:00+00:00"}),
    ]

    clock.set(datetime(2026, 5, 12, 6, 59, tzinfo=UTC))
    assert await snoozes.run_once(app.db, clock.now()) == []
    clock.set(datetime(2026, 5, 12, 7, 0, tzinfo=UTC))
    assert await snoozes.run_once(app.db, clock.now()) == [cid]
    conversation = await _conversation(app, cid)
    assert (conversation.status, conversation.snoozed_until, conversation.updated_at) == ("open", None, clock.now())
    assert [(e.actor, e.target) for e in await _audit(app, "conversation.woke")] == [("snooze", f"conversation:{cid}")]
    counts = await _counts(app)
    assert (counts["snoozed"], counts["needs_human"], counts["open"]) == (0, 1, 1)
    async with app.db.sessions() as session:
        assert (await notifications.alerts(session, _everyone(999))).waiting == 1


async def test_an_urgent_conversation_cannot_be_snoozed_and_marking_one_urgent_wakes_it(
    clocked: tuple[Homeward, FixedClock],
) -> None:
    app, _clock = clocked
    cid = await person_with_transcript(app, municipality="prishtine", texts=["Kam pyetje"], needs_human=True)
    await add_staff(app, "amra", "caseworker")
    async with client(app) as http:
        await sign_in(http, "amra")
        token = await csrf(http)
        until = {"csrf": token, "status": "snoozed", "until": "2026-05-20T08:00"}
        await http.post(f"/conversations/{cid}/status", data=until)
        assert (await _conversation(app, cid)).status == "snoozed"
        await http.post(f"/conversations/{cid}/urgent", data={"csrf": token, "urgent": "1"})
        conversation = await _conversation(app, cid)
        assert (conversation.status, conversation.urgent) == ("open", True)
        refused = await http.post(f"/conversations/{cid}/status", data=until)
        assert refused.headers["location"].endswith("error=snooze_urgent")
        assert (await _conversation(app, cid)).status == "open"
        # Closing resets the status: a closed conversation the person opens again is open.
        await http.post(f"/conversations/{cid}/urgent", data={"csrf": token, "urgent": "0"})
        await http.post(f"/conversations/{cid}/status", data={"csrf": token, "status": "pending"})
        await http.post(f"/conversations/{cid}/close", data={"csrf": token})
        conversation = await _conversation(app, cid)
        assert (conversation.mode, conversation.status, ownership.status_of(conversation)) == (
            "closed",
            "open",
            "closed",
        )
        refused = await http.post(f"/conversations/{cid}/status", data={"csrf": token, "status": "pending"})
        assert refused.headers["location"].endswith("error=status_closed")
    assert [e.actor for e in await _audit(app, "conversation.woke")] == ["staff:amra"]


async def test_the_person_writing_wakes_a_snooze_and_so_does_a_danger_message(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, clock = clocked
    person = Person(fake, 9601, "Arta", language_code="sq")
    sent = await onboard(fake, person, "sq")
    person.says("/human")
    sent = len(await fake.wait_sent(sent + 1, person.id))
    await app.turns.wait_idle()
    async with app.db.transaction() as session:
        conversation = (await session.execute(select(Conversation))).scalar_one()
        cid = conversation.id
        ownership.set_status(conversation, ownership.SNOOZED, clock.now(), clock.now() + timedelta(days=3))

    person.says("A ka ndonjë lajm?")  # waits silently for the caseworker: no reply to wait for
    conversation = await _conversation(app, cid)
    for _ in range(200):
        await app.turns.wait_idle()
        conversation = await _conversation(app, cid)
        if conversation.status != "snoozed":
            break
        await asyncio.sleep(0.02)
    assert (conversation.status, conversation.snoozed_until) == ("open", None)
    assert [(e.actor, e.target) for e in await _audit(app, "conversation.woke")] == [("person", f"conversation:{cid}")]

    # Snoozed again; a message from someone in danger wakes it, urgent, in the open views.
    async with app.db.transaction() as session:
        conversation = (await session.execute(select(Conversation))).scalar_one()
        ownership.set_status(conversation, ownership.SNOOZED, clock.now(), clock.now() + timedelta(days=3))
    person.says(DANGER)
    await fake.wait_sent(sent + 1, person.id)
    await app.turns.wait_idle()
    conversation = await _conversation(app, cid)
    assert (conversation.status, conversation.urgent, conversation.needs_human) == ("open", True, True)
    counts = await _counts(app)
    assert (counts["urgent"], counts["needs_human"], counts["snoozed"]) == (1, 1, 0)


async def test_the_wake_job_wakes_each_conversation_once_when_several_processes_run_it(
    clocked: tuple[Homeward, FixedClock],
) -> None:
    app, clock = clocked
    cids = [
        await person_with_transcript(app, municipality="prishtine", texts=["a"], name=f"P{i}", chat_id=str(700 + i))
        for i in range(6)
    ]
    async with app.db.transaction() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id.in_(cids[:5]))
            .values(status="snoozed", snoozed_until=clock.now() + timedelta(hours=1))
        )
        await session.execute(
            update(Conversation)
            .where(Conversation.id == cids[5])
            .values(status="snoozed", snoozed_until=clock.now() + timedelta(hours=3))
        )
    others = [Database(app.settings.database_url) for _ in range(3)]
    try:
        later = clock.now() + timedelta(hours=1, minutes=1)
        woken = await asyncio.gather(*(snoozes.run_once(db, later) for db in [app.db, *others]))
    finally:
        for db in others:
            await db.dispose()
    assert sorted(c for ids in woken for c in ids) == cids[:5]
    assert sorted(e.target for e in await _audit(app, "conversation.woke")) == sorted(
        f"conversation:{c}" for c in cids[:5]
    )
    assert (await _conversation(app, cids[5])).status == "snoozed"


async def test_the_api_and_the_transcript_export_carry_the_status(clocked: tuple[Homeward, FixedClock]) -> None:
    app, clock = clocked
    snoozed = await person_with_transcript(app, municipality="prishtine", texts=["a"], name="Arta", chat_id="801")
    pending = await person_with_transcript(app, municipality="prishtine", texts=["b"], name="Besa", chat_id="802")
    closed = await person_with_transcript(app, municipality="prishtine", texts=["c"], name="Dita", chat_id="803")
    async with app.db.transaction() as session:
        until = datetime(2026, 5, 12, 7, 0, tzinfo=UTC)
        for conversation in (await session.execute(select(Conversation))).scalars():
            if conversation.id == snoozed:
                ownership.set_status(conversation, ownership.SNOOZED, clock.now(), until)
            elif conversation.id == pending:
                ownership.set_status(conversation, ownership.PENDING, clock.now())
            else:
                ownership.close(conversation, clock.now())
    async with app.db.sessions() as session:
        page = await records.conversations(session, since=None, after=None, limit=10)
    by_id = {row["id"]: row for row in page.data}
    assert (by_id[snoozed]["status"], by_id[snoozed]["snoozed_until"]) == ("snoozed", "2026-05-12T07:00:00+00:00")
    assert (by_id[pending]["status"], by_id[pending]["snoozed_until"]) == ("pending", None)
    assert by_id[closed]["status"] == "closed"
    exported = {r["conversation"]: r async for r in transcript_records(app.db)}
    assert (exported[snoozed]["conversation_status"], exported[snoozed]["snoozed_until_local"]) == (
        "snoozed",
        "2026-05-12T09:00:00+02:00",
    )
    assert exported[pending]["conversation_status"] == "pending"
    assert exported[closed]["conversation_status"] == "closed"
    assert json.dumps(exported[snoozed])  # plain values, as JSONL writes them
    async with app.db.sessions() as session:
        names = dict((await session.execute(select(Beneficiary.id, Beneficiary.display_name))).all())
    assert names[exported[pending]["beneficiary"]] == "Besa"
