"""Turns waiting together share one commit on SQLite; a failing turn fails alone; nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.app import Homeward
from bot.channels.telegram import chat_of
from bot.config import Settings
from db.models import InboxUpdate, KbQuestion, Message, OutboxItem
from db.session import Appends
from handlers import faq
from tests.fakebot import FakeBotApi, Person

QUESTIONS = ("Ku mund të shkoj te mjeku?", "Kam humbur letërnjoftimin", "Si ta regjistroj djalin në shkollë?")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Homeward]:
    """Homeward without polling or delivery: updates are stored by the test, turns run by the scheduler."""
    homeward = Homeward(settings)
    yield homeward
    await homeward.stop()


async def store(app: Homeward, updates: list[dict[str, Any]]) -> list[int]:
    rows = [(u["update_id"], chat_of(u), json.dumps(u)) for u in updates]
    return [inbox_id for _, inbox_id in await app.store_telegram(rows)]


def key(app: Homeward, person: Person) -> str:
    return app.engine.chat_key("telegram", str(person.id))


async def run_all(app: Homeward, updates: list[dict[str, Any]]) -> None:
    await store(app, updates)
    await app.turns.recover()
    await app.turns.wait_idle()


async def onboarded(app: Homeward, crowd: list[Person]) -> None:
    for step in ("/start", "lang:sq", "consent:yes"):
        await run_all(app, [p.says(step) if step.startswith("/") else p.presses(step) for p in crowd])


async def test_waiting_turns_share_commits_and_keep_each_chat_in_order(app: Homeward, fake: FakeBotApi) -> None:
    crowd = [Person(fake, 7000 + i, f"P{i}", "sq") for i in range(6)]
    await onboarded(app, crowd)
    commits = 0

    def count(_connection: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(app.db.engine.sync_engine, "commit", count)
    updates = [person.says(q) for q in QUESTIONS for person in crowd]  # interleaved, as they arrive
    await run_all(app, updates)
    event.remove(app.db.engine.sync_engine, "commit", count)

    async with app.db.sessions() as session:
        done = (
            await session.execute(select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status == "done"))
        ).scalar_one()
        assert done == 3 * len(crowd) + len(updates)
        questions = (await session.execute(select(func.count()).select_from(KbQuestion))).scalar_one()
        assert questions == len(updates)
        for person in crowd:
            inbound = (
                await session.execute(
                    select(Message.text, Message.id)
                    .join(InboxUpdate, InboxUpdate.update_id == Message.update_id)
                    .where(Message.direction == "in", InboxUpdate.chat_key == key(app, person))
                    .order_by(Message.id)
                )
            ).all()
            assert [text for text, _ in inbound if text in QUESTIONS] == list(QUESTIONS)  # each chat in its order
        replies = (
            await session.execute(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.method == "sendMessage")
            )
        ).scalar_one()
    assert replies >= len(updates) + 5 * len(crowd)  # onboarding's and one answer per question, none lost
    assert commits < len(updates) / 2  # the 18 waiting turns were written in far fewer commits than turns


async def test_a_failing_turn_fails_alone_and_the_others_are_kept(
    app: Homeward, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    crowd = [Person(fake, 7100 + i, f"P{i}", "sq") for i in range(4)]
    await onboarded(app, crowd)
    original = faq.is_emergency

    def breaks_on_boom(text: str) -> bool:
        if text == "BOOM":
            raise RuntimeError("a handler bug")
        return original(text)

    monkeypatch.setattr(faq, "is_emergency", breaks_on_boom)
    texts = [QUESTIONS[0], "BOOM", QUESTIONS[1], QUESTIONS[2]]
    updates = [person.says(text) for person, text in zip(crowd, texts, strict=True)]
    ids = await store(app, updates)
    await app.engine.process_batch(ids)

    async with app.db.sessions() as session:
        rows = {
            row.update_id: row
            for row in (await session.execute(select(InboxUpdate).where(InboxUpdate.id.in_(ids)))).scalars()
        }
        statuses = [rows[u["update_id"]].status for u in updates]
        assert statuses == ["done", "quarantine", "done", "done"]  # run three times, then set aside
        error = rows[updates[1]["update_id"]].error or ""
        assert error.startswith("RuntimeError in ") and "a handler bug" not in error  # where, never what
        kept = (await session.execute(select(Message.text).where(Message.direction == "in"))).scalars().all()
        assert [kept.count(text) for text in texts] == [1, 0, 1, 1]  # the others' messages kept once each
        assert "BOOM" in (rows[updates[1]["update_id"]].raw or "")  # the quarantined one is kept in the inbox
        asked = (await session.execute(select(KbQuestion.text))).scalars().all()
        assert sorted(t for t in asked if t in texts) == sorted(QUESTIONS)  # each answered question once
        apologies = (
            (await session.execute(select(OutboxItem.payload).where(OutboxItem.chat_id == str(crowd[1].id))))
            .scalars()
            .all()
        )
        assert any("Na vjen keq" in (p.get("text") or "") for p in apologies)  # told, in Albanian, to try again


async def test_a_batch_whose_rows_fail_to_write_runs_each_turn_again_alone(
    app: Homeward, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    crowd = [Person(fake, 7200 + i, f"P{i}", "sq") for i in range(3)]
    await onboarded(app, crowd)
    write = Appends.write
    failures = []

    def fails_once(self: Appends, session: Any) -> None:
        if self._rows and not failures:  # the batch's first write of its rows (at a later turn's first statement)
            failures.append(True)
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        write(self, session)

    monkeypatch.setattr(Appends, "write", fails_once)
    alone: list[int] = []
    process = app.engine.process

    async def one_by_one(inbox_id: int) -> None:
        alone.append(inbox_id)
        await process(inbox_id)

    monkeypatch.setattr(app.engine, "process", one_by_one)
    updates = [person.says(QUESTIONS[0]) for person in crowd]
    await run_all(app, updates)
    assert failures and len(alone) == len(updates)  # the batch failed to write, and each turn ran again alone

    async with app.db.sessions() as session:
        done = (
            await session.execute(
                select(func.count())
                .select_from(InboxUpdate)
                .where(InboxUpdate.update_id.in_([u["update_id"] for u in updates]), InboxUpdate.status == "done")
            )
        ).scalar_one()
        inbound = (
            await session.execute(select(func.count()).select_from(Message).where(Message.text == QUESTIONS[0]))
        ).scalar_one()
        answers = (
            await session.execute(select(func.count()).select_from(KbQuestion).where(KbQuestion.text == QUESTIONS[0]))
        ).scalar_one()
    assert (done, inbound, answers) == (3, 3, 3)  # each turn once, none lost, none doubled


async def test_one_chat_split_across_two_processes_keeps_its_order(settings: Settings, fake: FakeBotApi) -> None:
    if settings.database_url.startswith("sqlite"):
        pytest.skip("several processes share a database only on PostgreSQL")
    first, second = Homeward(settings), Homeward(settings)  # two processes' worth of engines and pools
    try:
        person, other = Person(fake, 7300, "Drita", "sq"), Person(fake, 7301, "Marko", "sq")
        await onboarded(first, [person, other])
        texts = [f"{q} ({n})" for n in range(4) for q in QUESTIONS]
        updates = [u for t in texts for u in (person.says(t), other.says(t))]
        ids = await store(first, updates)
        # A load balancer hands the updates out in turn: each process holds every other one of each chat.
        for n, inbox_id in enumerate(ids):
            (first if n % 4 < 2 else second).turns.submit(inbox_id)
        await asyncio.gather(first.turns.wait_idle(), second.turns.wait_idle())
        async with first.db.sessions() as session:
            for who in (person, other):
                inbound = (
                    (
                        await session.execute(
                            select(Message.text)
                            .join(InboxUpdate, InboxUpdate.update_id == Message.update_id)
                            .where(Message.direction == "in", InboxUpdate.chat_key == key(first, who))
                            .order_by(Message.id)
                        )
                    )
                    .scalars()
                    .all()
                )
                assert [t for t in inbound if t in texts] == texts  # once each, in the order sent
    finally:
        await first.stop()
        await second.stop()


async def test_an_erasure_early_in_a_batch_leaves_nothing_of_the_later_turns(app: Homeward, fake: FakeBotApi) -> None:
    leaving, staying = Person(fake, 7400, "Drita", "sq"), Person(fake, 7401, "Marko", "sq")
    await onboarded(app, [leaving, staying])
    await run_all(app, [leaving.says(QUESTIONS[0]), staying.says(QUESTIONS[0])])
    secret = "Kam humbur letërnjoftimin, emri im është Drita Krasniqi"
    # /delete, its confirmation and one more message, all waiting together with someone else's turn.
    updates = [leaving.says("/delete"), leaving.presses("del:yes"), leaving.says(secret), staying.says(QUESTIONS[1])]
    await run_all(app, updates)
    async with app.db.sessions() as session:
        texts = (await session.execute(select(Message.text))).scalars().all()
        assert not any(t and ("Drita" in t or (t == QUESTIONS[0] and False)) for t in texts)
        assert secret not in texts and QUESTIONS[1] in texts  # the other person's turn is kept
        asked = (await session.execute(select(KbQuestion.text))).scalars().all()
        assert secret not in asked
        raws = (
            (await session.execute(select(InboxUpdate.raw).where(InboxUpdate.chat_key == key(app, leaving))))
            .scalars()
            .all()
        )
        assert raws and all(raw is None for raw in raws)  # not even the raw update of what came after


class _Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_turn_chosen_as_a_deadlock_victim_runs_again_and_the_person_gets_one_answer(
    app: Homeward, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = Person(fake, 7500, "Drita", "sq")
    await onboarded(app, [person])
    original = faq.is_emergency
    raised = []

    def loses_a_race_once(text: str) -> bool:
        if not raised:  # PostgreSQL rolled the transaction back to break a deadlock with another one
            raised.append(True)
            raise DBAPIError("DELETE FROM messages", {}, _Deadlock("deadlock detected"))
        return original(text)

    monkeypatch.setattr(faq, "is_emergency", loses_a_race_once)
    [inbox_id] = await store(app, [person.says(QUESTIONS[0])])
    await app.engine.process(inbox_id)
    async with app.db.sessions() as session:
        row = await session.get(InboxUpdate, inbox_id)
        assert raised and row is not None and row.status == "done"
        asked = (await session.execute(select(KbQuestion.text).where(KbQuestion.text == QUESTIONS[0]))).scalars()
        assert list(asked) == [QUESTIONS[0]]  # the turn once, none of it lost or doubled
        texts = [p.get("text") or "" for p in (await session.execute(select(OutboxItem.payload))).scalars()]
        assert not any("Na vjen keq" in t for t in texts)  # no apology: the turn went through
