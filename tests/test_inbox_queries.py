"""The inbox's queries: a few statements whatever the number of filters, each read down an index (never a
whole scan of the transcripts), and counts that are right whichever way they are counted."""

from __future__ import annotations

import html
import random
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

import console.followups  # noqa: F401  (registers "follow-up due", as the console does)
from bot import ownership
from bot.app import Homeward
from console import inbox
from console.access import Staff
from db.models import Beneficiary, Conversation, FollowupContact, Message
from db.session import Database
from tests.console_support import add_staff, client, sign_in

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PLACES = ["Prizren", "Pejë", "Gjakovë", "Ferizaj"]
ADMIN = Staff(id=1, name="ada", role="admin", municipalities=(), locale="en", csrf="", session_id="")
PRIZREN = Staff(id=2, name="amra", role="caseworker", municipalities=("Prizren",), locale="en", csrf="", session_id="")
VIEWS = [
    *((ADMIN, inbox.Query(key)) for key in inbox.FILTERS),
    (ADMIN, inbox.Query("open", page=2)),
    (ADMIN, inbox.Query("open", municipality="Prizren")),
    (ADMIN, inbox.Query("pending", app="viber", locale="sr-Cyrl")),
    *((PRIZREN, inbox.Query(key)) for key in inbox.FILTERS),
]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """240 people in four places and four apps, in every status, with 1,200 lines of transcript."""
    rng = random.Random(3)
    people, conversations, messages, contacts = [], [], [], []
    for i in range(1, 241):
        channel = ["telegram", "whatsapp", "viber", "web"][i % 4]
        people.append(
            {
                "id": i,
                "channel": channel,
                "channel_ref": f"ref{i}",
                "display_name": f"Person {i}",
                "locale": ["sq", "sr-Cyrl", "sr-Latn"][i % 3],
                "consent": "pending" if channel == "web" and i % 8 == 3 else "given",
                "municipality": PLACES[i % 4 if i % 5 else 0],
                "opted_out": False,
                "blocked": False,
                "created_at": NOW,
            }
        )
        mode = [ownership.BOT, ownership.HUMAN, ownership.CLOSED][i % 3]
        status = ownership.OPEN if mode == ownership.CLOSED else ["open", "open", "pending", "snoozed"][i % 4]
        if i == 43:
            status = ownership.OPEN  # its danger message woke it
        conversations.append(
            {
                "id": i,
                "beneficiary_id": i,
                "mode": mode,
                "state": {},
                "urgent": i % 11 == 0,
                # 43: a web visitor yet to consent who wrote a danger message, then lost the urgent flag (as 99
                # and 187 have it still): shown and counted like anyone else
                "needs_human": mode == ownership.HUMAN and (i % 2 == 0 or i == 43),
                "assignee_id": [None, None, 1, 2][i % 4],
                "labels": [],
                "created_at": NOW,
                "updated_at": NOW,
                "last_message_at": None if i % 40 == 0 else NOW - timedelta(minutes=rng.randint(1, 5000)),
                "status": status,
                # far ahead: the application's own waker must not open them while a test reads
                "snoozed_until": NOW + timedelta(days=36500) if status == ownership.SNOOZED else None,
            }
        )
        if i % 3 == 0:
            contacts.append(
                {
                    "beneficiary_id": i,
                    "wave": 1,
                    "months": 3,
                    "due_at": NOW,
                    "expires_at": NOW + timedelta(days=30),
                    "reminders": [],
                    "status": "sent" if i % 2 else "answered",
                    "updated_at": NOW,
                }
            )
    for n in range(1, 1201):
        inbound = rng.random() < 0.5
        messages.append(
            {
                "id": n,
                "conversation_id": rng.randint(1, 240),
                "direction": "in" if inbound else "out",
                "author": "person" if inbound else "bot",
                "kind": "text",
                "text": f"line {n}",
                "norm_text": f"line {n}",
                "status": "received" if inbound else "sent",
                "created_at": NOW,
            }
        )
    database = Database(database_url)
    async with database.engine.begin() as conn:
        for table, rows in (
            (Beneficiary, people),
            (Conversation, conversations),
            (Message, messages),
            (FollowupContact, contacts),
        ):
            await conn.execute(insert(table), rows)
    yield database
    await database.dispose()


