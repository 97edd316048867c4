"""Staff accounts and sign-in: Argon2id passwords, server-side sessions, CSRF tokens, slowed guessing.

The cookie holds a random token; the database holds only its SHA-256, with the session's CSRF
token, its last use and its hard expiry. A session ends after `idle` without use or at `absolute`
age, whichever comes first, and at once when its account is disabled or its passphrase changed.
After failed tries a sign-in waits (`console.attempts`), without checking the password meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from console import attempts, passphrases
from console.access import Staff
from db.staff import ROLES, LoginAttempt, StaffSession, StaffUser

NAME_LENGTH = 80

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("a password nobody has")

REASONS = {
    **passphrases.REASONS,
    "role": N_("Unknown role. Choose one of: {roles}."),
    "name": N_("A name has 1 to 80 characters and no spaces."),
    "taken": N_("The name {name} is taken."),
}


class AccountError(ValueError):
    """An account change refused; `reason` is a key of a REASONS table, `values` fill its message."""

    def __init__(self, reason: str, **values: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values

    def text(self, message: str) -> str:
        """The message filled in, for the command line (in English, the catalogs' source language)."""
        return message.format(**self.values)


def check_passphrase(passphrase: str, account: str) -> None:
    weak = passphrases.weakness(passphrase, account)
    if weak is not None:
        raise AccountError(weak, count=passphrases.limits().get(weak, 0))


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
        raise AccountError("role", roles=", ".join(ROLES))
    if not name or len(name) > NAME_LENGTH or any(c.isspace() for c in name):
        raise AccountError("name")
    check_passphrase(password, name)
    if (await session.execute(select(StaffUser.id).where(StaffUser.name == name))).first() is not None:
        raise AccountError("taken", name=name)
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


async def _failures(session: AsyncSession, where: ColumnElement[bool], now: datetime) -> tuple[int, datetime | None]:
    """Failures matching `where` in the window and since the last success matching it: how many, the latest."""
    last_success = (
        await session.execute(select(func.max(LoginAttempt.at)).where(where, LoginAttempt.success.is_(True)))
    ).scalar_one()
    since = now - attempts.WINDOW
    if last_success is not None and last_success >= since:
        condition = LoginAttempt.at > last_success
    else:
        condition = LoginAttempt.at >= since
    count, latest = (
        await session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(where, condition, LoginAttempt.success.is_(False))
        )
    ).one()
    return int(count), latest


async def waiting(session: AsyncSession, name: str, address: str, now: datetime) -> float:
    """Seconds before a sign-in as `name` from `address` may be checked (0: now).

    Call it in the transaction that then records the try (`sign_in`).
    """
    name, address = name.strip()[:NAME_LENGTH], address[:64]
    if session.get_bind().dialect.name == "postgresql":
        # Tries for one name, and from one address, take turns until their transaction ends, so a burst
        # of parallel guesses is counted like guesses one after another. Always name first, then address:
        # one order, so two tries never wait on each other. (SQLite runs one transaction at a time.)
        for key in (f"sign-in name:{name}", f"sign-in address:{address}"):
            await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
    by_name = LoginAttempt.name == name
    by_address = LoginAttempt.address == address
    pair, pair_last = await _failures(session, and_(by_name, by_address), now)
    account, account_last = await _failures(session, by_name, now)
    since = now - attempts.WINDOW
    address_count, address_last = (
        await session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(
                by_address, LoginAttempt.success.is_(False), LoginAttempt.at >= since
            )
        )
    ).one()
    familiar = (
        await session.execute(
            select(LoginAttempt.id)
            .where(by_name, by_address, LoginAttempt.success.is_(True), LoginAttempt.at >= now - attempts.FAMILIAR)
            .limit(1)
        )
    ).first() is not None
    recent = attempts.Recent(pair, pair_last, int(address_count), address_last, account, account_last, familiar)
    return attempts.wait(recent, now)


async def sign_in(
    session: AsyncSession,
    name: str,
    password: str,
    address: str,
    now: datetime,
    policy: SessionPolicy,
    locale: str | None = None,
) -> str | None:
    """The new session's cookie token, or None. The caller asks `waiting` first.

    `locale`, a language chosen on the sign-in page, becomes the account's interface language.
    """
    name = name.strip()[:NAME_LENGTH]
    user = (await session.execute(select(StaffUser).where(StaffUser.name == name))).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(name=name, address=address[:64], success=ok, at=now))
    if not ok or user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if locale is not None:
        user.locale = locale
    await session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    # Attempts older than the familiar-address period count for nothing any more.
    await session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - attempts.FAMILIAR))
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


async def end_sessions(session: AsyncSession, staff_id: int, *, keep: str | None = None) -> int:
    """Sign an account out everywhere (but the session `keep`); how many sessions ended."""
    query = delete(StaffSession).where(StaffSession.staff_id == staff_id)
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    result = await session.execute(query)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
