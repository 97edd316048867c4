"""The knowledge base as the content team reviews it: unanswered and unsure questions, answers people
marked as not helpful, answers given with a low margin, and feedback per topic.

An answer's margin is how far its topic led the runner-up (best score / runner-up score), ranked
again with the current content: a low margin is an answer that could easily have been wrong.

Questions are listed only from conversations the staff member may see. People who declined
consent left no link and no words behind (their rows have no conversation): they appear only
as counts. What people typed is shown as text by the templates, never as markup. Reading the
questions is audited, as they are lines of transcripts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LOCALES
from console import audit
from console.access import Staff
from db.models import Beneficiary, Conversation, KbQuestion

LISTED = 100
REVIEWED = ("none", "unsure")
LOW_MARGIN = 1.6  # an answer whose topic led the runner-up by less than this factor is listed
MARGIN_CHECKED = 1000  # how many of the newest answered questions are ranked again for their margin


@dataclass(frozen=True)
class Question:
    id: int
    conversation_id: int
    locale: str
    text: str | None
    candidates: list[str]
    created_at: datetime
    topic: str | None = None
    margin: float | None = None


@dataclass(frozen=True)
class Feedback:
    topic: str
    helpful: int
    not_helpful: int


@dataclass(frozen=True)
class Review:
    unanswered: list[Question]
    unanswered_total: int
    unsure: list[Question]
    unsure_total: int
    feedback: list[Feedback]
    anonymous: dict[str, int]  # outcome → questions from people who declined consent
    unhelpful: list[Question] = field(default_factory=list)
    unhelpful_total: int = 0
    low_margin: list[Question] = field(default_factory=list)


def _scoped(staff: Staff) -> ColumnElement[bool]:
    """Questions from conversations with people this staff member may see."""
    if not (staff.role == "caseworker" and staff.municipalities):
        return KbQuestion.conversation_id.is_not(None)
    return KbQuestion.conversation_id.in_(
        select(Conversation.id).join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id).where(staff.scope())
    )


def _counted(staff: Staff) -> ColumnElement[bool]:
    """Rows counted in the feedback: an unlimited staff member counts everyone's, anonymous too."""
    return true() if not (staff.role == "caseworker" and staff.municipalities) else _scoped(staff)


async def _listed(
    session: AsyncSession, staff: Staff, outcome: str, extra: ColumnElement[bool] | None = None
) -> tuple[list[Question], int]:
    condition = and_(_scoped(staff), KbQuestion.outcome == outcome, extra if extra is not None else true())
    total = (await session.execute(select(func.count()).select_from(KbQuestion).where(condition))).scalar_one()
    rows = await session.execute(
        select(KbQuestion).where(condition).order_by(KbQuestion.created_at.desc(), KbQuestion.id.desc()).limit(LISTED)
    )
    questions = [
        Question(q.id, q.conversation_id or 0, q.locale, q.text, list(q.candidates or []), q.created_at, q.topic)
        for q in rows.scalars()
    ]
    return questions, int(total)


async def _low_margin(session: AsyncSession, staff: Staff, kb: Any) -> list[Question]:
    """The newest answers whose topic barely led the runner-up, ranked again with the current content.

    Ranked by their words alone: a thousand questions take a fraction of a second that way, and the
    lexical scores are what the margin was set on.
    """
    if kb is None:
        return []
    rows = await session.execute(
        select(KbQuestion)
        .where(_scoped(staff), KbQuestion.outcome == "answer", KbQuestion.text.is_not(None))
        .order_by(KbQuestion.created_at.desc(), KbQuestion.id.desc())
        .limit(MARGIN_CHECKED)
    )
    found: list[Question] = []
    for q in rows.scalars():
        ranked = kb.rank(q.text or "", "sq" if q.locale == "sq" else "sr", limit=2, lexical=True)
        if not ranked:
            continue
        runner_up = ranked[1] if len(ranked) > 1 else None
        margin = ranked[0][1] / runner_up[1] if runner_up and runner_up[1] > 0 else None
        if margin is not None and margin < LOW_MARGIN:
            found.append(
                Question(
                    q.id,
                    q.conversation_id or 0,
                    q.locale,
                    q.text,
                    [runner_up[0]] if runner_up else [],
                    q.created_at,
                    q.topic,
                    round(margin, 2),
                )
            )
            if len(found) >= LISTED:
                break
    return found


async def review(session: AsyncSession, staff: Staff, now: datetime, kb: Any = None) -> Review:
    unanswered, unanswered_total = await _listed(session, staff, "none")
    unsure, unsure_total = await _listed(session, staff, "unsure")
    unhelpful, unhelpful_total = await _listed(session, staff, "answer", KbQuestion.helpful.is_(False))
    low_margin = await _low_margin(session, staff, kb)
    feedback_rows = await session.execute(
        select(KbQuestion.topic, KbQuestion.helpful, func.count())
        .where(_counted(staff), KbQuestion.topic.is_not(None), KbQuestion.helpful.is_not(None))
        .group_by(KbQuestion.topic, KbQuestion.helpful)
    )
    votes: dict[str, list[int]] = {}
    for topic, helpful, n in feedback_rows.all():
        votes.setdefault(str(topic), [0, 0])[0 if helpful else 1] += n
    anonymous = dict(
        (
            await session.execute(
                select(KbQuestion.outcome, func.count())
                .where(KbQuestion.conversation_id.is_(None), KbQuestion.outcome.in_(REVIEWED))
                .group_by(KbQuestion.outcome)
            )
        ).all()
    )
    shown = [q.id for q in unanswered + unsure + unhelpful + low_margin]
    if shown:
        audit.record(session, actor=staff.actor, action="knowledge.read", now=now, detail={"questions": shown})
    return Review(
        unanswered,
        unanswered_total,
        unsure,
        unsure_total,
        sorted(
            (Feedback(topic, yes, no) for topic, (yes, no) in votes.items()),
            key=lambda f: (-(f.helpful + f.not_helpful), f.topic),
        ),
        {outcome: int(n) for outcome, n in anonymous.items()},
        unhelpful,
        unhelpful_total,
        low_margin,
    )


def titles(kb: Any, locale: str) -> Callable[[Iterable[str]], str]:
    """Topic ids as titles in the interface language, joined by commas (an id when the topic is gone)."""
    chosen = locale if locale in LOCALES else "sq"

    def title(topic_id: str) -> str:
        if kb is None or topic_id not in kb.topics:
            return topic_id
        return str(kb.topic(topic_id).title(chosen)) or topic_id

    return lambda topic_ids: ", ".join(title(topic_id) for topic_id in topic_ids)
