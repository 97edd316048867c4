"""Canned replies: prepared answers in Albanian and Serbian, offered in the person's language and script."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.text import cyrillic_to_latin
from console import audit
from console.access import Staff
from console.conversations import Refused
from db.staff import CannedReply


def text_for(reply: CannedReply, locale: str | None) -> str:
    """The reply in a person's locale: Albanian, Serbian Cyrillic, or Serbian Latin derived from it."""
    if locale == "sr-Cyrl":
        return reply.text_sr
    if locale == "sr-Latn":
        return cyrillic_to_latin(reply.text_sr)
    return reply.text_sq


async def all_replies(session: AsyncSession) -> list[CannedReply]:
    return list((await session.execute(select(CannedReply).order_by(CannedReply.position, CannedReply.id))).scalars())


async def add(session: AsyncSession, staff: Staff, title: str, text_sq: str, text_sr: str, now: datetime) -> None:
    title, text_sq, text_sr = title.strip()[:120], text_sq.strip(), text_sr.strip()
    if not (title and text_sq and text_sr):
        raise Refused("canned")
    reply = CannedReply(
        title=title, text_sq=text_sq, text_sr=text_sr, created_by=staff.name, created_at=now, position=0
    )
    session.add(reply)
    await session.flush()
    audit.record(session, actor=staff.actor, action="canned.add", now=now, target=f"canned:{reply.id}")


async def remove(session: AsyncSession, staff: Staff, reply_id: int, now: datetime) -> None:
    reply = await session.get(CannedReply, reply_id)
    if reply is not None:
        await session.delete(reply)
        audit.record(
            session,
            actor=staff.actor,
            action="canned.remove",
            now=now,
            target=f"canned:{reply_id}",
            detail={"title": reply.title},
        )
