"""Aggregates for every role: how many people, in which language and municipality, and the queue.

No names and no text; groups smaller than `SMALL` are shown as "fewer than" so that a count
cannot single out a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import ownership
from db.models import Beneficiary, Conversation, Message

SMALL = 5


@dataclass(frozen=True)
class Figures:
    people: int
    consented: int
    by_locale: list[tuple[str, int | None]]
    by_municipality: list[tuple[str, int | None]]
    waiting: int
    urgent: int
    with_caseworker: int
    messages_week_in: int
    messages_week_out: int


def suppressed(count: int) -> int | None:
    """The count, or None when it is so small that it could point at a person."""
    return count if count >= SMALL else None


async def figures(session: AsyncSession, now: datetime) -> Figures:
    async def count(query: object) -> int:
        return int((await session.execute(query)).scalar_one())  # type: ignore[call-overload]

    people = await count(select(func.count()).select_from(Beneficiary))
    consented = await count(select(func.count()).select_from(Beneficiary).where(Beneficiary.consent == "given"))
    by_locale = [
        (loc or "", suppressed(n))
        for loc, n in (
            await session.execute(
                select(Beneficiary.locale, func.count())
                .where(Beneficiary.locale.is_not(None))
                .group_by(Beneficiary.locale)
                .order_by(Beneficiary.locale)
            )
        ).all()
    ]
    by_municipality = [
        (m or "", suppressed(n))
        for m, n in (
            await session.execute(
                select(Beneficiary.municipality, func.count())
                .where(Beneficiary.municipality.is_not(None))
                .group_by(Beneficiary.municipality)
                .order_by(Beneficiary.municipality)
            )
        ).all()
    ]
    week = now - timedelta(days=7)
    per_direction = dict(
        (
            await session.execute(
                select(Message.direction, func.count()).where(Message.created_at >= week).group_by(Message.direction)
            )
        ).all()
    )
    return Figures(
        people=people,
        consented=consented,
        by_locale=by_locale,
        by_municipality=by_municipality,
        waiting=await count(select(func.count()).select_from(Conversation).where(Conversation.needs_human.is_(True))),
        urgent=await count(select(func.count()).select_from(Conversation).where(Conversation.urgent.is_(True))),
        with_caseworker=await count(
            select(func.count()).select_from(Conversation).where(Conversation.mode == ownership.HUMAN)
        ),
        messages_week_in=per_direction.get("in", 0),
        messages_week_out=per_direction.get("out", 0),
    )
