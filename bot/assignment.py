"""Automatic assignment of a new hand-off, round robin among the caseworkers who are signed in.

Off unless `HOMEWARD_AUTO_ASSIGN` is on. When a person asks for a caseworker and the conversation has
nobody assigned, it goes to the next caseworker in turn among those of the person's municipality who
have a live console session; if none of them is signed in, among every signed-in caseworker who can see
the person (accounts for all municipalities); if nobody is, it stays unassigned, as without the setting.

Whose turn it is lives in the database (`assignment_turns`, one row per pool), read and moved under a
row lock in the turn's own transaction, so several processes follow one rotation and nobody is skipped
or given two in a row while others wait. Each assignment is in the audit log (`conversation.auto_assign`,
actor `assignment`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot import ownership
from db.models import AuditEntry, Beneficiary, Conversation
from db.staff import AssignmentTurn, StaffSession, StaffUser

ACTOR = "assignment"
ALL = "all"


async def signed_in(session: AsyncSession, now: datetime, idle: timedelta) -> list[tuple[int, list[str]]]:
    """Active caseworkers with a live console session (not expired, used within `idle`): id, municipalities."""
    live = select(StaffSession.staff_id).where(StaffSession.expires_at > now, StaffSession.last_seen_at > now - idle)
    rows = await session.execute(
        select(StaffUser.id, StaffUser.municipalities)
        .where(StaffUser.active.is_(True), StaffUser.role == "caseworker", StaffUser.id.in_(live))
        .order_by(StaffUser.id)
    )
    return [(staff_id, list(places or [])) for staff_id, places in rows.all()]


def pools(person: Beneficiary, caseworkers: list[tuple[int, list[str]]]) -> list[tuple[str, list[int]]]:
    """Where to look, in order: the person's municipality's caseworkers, then all who can see the person."""
    found = []
    if person.municipality:
        local = [sid for sid, places in caseworkers if person.municipality in places]
        found.append((f"municipality:{person.municipality}", local))
    found.append((ALL, [sid for sid, places in caseworkers if not places or person.municipality in places]))
    return found


async def _next(session: AsyncSession, pool: str, candidates: list[int], now: datetime) -> int:
    """The candidate after the last one this pool gave a hand-off to (in id order, round the circle)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    insert = sqlite_insert if sqlite else pg_insert
    await session.execute(
        insert(AssignmentTurn).values(pool=pool, last_staff_id=None, updated_at=now).on_conflict_do_nothing()
    )
    query = select(AssignmentTurn).where(AssignmentTurn.pool == pool)
    if not sqlite:
        query = query.with_for_update()  # SQLite: the turn's transaction already holds the write lock
    turn = (await session.execute(query.execution_options(populate_existing=True))).scalar_one()
    last = turn.last_staff_id
    chosen = next((sid for sid in candidates if last is None or sid > last), candidates[0])
    turn.last_staff_id = chosen
    turn.updated_at = now
    return chosen


async def assign_new_handoff(
    session: AsyncSession, conversation: Conversation, person: Beneficiary, now: datetime, idle: timedelta
) -> int | None:
    """Give a new hand-off to the next signed-in caseworker, if it has nobody; whom, or None."""
    if conversation.assignee_id is not None:
        return None
    caseworkers = await signed_in(session, now, idle)
    for pool, candidates in pools(person, caseworkers):
        if not candidates:
            continue
        chosen = await _next(session, pool, candidates, now)
        ownership.assign(conversation, chosen, now)
        session.add(
            AuditEntry(
                at=now,
                actor=ACTOR,
                action="conversation.auto_assign",
                target=f"conversation:{conversation.id}",
                detail={"to": chosen, "pool": "municipality" if pool != ALL else ALL},
            )
        )
        return chosen
    return None