@contextmanager
def statements(database: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every statement sent to the database meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def _plan(session: AsyncSession, database: Database, statement: str, parameters: Any) -> str:
    conn = await session.connection()
    if database.is_sqlite:
        rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(str(r[-1]) for r in rows)
    # The tables here are tiny, so PostgreSQL would rightly read them whole; forbidding that shows
    # whether an index could serve the query (a query no index serves still gets its scan).
    await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
    return "\n".join(str(r[0]) for r in rows)


def _whole_scans(plan: str, sqlite: bool) -> list[str]:
    if sqlite:  # "SCAN messages" reads the table; "SCAN x USING INDEX" walks an index in order, stopping early
        return [line for line in plan.splitlines() if "SCAN" in line and "USING" not in line]
    return [line for line in plan.splitlines() if "Seq Scan" in line]


async def test_every_view_takes_a_few_statements_and_no_whole_scan_of_the_transcripts(db: Database) -> None:
    for staff, query in VIEWS:
        async with db.sessions() as session:
            with statements(db) as seen:
                await inbox.load(session, staff, query)
            # the page, its last lines, how many people are in view (or web visitors yet to consent), the counts
            assert len(seen) == 4, (query, [s for s, _ in seen])
            for statement, parameters in seen:
                plan = await _plan(session, db, statement, parameters)
                scans = _whole_scans(plan, db.is_sqlite)
                assert not [s for s in scans if "messages" in s], (query, statement, plan)
                assert not [s for s in scans if "conversations" in s], (query, statement, plan)
            await session.rollback()


def _expected(staff: Staff, query: inbox.Query, rows: list[tuple[Conversation, Beneficiary, bool]]) -> dict[str, int]:
    """The counts, worked out in Python from the rows themselves."""

    def awake(c: Conversation) -> bool:
        return c.status != ownership.SNOOZED or c.urgent

    def in_view(c: Conversation, b: Beneficiary) -> bool:
        return (
            staff.sees(b)
            and (b.channel != "web" or b.consent == "given" or c.urgent or c.needs_human)
            and (not query.municipality or b.municipality == query.municipality)
            and (not query.locale or b.locale == query.locale)
            and (not query.app or b.channel == query.app)
        )

    tests = {
        "open": lambda c, due: c.mode != ownership.CLOSED and c.status == ownership.OPEN,
        "needs_human": lambda c, due: c.needs_human and awake(c),
        "urgent": lambda c, due: c.urgent,
        "mine": lambda c, due: c.assignee_id == staff.id and awake(c),
        "unassigned": lambda c, due: c.assignee_id is None and c.mode != ownership.CLOSED and awake(c),
        "pending": lambda c, due: c.mode != ownership.CLOSED and c.status == ownership.PENDING,
        "snoozed": lambda c, due: c.mode != ownership.CLOSED and c.status == ownership.SNOOZED,
        "followup_due": lambda c, due: due,
        "closed": lambda c, due: c.mode == ownership.CLOSED,
    }
    assert set(tests) == set(inbox.FILTERS)
    return {
        key: min(inbox.COUNT_CAP, sum(1 for c, b, due in rows if in_view(c, b) and test(c, due)))
        for key, test in tests.items()
    }


async def test_counts_are_the_same_whichever_way_they_are_counted(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.sessions() as session:
        due = set(
            (
                await session.execute(select(FollowupContact.beneficiary_id).where(FollowupContact.status == "sent"))
            ).scalars()
        )
        rows = [
            (c, b, b.id in due)
            for c, b in (await session.execute(select(Conversation, Beneficiary).join(Beneficiary))).all()
        ]
    queries = [
        (ADMIN, inbox.Query()),
        (ADMIN, inbox.Query(municipality="Prizren")),
        (ADMIN, inbox.Query(app="web")),
        (ADMIN, inbox.Query(locale="sr-Cyrl", app="viber")),
        (PRIZREN, inbox.Query()),
        (PRIZREN, inbox.Query(app="whatsapp")),
    ]
    for staff, query in queries:
        expected = _expected(staff, query, rows)
        assert any(expected.values())
        found = []
        # each filter on its own (leaving out web visitors yet to consent as a set, or person by person), then
        # all in one pass
        for one_pass_under, hidden_set_under in ((0, 1_000_000), (0, 0), (1_000_000, 0)):
            monkeypatch.setattr(inbox, "ONE_PASS_UNDER", one_pass_under)
            monkeypatch.setattr(inbox, "HIDDEN_SET_UNDER", hidden_set_under)
            async with db.sessions() as session:
                found.append(await inbox.counts(session, staff, query))
        assert found == [expected] * 3, (staff.name, query)
    monkeypatch.setattr(inbox, "COUNT_CAP", 5)
    for one_pass_under in (0, 1_000_000):
        monkeypatch.setattr(inbox, "ONE_PASS_UNDER", one_pass_under)
        async with db.sessions() as session:
            capped = await inbox.counts(session, ADMIN, inbox.Query())
        assert max(capped.values()) == 5


async def test_a_web_visitor_yet_to_consent_shows_only_when_urgent_or_waiting_whichever_way_the_page_is_read(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 99 and 187 are urgent (and snoozed), 43 waits for a caseworker, 3, 19 and 35 are neither: all web visitors
    # yet to consent.
    for one_pass_under, by_index_from, hidden_set_under in ((0, 0, 1_000_000), (0, 0, 0), (1_000_000, 1_000_000, 0)):
        monkeypatch.setattr(inbox, "ONE_PASS_UNDER", one_pass_under)
        monkeypatch.setattr(inbox, "PAGE_BY_INDEX_FROM", by_index_from)
        monkeypatch.setattr(inbox, "HIDDEN_SET_UNDER", hidden_set_under)
        shown: dict[str, set[int]] = {}
        for view in ("urgent", "needs_human", "open", "snoozed", "closed"):
            async with db.sessions() as session:
                for query in (inbox.Query(view), inbox.Query(view, app="web")):
                    rows = (await inbox.load(session, ADMIN, query)).rows
                    shown.setdefault(view, set()).update(r.conversation_id for r in rows)
        assert {99, 187} <= shown["urgent"] and 43 in shown["needs_human"], one_pass_under
        assert 43 in shown["open"] and {99, 187} <= shown["snoozed"]
        assert not {3, 19, 35} & set().union(*shown.values())


async def test_each_row_shows_the_last_line_of_its_conversation(db: Database) -> None:
    async with db.sessions() as session:
        found = await inbox.load(session, ADMIN, inbox.Query("open"))
        assert found.rows
        for row in found.rows:
            newest = (
                await session.execute(
                    select(Message.text)
                    .where(Message.conversation_id == row.conversation_id)
                    .order_by(Message.id.desc())
                    .limit(1)
                )
            ).scalar()
            assert row.preview == newest
        assert any(row.preview for row in found.rows) and [r.last_message_at for r in found.rows] == sorted(
            (r.last_message_at for r in found.rows), reverse=True
        )


@pytest.mark.parametrize("page_by_index_from", [0, 1_000_000])  # down the filter's index, or from the people
async def test_older_and_newer_read_on_from_the_rows_shown_without_losing_or_repeating_one(
    db: Database, monkeypatch: pytest.MonkeyPatch, page_by_index_from: int
) -> None:
    monkeypatch.setattr(inbox, "PAGE", 7)
    monkeypatch.setattr(inbox, "PAGE_BY_INDEX_FROM", page_by_index_from)
    for staff, view in ((ADMIN, "open"), (ADMIN, "closed"), (PRIZREN, "unassigned")):
        async with db.sessions() as session:
            every = [
                cid
                for cid, _ in (
                    await session.execute(
                        _narrowed_ids(staff, view).order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
                    )
                ).all()
            ]
            assert len(every) > 14
            pages = [await inbox.load(session, staff, inbox.Query(view))]
            while pages[-1].has_more:
                cursor = inbox.Cursor.parse(pages[-1].older)
                pages.append(await inbox.load(session, staff, inbox.Query(view, before=cursor)))
            assert [r.conversation_id for p in pages for r in p.rows] == every
            assert [p.has_newer for p in pages] == [False] + [True] * (len(pages) - 1)
            assert all(len(p.rows) == 7 for p in pages[:-1])
            # back up again from the last page: the rows just newer each time, then the newest page, full
            back = [pages[-1]]
            while back[-1].has_newer:
                first = every.index(back[-1].rows[0].conversation_id)
                cursor = inbox.Cursor.parse(back[-1].newer)
                back.append(await inbox.load(session, staff, inbox.Query(view, after=cursor)))
                newer = every[first - 7 : first] if first > 7 else every[:7]
                assert [r.conversation_id for r in back[-1].rows] == newer
                assert back[-1].has_more
            assert [r.conversation_id for r in back[-1].rows] == every[:7] and len(back) > 2


def _narrowed_ids(staff: Staff, view: str) -> Any:
    query = select(Conversation.id, Conversation.last_message_at).join(Beneficiary)
    query = query.where(inbox.FILTERS[view].condition(staff), Conversation.last_message_at.is_not(None))
    return inbox._narrowed(query, staff, inbox.Query(view))


@pytest.mark.parametrize("token", ["", "x", "12_", "_4", "99999999999999999999_1", "-5_3", "1.5_2"])
def test_a_cursor_that_is_not_one_starts_from_the_newest(token: str) -> None:
    assert inbox.Cursor.parse(token) is None


def test_a_cursor_reads_back_as_it_was_written() -> None:
    cursor = inbox.Cursor(datetime(2026, 11, 1, 9, 30, 12, 345678, tzinfo=UTC), 4711)
    assert inbox.Cursor.parse(cursor.token()) == cursor


async def test_the_inbox_page_links_older_and_newer_by_cursor(
    db: Database, homeward: Homeward, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "PAGE", 5)
    await add_staff(homeward, "ada", "admin")
    async with client(homeward) as http:
        await sign_in(http, "ada")
        first = await http.get("/inbox", params={"view": "open"})
        older = re.search(r'href="(/inbox\?[^"]*before=[0-9]+_[0-9]+)">', first.text)
        assert older is not None and "after=" not in first.text
        second = await http.get(html.unescape(older.group(1)))
        newer = re.search(r'href="(/inbox\?[^"]*after=[0-9]+_[0-9]+)">', second.text)
        assert second.status_code == 200 and newer is not None
        again = await http.get(html.unescape(newer.group(1)))
        rows = re.compile(r'href="/conversations/(\d+)"')
        assert rows.findall(again.text) == rows.findall(first.text) != rows.findall(second.text)
        assert (await http.get("/inbox", params={"view": "open", "before": "nonsense"})).status_code == 200


async def test_postgresql_connections_never_compile_queries_to_machine_code(db: Database) -> None:
    # A JIT compilation took about 20 ms, longer than the inbox's queries themselves; see db.session.
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite has no JIT")
    async with db.sessions() as session:
        assert (await session.execute(text("SHOW jit"))).scalar_one() == "off"
