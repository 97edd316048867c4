"""Staff accounts over their life: added, limited to municipalities, given another role or a new
passphrase, signed out everywhere, disabled and enabled again.

The command line and the console's staff page call these same functions, so both refuse the same
things, and every change is written to the audit log with who made it: `staff:<name>` for an admin
in the console, `cli:<os user>` on the command line. Disabling an account or changing its
passphrase ends its sessions at once. When an account can no longer see conversations assigned
to it (disabled, another role, fewer municipalities), they go back to the queue instead of
vanishing from everyone's inbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz import fuzz
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import ownership
from bot.i18n import N_
from bot.municipalities import Municipalities, Municipality
from bot.text import fold
from console import audit, auth
from console.access import LIMITED_ROLES
from db.models import Beneficiary, Conversation
from db.staff import ROLES, StaffSession, StaffUser

REASONS = {
    **auth.REASONS,
    "unknown": N_("There is no account named {name}."),
    "municipality": N_("There is no municipality “{typed}”. Did you mean {suggestion}?"),
    "municipality_none": N_("There is no municipality “{typed}”."),
    "not_limited": N_("Only caseworkers and youth coordinators can be limited to municipalities."),
    "last_admin": N_("This is the last active administrator. Add or enable another one first."),
    "self": N_("You cannot disable your own account or change your own role."),
}


@dataclass(frozen=True)
class Outcome:
    """What a change did besides itself: sessions ended, conversations given back to the queue."""

    sessions: int = 0
    released: int = 0


def _suggestion(registry: Municipalities, typed: str) -> Municipality | None:
    found = registry.search(typed)
    if found:
        return found[0]
    query = fold(typed)
    scored = [(max(fuzz.ratio(query, key) for key in (*m.keys(), m.id)), m) for m in registry.items]
    return max(scored, key=lambda pair: pair[0])[1] if scored else None


def resolve_municipalities(registry: Municipalities, typed: Iterable[str]) -> list[str]:
    """Municipality ids for what was typed (an id, or a name in either language and script).

    Anything else is refused with the closest municipality as a suggestion: a mistyped name
    would otherwise limit an account to a place where nobody lives.
    """
    chosen: set[str] = set()
    for raw in typed:
        for part in raw.split(","):
            value = " ".join(part.split())
            if not value:
                continue
            found = registry.get(value) or next((m for m in registry.items if fold(value) in m.keys()), None)
            if found is None:
                near = _suggestion(registry, value)
                if near is None:
                    raise auth.AccountError("municipality_none", typed=value)
                raise auth.AccountError(
                    "municipality", typed=value, suggestion=f"{near.id} ({near.sq} / {near.sr_latn})"
                )
            chosen.add(found.id)
    return sorted(chosen)


async def find(session: AsyncSession, name: str) -> StaffUser:
    query = select(StaffUser).where(StaffUser.name == name.strip())
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    user = (await session.execute(query)).scalar_one_or_none()
    if user is None:
        raise auth.AccountError("unknown", name=name.strip()[:80])
    return user


async def get(session: AsyncSession, staff_id: int) -> StaffUser:
    user = await session.get(StaffUser, staff_id, with_for_update=session.get_bind().dialect.name != "sqlite")
    if user is None:
        raise auth.AccountError("unknown", name=str(staff_id))
    return user


async def listing(session: AsyncSession) -> list[StaffUser]:
    return list((await session.execute(select(StaffUser).order_by(StaffUser.name))).scalars())


async def open_sessions(session: AsyncSession, now: datetime) -> dict[int, int]:
    """How many sessions each account has that have not reached their hard expiry."""
    rows = await session.execute(
        select(StaffSession.staff_id, func.count()).where(StaffSession.expires_at > now).group_by(StaffSession.staff_id)
    )
    return {staff_id: int(count) for staff_id, count in rows.all()}


async def _keep_an_admin(session: AsyncSession, user: StaffUser) -> None:
    """Refuse a change that would leave no active administrator."""
    if user.role != "admin" or not user.active:
        return
    query = select(StaffUser.id).where(StaffUser.role == "admin", StaffUser.active.is_(True), StaffUser.id != user.id)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    if (await session.execute(query.limit(1))).first() is None:
        raise auth.AccountError("last_admin")


async def _release(
    session: AsyncSession, user: StaffUser, now: datetime, *, keep: list[str] | None = None
) -> list[int]:
    """Take the account off conversations it cannot see; with `keep`, only those of people elsewhere."""
    query = select(Conversation).where(Conversation.assignee_id == user.id)
    if keep is not None:
        query = query.join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id).where(
            or_(Beneficiary.municipality.is_(None), Beneficiary.municipality.not_in(keep))
        )
    released = []
    for conversation in (await session.execute(query.order_by(Conversation.id))).scalars():
        ownership.assign(conversation, None, now)
        if conversation.mode == ownership.HUMAN:
            conversation.needs_human = True  # someone must answer: back in the waiting queue
        conversation.updated_at = now
        released.append(conversation.id)
    return released


def _record(session: AsyncSession, actor: str, action: str, user: StaffUser, now: datetime, **detail: object) -> None:
    audit.record(session, actor=actor, action=action, now=now, target=f"staff:{user.name}", detail=detail or None)


async def add(
    session: AsyncSession,
    registry: Municipalities,
    *,
    actor: str,
    name: str,
    role: str,
    municipalities: Iterable[str],
    passphrase: str,
    now: datetime,
) -> StaffUser:
    places = resolve_municipalities(registry, municipalities)
    if places and role not in LIMITED_ROLES:
        raise auth.AccountError("not_limited")
    user = await auth.create_account(session, name=name, password=passphrase, role=role, municipalities=places, now=now)
    _record(session, actor, "staff.add", user, now, role=role, municipalities=places)
    return user


async def disable(session: AsyncSession, *, actor: str, user: StaffUser, now: datetime, by: int | None) -> Outcome:
    """No sign-in, and every open session of the account stops working at once."""
    if user.id == by:
        raise auth.AccountError("self")
    await _keep_an_admin(session, user)
    if not user.active:
        return Outcome()
    user.active = False
    ended = await auth.end_sessions(session, user.id)
    released = await _release(session, user, now)
    _record(session, actor, "staff.disable", user, now, sessions_ended=ended, conversations_released=released)
    return Outcome(ended, len(released))


async def enable(session: AsyncSession, *, actor: str, user: StaffUser, now: datetime) -> Outcome:
    if not user.active:
        user.active = True
        _record(session, actor, "staff.enable", user, now)
    return Outcome()


async def set_role(
    session: AsyncSession, *, actor: str, user: StaffUser, role: str, now: datetime, by: int | None
) -> Outcome:
    if role not in ROLES:
        raise auth.AccountError("role", roles=", ".join(ROLES))
    if user.id == by:
        raise auth.AccountError("self")
    if role == user.role:
        return Outcome()
    if role != "admin":
        await _keep_an_admin(session, user)
    previous, cleared = user.role, []
    user.role = role
    if role not in LIMITED_ROLES:
        # An admin or a viewer is never limited: keep no list that looks as if they were.
        cleared, user.municipalities = list(user.municipalities or []), []
    if role == "admin" or (role == "caseworker" and not user.municipalities):
        released: list[int] = []
    elif role == "caseworker":
        released = await _release(session, user, now, keep=list(user.municipalities))
    else:
        released = await _release(session, user, now)  # coordinators and viewers read no conversation
    _record(
        session,
        actor,
        "staff.role",
        user,
        now,
        **{"from": previous, "to": role, "municipalities_cleared": cleared, "conversations_released": released},
    )
    return Outcome(released=len(released))


async def set_municipalities(
    session: AsyncSession,
    registry: Municipalities,
    *,
    actor: str,
    user: StaffUser,
    municipalities: Iterable[str],
    now: datetime,
) -> Outcome:
    places = resolve_municipalities(registry, municipalities)
    if places and user.role not in LIMITED_ROLES:
        raise auth.AccountError("not_limited")
    previous = list(user.municipalities or [])
    if places == previous:
        return Outcome()
    user.municipalities = places
    released = await _release(session, user, now, keep=places) if places and user.role == "caseworker" else []
    _record(
        session,
        actor,
        "staff.municipalities",
        user,
        now,
        **{"from": previous, "to": places, "conversations_released": released},
    )
    return Outcome(released=len(released))


async def set_passphrase(
    session: AsyncSession, *, actor: str, user: StaffUser, passphrase: str, now: datetime, keep: str | None = None
) -> Outcome:
    """A new passphrase; every session of the account ends (but `keep`, the one making the change)."""
    auth.check_passphrase(passphrase, user.name)
    user.password_hash = auth.hash_password(passphrase)
    user.password_changed_at = now
    ended = await auth.end_sessions(session, user.id, keep=keep)
    _record(session, actor, "staff.password", user, now, sessions_ended=ended)
    return Outcome(sessions=ended)


async def end_sessions(
    session: AsyncSession, *, actor: str, user: StaffUser, now: datetime, keep: str | None = None
) -> Outcome:
    ended = await auth.end_sessions(session, user.id, keep=keep)
    _record(session, actor, "staff.sessions_end", user, now, sessions_ended=ended)
    return Outcome(sessions=ended)
