"""Automatic assignment: a new hand-off goes round robin to the signed-in caseworkers of the person's
municipality, then to any signed-in caseworker who can see the person, and stays unassigned when nobody is."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from bot import assignment
from bot.app import Homeward
from bot.clock import FixedClock
from bot.config import Settings
from db.models import AuditEntry, Beneficiary, Conversation
from db.session import Database
from db.staff import StaffUser
from tests.console_support import add_staff, client, csrf, person_with_transcript, shown, sign_in
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

IDLE = timedelta(minutes=60)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auto_assign": True})


@pytest.fixture
def start_at() -> datetime:
    return datetime(2026, 5, 11, 8, 0, tzinfo=UTC)  # Monday 10:00 in Prishtina


async def _caseworkers(app: Homeward) -> dict[int, str]:
    """Amra works in Prishtina, Besa in Prishtina and Prizren, Dren everywhere."""
    await add_staff(app, "amra", "caseworker", ("prishtine",))
    await add_staff(app, "besa", "caseworker", ("prishtine", "prizren"))
    await add_staff(app, "dren", "caseworker")
    async with app.db.sessions() as session:
        return dict((await session.execute(select(StaffUser.id, StaffUser.name))).all())


async def _hand_off(app: Homeward, fake: FakeBotApi, uid: int, municipality: str) -> tuple[int, str | None]:
    """A person of `municipality` asks for a caseworker: the conversation and whom it was assigned to."""
    person = Person(fake, uid, f"P{uid}", language_code="sq")
    sent = await onboard(fake, person, "sq")
    async with app.db.transaction() as session:
        await session.execute(
            update(Beneficiary).where(Beneficiary.channel_user_id == str(uid)).values(municipality=municipality)
        )
    person.says("/human")
    await fake.wait_sent(sent + 1, person.id)
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        cid, assignee = (
            await session.execute(
                select(Conversation.id, StaffUser.name)
                .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
                .outerjoin(StaffUser, StaffUser.id == Conversation.assignee_id)
                .where(Beneficiary.channel_user_id == str(uid))
            )
        ).one()
    return cid, assignee


async def _signed_in(app: Homeward, name: str) -> httpx.AsyncClient:
    http = client(app)
    await sign_in(http, name)
    return http


async def test_hand_offs_go_round_robin_by_municipality_then_to_anyone_signed_in_then_to_nobody(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, clock = clocked
    await _caseworkers(app)
    amra, besa, dren = [await _signed_in(app, name) for name in ("amra", "besa", "dren")]
    try:
        given = [await _hand_off(app, fake, 9700 + i, "prishtine") for i in range(3)]
        assert [name for _, name in given] == ["amra", "besa", "amra"]  # the municipality's own, in turn
        assert (await _hand_off(app, fake, 9710, "prizren"))[1] == "besa"  # Prizren's only caseworker
        assert (await _hand_off(app, fake, 9711, "peje"))[1] == "dren"  # nobody of Peja: anyone who sees it

        # Amra is told on every console page; her conversation says it was assigned automatically.
        alerts = await amra.get("/events/alerts")
        found = re.search(r"data: (\{.*\})", alerts.text)
        assert found is not None and json.loads(found.group(1))["mine"] == 2
        page = (await amra.get(f"/conversations/{given[0][0]}")).text
        assert 'id="auto-assigned"' in page
        assert shown(app, "Assigned automatically on {when}", "sq", when="11.5.2026 10:00") in page

        # Prishtina's caseworkers sign out: Dren, who sees every municipality, is next.
        for http in (amra, besa):
            await http.post("/logout", data={"csrf": await csrf(http)})
        assert (await _hand_off(app, fake, 9712, "prishtine"))[1] == "dren"
        # Dren's session runs out unused: nobody is signed in, and the hand-off waits unassigned as before.
        clock.advance(IDLE + timedelta(minutes=1))
        cid, nobody = await _hand_off(app, fake, 9713, "prishtine")
        assert nobody is None
    finally:
        for http in (amra, besa, dren):
            await http.aclose()
    async with app.db.sessions() as session:
        entries = list(
            (
                await session.execute(
                    select(AuditEntry).where(AuditEntry.action == "conversation.auto_assign").order_by(AuditEntry.id)
                )
            ).scalars()
        )
    assert [(e.actor, (e.detail or {})["pool"]) for e in entries] == [
        ("assignment", "municipality"),
        ("assignment", "municipality"),
        ("assignment", "municipality"),
        ("assignment", "municipality"),
        ("assignment", "all"),
        ("assignment", "all"),
    ]
    assert f"conversation:{cid}" not in {e.target for e in entries}


async def test_the_rotation_is_shared_by_every_process(clocked: tuple[Homeward, FixedClock]) -> None:
    """Four processes assign at once; the two signed-in caseworkers of Prishtina get two each."""
    app, clock = clocked
    names = await _caseworkers(app)
    amra, besa = await _signed_in(app, "amra"), await _signed_in(app, "besa")
    cids = [
        await person_with_transcript(app, municipality="prishtine", texts=["a"], name=f"P{i}", chat_id=str(600 + i))
        for i in range(8)
    ]
    processes = [Database(app.settings.database_url) for _ in range(4)]

    async def assign(db: Database, cid: int) -> int | None:
        async with db.transaction() as session:
            conversation = await session.get(Conversation, cid)
            assert conversation is not None
            person = await session.get(Beneficiary, conversation.beneficiary_id)
            assert person is not None
            return await assignment.assign_new_handoff(session, conversation, person, clock.now(), IDLE)

    try:
        if app.db.is_sqlite:  # one writer at a time: the processes take turns, the rotation is still theirs
            chosen = [await assign(processes[i % 4], cid) for i, cid in enumerate(cids)]
        else:
            chosen = list(await asyncio.gather(*(assign(processes[i % 4], cid) for i, cid in enumerate(cids))))
    finally:
        for db in processes:
            await db.dispose()
        await amra.aclose()
        await besa.aclose()
    given = [names[c] for c in chosen if c is not None]
    assert sorted(given) == ["amra"] * 4 + ["besa"] * 4
    if app.db.is_sqlite:
        assert given == ["amra", "besa"] * 4
    # A conversation that already has someone keeps them.
    async with app.db.transaction() as session:
        conversation = await session.get(Conversation, cids[0])
        assert conversation is not None
        person = await session.get(Beneficiary, conversation.beneficiary_id)
        assert person is not None
        assert await assignment.assign_new_handoff(session, conversation, person, clock.now(), IDLE) is None
