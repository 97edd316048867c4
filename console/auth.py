"""Staff accounts and sign-in: Argon2id passwords, server-side sessions, CSRF tokens, attempt limits.

The cookie holds a random token; the database holds only its SHA-256, with the session's CSRF
token, its last use and its hard expiry. A session ends after `idle` without use or at `absolute`
age, whichever comes first. Sign-in is refused (without checking the password) after too many
failures for one name or from one address in the last quarter hour.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from console.access import Staff
from db.staff import ROLES, LoginAttempt, StaffSession, StaffUser

FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("a password nobody has")


class AccountError(ValueError):
    """An account could not be created as asked (unknown role, short password, name taken)."""


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison of secrets such as CSRF tokens."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


async def create_account(
    session: AsyncSession, *, name: str, password: str, role: str, municipalities: list[str], now: datetime
) -> StaffUser:
    name = name.strip()
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not name or len(name) > 80 or any(c.isspace() for c in name):
        raise AccountError("a name is 1-80 characters without spaces")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if (await session.execute(select(StaffUser.id).where(StaffUser.name == name))).first() is not None:
        raise AccountError(f"the name {name!r} is taken")
    user = StaffUser(
        name=name,
        password_hash=hash_password(password),
        role=role,
        municipalities=sorted(set(municipalities)),
        active=True,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def throttled(session: AsyncSession, name: str, address: str, now: datetime) -> bool:
    since = now - FAILURE_WINDOW
    failures = (
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    )
    by_name = (await session.execute(failures.where(LoginAttempt.name == name))).scalar_one()
    by_address = (await session.execute(failures.where(LoginAttempt.address == address))).scalar_one()
    return by_name >= MAX_FAILURES_PER_NAME or by_address >= MAX_FAILURES_PER_ADDRESS


async def sign_in(
    session: AsyncSession, name: str, password: str, address: str, now: datetime, policy: SessionPolicy
) -> str | None:
    """The new session's cookie token, or None. The caller checks `throttled` first."""
    name = name.strip()[:80]
    user = (await session.execute(select(StaffUser).where(StaffUser.name == name))).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(name=name, address=address[:64], success=ok, at=now))
    if not ok or user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    await session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=token_id(token),
            staff_id=user.id,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + policy.absolute,
        )
    )
    return token


async def current(session: AsyncSession, token: str | None, now: datetime, policy: SessionPolicy) -> Staff | None:
    """The staff member of a cookie token, if the session is alive; its idle clock restarts."""
    if not token:
        return None
    row = await session.get(StaffSession, token_id(token))
    if row is None:
        return None
    if row.expires_at <= now or row.last_seen_at + policy.idle <= now:
        await session.delete(row)
        return None
    user = await session.get(StaffUser, row.staff_id)
    if user is None or not user.active:
        await session.delete(row)
        return None
    row.last_seen_at = now
    return Staff(
        id=user.id,
        name=user.name,
        role=user.role,
        municipalities=tuple(user.municipalities or ()),
        locale=user.locale,
        csrf=row.csrf,
        session_id=row.id,
    )


async def sign_out(session: AsyncSession, staff: Staff) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.id == staff.session_id))
