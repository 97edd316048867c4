"""Transcript search folds like the stored text, uses the full-text index, and agrees with a plain scan."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from bot.app import Homeward
from bot.events import Reply
from bot.outbox import queue_reply
from console.access import Staff
from console.search import Method, fts5_query, search, terms, tsquery
from db.models import Beneficiary, Conversation, Message
from tests.console_support import person_with_transcript

ADMIN = Staff(id=1, name="ada", role="admin", municipalities=(), locale=None, csrf="", session_id="")
PRIZREN = Staff(id=2, name="amra", role="caseworker", municipalities=("Prizren",), locale=None, csrf="", session_id="")


def test_queries_are_folded_into_safe_index_syntax() -> None:
    assert terms("Лична КАРТА, lična karta!") == ["licna", "karta"]
    assert terms('shëndetësi" OR x*') == ["shendetesi", "or", "x"]
    assert fts5_query(["licna", "or", "x"]) == '"licna"* AND "or" AND "x"'
    assert tsquery(["licna", "or"]) == "licna:* & or"
    assert terms("'; DROP TABLE messages; --") == ["drop", "table", "messages"]


@pytest.mark.parametrize("method", [Method.INDEX, Method.LIKE])
async def test_search_finds_across_scripts_and_diacritics(homeward: Homeward, method: Method) -> None:
    cid = await person_with_transcript(
        homeward,
        municipality="Prizren",
        chat_id="801",
        texts=[
            "Где могу да извадим личну карту?",
            "Kam nevojë për shëndetësi",
            "Đak u školi",
            "Лична карта ми је истекла",
        ],
    )
    other = await person_with_transcript(
        homeward, municipality="Pejë", chat_id="802", name="Besa", texts=["Lična karta je izgubljena"]
    )
    sqlite = homeward.db.is_sqlite
    async with homeward.db.sessions() as session:
        found = await search(session, ADMIN, "licna karta", is_sqlite=sqlite, method=method)
        assert [h.text for h in found] == ["Lična karta je izgubljena", "Лична карта ми је истекла"]
        found = await search(session, ADMIN, "lichn", is_sqlite=sqlite, method=method)
        assert found == []
        found = await search(session, ADMIN, "licn kart", is_sqlite=sqlite, method=method)
        assert len(found) == 3 and {h.conversation_id for h in found} == {cid, other}  # "личну карту" too
        found = await search(session, ADMIN, "shendetesi", is_sqlite=sqlite, method=method)
        assert [h.text for h in found] == ["Kam nevojë për shëndetësi"]
        found = await search(session, ADMIN, "ЂАК", is_sqlite=sqlite, method=method)
        assert [h.text for h in found] == ["Đak u školi"]
        scoped = await search(session, PRIZREN, "licn kart", is_sqlite=sqlite, method=method)
        assert {h.conversation_id for h in scoped} == {cid}
        assert await search(session, ADMIN, "  ", is_sqlite=sqlite, method=method) == []


async def test_the_index_follows_deleted_and_new_messages(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality=None, texts=["socijalna pomoć"])
    async with homeward.db.transaction() as session:
        await session.execute(delete(Message).where(Message.conversation_id == cid))
    async with homeward.db.sessions() as session:
        assert await search(session, ADMIN, "socijalna", is_sqlite=homeward.db.is_sqlite) == []
    await person_with_transcript(homeward, municipality=None, chat_id="803", name="Dren", texts=["ndihmë sociale"])
    async with homeward.db.sessions() as session:
        hits = await search(session, ADMIN, "ndihme", is_sqlite=homeward.db.is_sqlite)
    assert [h.display_name for h in hits] == ["Dren"]


async def test_the_bots_own_answers_are_not_searched_and_a_caseworkers_are(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality=None, texts=["Ku merret pasaporta?"])
    now = homeward.clock.now()
    async with homeward.db.transaction() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None
        person = await session.get(Beneficiary, conversation.beneficiary_id)
        assert person is not None
        for author, said in (("bot", "Pasaporta merret në zyrën e gjendjes civile."), ("staff:amra", "Ejani në zyrë.")):
            await queue_reply(
                session,
                person=person,
                conversation=conversation,
                chat_id="900",
                reply=Reply(said),
                now=now,
                author=author,
            )
    async with homeward.db.sessions() as session:
        asked = await search(session, ADMIN, "pasaporta", is_sqlite=homeward.db.is_sqlite)
        answered = await search(session, ADMIN, "gjendjes", is_sqlite=homeward.db.is_sqlite)
        replied = await search(session, ADMIN, "zyre", is_sqlite=homeward.db.is_sqlite)
    assert [h.author for h in asked] == ["person"]
    assert answered == []  # catalog text, the same for everyone: it would match every transcript
    assert [h.author for h in replied] == ["staff:amra"]
