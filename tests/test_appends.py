"""Appended rows (transcript lines, outbox rows, questions): ids at once, written together, never half-kept."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Homeward
from bot.config import Settings
from bot.text import fold
from console.access import Staff
from console.search import search
from db.models import FormVersion, Message, OutboxItem
from db.session import Database, append
from tests.console_support import person_with_transcript

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ADMIN = Staff(id=1, name="ada", role="admin", municipalities=(), locale=None, csrf="", session_id="")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Homeward]:
    """Homeward not started: nothing sends or changes the rows these tests write."""
    homeward = Homeward(settings)
    yield homeward
    await homeward.stop()


@pytest.fixture
def db(app: Homeward) -> Database:
    return app.db


async def conversation(app: Homeward) -> int:
    return await person_with_transcript(app, municipality=None, texts=[])


async def line(session: AsyncSession, conversation_id: int, words: str) -> int:
    values = {"direction": "in", "author": "person", "kind": "text", "status": "received", "created_at": NOW}
    return await append(session, Message, {"conversation_id": conversation_id, "text": words, **values})


async def texts(db: Database) -> list[tuple[int, str | None]]:
    async with db.sessions() as session:
        return [tuple(row) for row in (await session.execute(select(Message.id, Message.text).order_by(Message.id)))]  # type: ignore[misc]


async def test_appended_rows_have_their_ids_at_once_are_seen_by_the_transaction_and_point_at_each_other(
    app: Homeward, db: Database
) -> None:
    talk = await conversation(app)
    async with db.transaction() as session:
        first = await line(session, talk, "Përshëndetje")
        second = await line(session, talk, "Здраво")
        outbox = await append(
            session,
            OutboxItem,
            {
                "channel": "telegram",
                "chat_id": "1",
                "message_id": second,
                "method": "sendMessage",
                "payload": {"text": "Здраво"},
                "status": "pending",
                "next_attempt_at": NOW,
                "created_at": NOW,
            },
        )
        assert first < second
        # Seen by the transaction's own next statement, and written with the outbox row after its line.
        seen = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
        assert seen == 2
        third = await line(session, talk, "Faleminderit")
    assert await texts(db) == [(first, "Përshëndetje"), (second, "Здраво"), (third, "Faleminderit")]
    async with db.sessions() as session:
        row = await session.get(OutboxItem, outbox)
        assert row is not None and row.message_id == second and row.lane == 0 and row.attempts == 0


async def test_a_rolled_back_transaction_takes_its_appended_rows_with_it_and_the_next_one_starts_afresh(
    app: Homeward, db: Database
) -> None:
    talk = await conversation(app)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await line(session, talk, "lost with the rollback")
            raise RuntimeError("a turn failed")
    async with db.transaction() as session:
        kept = await line(session, talk, "kept")
    assert [words for _, words in await texts(db)] == ["kept"]
    assert kept >= 1


async def test_a_savepoint_that_rolls_back_does_not_take_earlier_appended_rows_with_it(
    app: Homeward, db: Database
) -> None:
    talk = await conversation(app)
    async with db.transaction() as session:
        session.add(FormVersion(form_id="f", sha256="a" * 64, created_at=NOW))
        await session.flush()
    async with db.transaction() as session:
        before = await line(session, talk, "before the savepoint")
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                # Written as the savepoint began: its statements see the row, and its rollback keeps it.
                seen = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
                assert seen == 1
                with pytest.raises(RuntimeError, match="savepoint"):
                    await line(session, talk, "inside the savepoint")  # refused: a rollback could not take it
                session.add(FormVersion(form_id="f", sha256="a" * 64, created_at=NOW))  # taken: rolls back
        after = await line(session, talk, "after the savepoint")
    assert await texts(db) == [(before, "before the savepoint"), (after, "after the savepoint")]


async def test_committing_with_a_savepoint_open_keeps_rows_appended_before_it(app: Homeward, db: Database) -> None:
    talk = await conversation(app)
    async with db.sessions() as session:
        kept = await line(session, talk, "before the savepoint")
        await session.begin_nested()
        await session.commit()  # commits the savepoint and the transaction around it
    assert await texts(db) == [(kept, "before the savepoint")]


async def test_rows_are_written_parents_first_whatever_order_they_were_appended_in(app: Homeward, db: Database) -> None:
    talk = await conversation(app)
    outbox = {"channel": "telegram", "chat_id": "1", "method": "sendMessage", "status": "pending"}
    async with db.transaction() as session:
        # As in a batch: an earlier turn's line and outbox row, written before a statement of a later turn...
        earlier = await line(session, talk, "Përshëndetje")
        await append(
            session,
            OutboxItem,
            {**outbox, "message_id": earlier, "payload": {}, "next_attempt_at": NOW, "created_at": NOW},
        )
        await session.execute(select(func.count()).select_from(Message))
        # ...then a button answer (an outbox row without a line), then a line and its outbox row.
        await append(session, OutboxItem, {**outbox, "payload": {}, "next_attempt_at": NOW, "created_at": NOW})
        reply = await line(session, talk, "Mirë se erdhët")
        await append(
            session,
            OutboxItem,
            {
                **outbox,
                "message_id": reply,
                "payload": {"text": "Mirë se erdhët"},
                "next_attempt_at": NOW,
                "created_at": NOW,
            },
        )
    async with db.sessions() as session:
        pointing = (await session.execute(select(OutboxItem.message_id).order_by(OutboxItem.id))).scalars().all()
    assert pointing == [earlier, None, reply]


async def test_an_orm_row_flushed_on_its_own_may_point_at_an_appended_row(app: Homeward, db: Database) -> None:
    talk = await conversation(app)
    async with db.transaction() as session:
        said = await line(session, talk, "Faleminderit")
        row = OutboxItem(
            channel="telegram",
            chat_id="1",
            message_id=said,
            method="sendMessage",
            payload={"text": "Faleminderit"},
            status="pending",
            next_attempt_at=NOW,
            created_at=NOW,
        )
        session.add(row)
        await session.flush()  # an explicit flush, no statement: the line it points at goes in first
        assert row.id is not None
    async with db.sessions() as session:
        assert (await session.get(OutboxItem, row.id)) is not None


async def test_rows_that_fail_to_write_leave_the_transaction_only_a_rollback(app: Homeward, db: Database) -> None:
    talk = await conversation(app)
    with pytest.raises(RuntimeError, match="can only roll back"):  # the commit refuses
        async with db.transaction() as session:
            await line(session, talk, "kept only if everything is")
            await append(
                session,
                Message,
                {
                    "conversation_id": talk + 1000,
                    "direction": "in",
                    "author": "person",
                    "kind": "text",
                    "text": "no such conversation",
                    "status": "received",
                    "created_at": NOW,
                },
            )
            with suppress(IntegrityError):  # a caller that swallows the error cannot commit half the rows
                await session.execute(select(func.count()).select_from(Message))
    assert await texts(db) == []


async def test_sqlite_no_other_process_writes_between_handing_out_ids_and_writing_the_rows(
    app: Homeward, db: Database, database_url: str
) -> None:
    if not db.is_sqlite:
        pytest.skip("PostgreSQL hands ids out from the table's sequence, shared by every process")
    talk = await conversation(app)
    path = database_url.split("///", 1)[1]
    other = sqlite3.connect(path, timeout=0)  # another process, e.g. a command-line run beside `homeward serve`
    try:
        async with db.transaction() as session:
            mine = await line(session, talk, "mine")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute(
                    "INSERT INTO messages (conversation_id, direction, author, kind, text, status, created_at) "
                    f"VALUES ({talk}, 'in', 'person', 'text', 'theirs', 'received', '2026-11-28 09:00:00')"
                )
        other.rollback()
        other.execute(
            "INSERT INTO messages (conversation_id, direction, author, kind, text, status, created_at) "
            f"VALUES ({talk}, 'in', 'person', 'text', 'theirs', 'received', '2026-11-28 09:00:00')"
        )
        other.commit()
    finally:
        other.close()
    assert await texts(db) == [(mine, "mine"), (mine + 1, "theirs")]


async def test_sessions_appending_at_once_and_orm_rows_never_share_an_id(app: Homeward, db: Database) -> None:
    talk = await conversation(app)

    async def writer(n: int) -> list[int]:
        ids = []
        async with db.transaction() as session:
            for k in range(40):  # more than one block of ids on PostgreSQL
                ids.append(await line(session, talk, f"{n}-{k}"))
                if k % 10 == 0:
                    orm = Message(
                        conversation_id=talk,
                        direction="out",
                        author="bot",
                        kind="text",
                        text=f"orm {n}-{k}",
                        status="queued",
                        created_at=NOW,
                    )
                    session.add(orm)
                    await session.flush()
                    ids.append(orm.id)
                await asyncio.sleep(0)
        return ids

    results = await asyncio.gather(*(writer(n) for n in range(3)))
    handed_out = [i for ids in results for i in ids]
    stored = await texts(db)
    assert len(stored) == len(handed_out) == 3 * 44
    assert sorted(handed_out) == [i for i, _ in stored]  # every id once, each row under the id it was given
    for n, ids in enumerate(results):
        assert ids == sorted(ids)  # one transaction's rows in the order it added them
        async with db.sessions() as session:
            mine = (
                await session.execute(select(Message.text).where(Message.id.in_(ids)).order_by(Message.id))
            ).scalars()
            assert [t for t in mine if not t.startswith("orm")] == [f"{n}-{k}" for k in range(40)]


async def test_an_erasure_later_in_the_transaction_removes_rows_appended_earlier(app: Homeward, db: Database) -> None:
    talk = await conversation(app)
    async with db.transaction() as session:
        await line(session, talk, "emri im është Drita")
        await session.execute(text("DELETE FROM messages WHERE conversation_id = :c"), {"c": talk})
    assert await texts(db) == []


async def test_what_a_transaction_kept_on_its_session_is_freed_when_it_ends_without_the_collector(
    app: Homeward, db: Database
) -> None:
    """A batch of turns keeps its people, conversations and decoded updates on the session, which sits
    in reference cycles: they must be let go at the end, not left for the cyclic garbage collector."""

    class Kept:
        pass

    for fails in (False, True):
        kept = Kept()
        gone = weakref.ref(kept)
        gc.disable()
        try:
            with suppress(RuntimeError):
                async with db.transaction() as session:
                    session.info["people"] = {"ref": kept}
                    await session.execute(select(func.count()).select_from(Message))
                    if fails:
                        raise RuntimeError("a turn failed")
            del kept
            assert gone() is None, "still held after the transaction ended" + (" in failure" if fails else "")
        finally:
            gc.enable()


async def test_lines_appended_together_go_in_as_one_statement_on_sqlite_and_are_all_searchable(
    app: Homeward, db: Database
) -> None:
    # Row by row, each insert was a statement of its own, and FTS5 wrote out its words at each one;
    # on SQLite the batch is one multi-row INSERT.
    talk = await conversation(app)
    seen: list[tuple[str, object]] = []

    def count(conn: object, cursor: object, statement: str, parameters: object, *args: object) -> None:
        if statement.startswith("INSERT INTO messages"):
            seen.append((statement, parameters))

    said = ("letërnjoftimi", "pasaporta", "лична карта")
    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with db.transaction() as session:
            for words in said:
                values = {
                    "direction": "in",
                    "author": "person",
                    "kind": "text",
                    "status": "received",
                    "created_at": NOW,
                }
                await append(
                    session, Message, {"conversation_id": talk, "text": words, "norm_text": fold(words), **values}
                )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    if db.is_sqlite:
        [(statement, parameters)] = seen
        rows = statement.split(" VALUES ", 1)[1]
        assert rows.count("(") == 3 and isinstance(parameters, tuple) and len(parameters) == 3 * rows.count("?") // 3
    async with db.sessions() as session:
        for word in ("leternjoftimi", "pasaporta", "karta"):
            assert [h.text for h in await search(session, ADMIN, word, is_sqlite=db.is_sqlite)] != [], word
