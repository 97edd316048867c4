"""Full-text search over transcripts, on the folded text, limited to the people the staff member may see.

Queries are folded like the stored text (`bot.text.fold`), so "licna karta" finds "лична карта"
and "shendetesi" finds "shëndetësi". Every word must occur; words of three letters or more also
match as prefixes ("kart" finds "karta" and "kartu"). SQLite answers
from the FTS5 index, PostgreSQL from the GIN index over `to_tsvector('simple', norm_text)`.
`Method.LIKE` is the plain scan the benchmark compares against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Integer, and_, column, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.text import words
from console.access import Staff
from db.models import Beneficiary, Conversation, Message
from db.search import FTS_TABLE, PG_COLUMN

LIMIT = 50
MAX_TERMS = 8
# On SQLite a caseworker limited to some municipalities sees their matches among the newest this many.
SCOPED_WINDOW = 20_000
RECENT_WINDOW = 5_000  # the newest messages a PostgreSQL search checks before using the GIN index


class Method(StrEnum):
    INDEX = "index"
    LIKE = "like"


@dataclass(frozen=True)
class Hit:
    message_id: int
    conversation_id: int
    text: str | None
    author: str
    direction: str
    created_at: datetime
    display_name: str | None
    municipality: str | None
    locale: str | None


def terms(query: str) -> list[str]:
    """The folded words of a query, without apostrophes (which both index syntaxes treat specially)."""
    found = []
    for word in words(query):
        word = word.replace("'", "").replace("’", "")
        if word and word not in found:
            found.append(word)
    return found[:MAX_TERMS]


def fts5_query(found: list[str]) -> str:
    return " AND ".join(f'"{w}"*' if len(w) >= 3 else f'"{w}"' for w in found)


def tsquery(found: list[str]) -> str:
    return " & ".join(f"{w}:*" if len(w) >= 3 else w for w in found)


def _matches(found: list[str], method: Method, is_sqlite: bool, newest: int) -> ColumnElement[bool]:
    if method is Method.LIKE:
        return and_(*(Message.norm_text.like(f"%{w}%") for w in found))
    if is_sqlite:
        # FTS5 walks its matches newest first and stops after `newest`, however common the words.
        ids = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts ORDER BY rowid DESC LIMIT :newest")
        matching = ids.bindparams(fts=fts5_query(found), newest=newest).columns(rowid=Integer).subquery()
        return Message.id.in_(select(column("rowid", Integer)).select_from(matching))
    return literal_column(f"messages.{PG_COLUMN}").op("@@")(func.to_tsquery(literal_column("'simple'"), tsquery(found)))


async def search(
    session: AsyncSession,
    staff: Staff,
    query: str,
    *,
    is_sqlite: bool,
    method: Method = Method.INDEX,
    limit: int = LIMIT,
) -> list[Hit]:
    """The newest matching messages first.

    On PostgreSQL the newest RECENT_WINDOW messages are checked first (cheap with the stored vector,
    and enough for common words); only if that gives less than a page does the GIN index collect
    every match. The planner cannot tell the two cases apart from its estimates alone.
    """
    found = terms(query)
    if not found:
        return []
    window = SCOPED_WINDOW if staff.municipalities else limit
    base = (
        select(
            Message.id,
            Message.conversation_id,
            Message.text,
            Message.author,
            Message.direction,
            Message.created_at,
            Beneficiary.display_name,
            Beneficiary.municipality,
            Beneficiary.locale,
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
        .where(_matches(found, method, is_sqlite, window), staff.scope())
        .limit(limit)
    )
    if is_sqlite or method is Method.LIKE:
        return [Hit(*row) for row in (await session.execute(base.order_by(Message.id.desc()))).all()]
    newest = select(func.max(Message.id)).scalar_subquery()
    recent_only = base.where(Message.id > newest - RECENT_WINDOW)
    recent = await session.execute(recent_only.order_by(Message.id.desc()))
    hits = [Hit(*row) for row in recent.all()]
    if len(hits) == limit:
        return hits
    # "+ 0" keeps the planner from walking the primary key backwards: the GIN index finds every match.
    every = await session.execute(base.order_by((Message.id + 0).desc()))
    return [Hit(*row) for row in every.all()]
