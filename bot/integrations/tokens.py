"""API tokens: issued once to an integration, kept only as a hash, scoped, revocable.

A token is 32 random bytes shown once when it is made (`hw_…`). Only its SHA-256 is stored: the
token is as random as a key, so a plain hash is enough and, unlike a keyed one, survives a
rotation of the secret key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.integrations import IntegrationToken

PREFIX = "hw_"
SCOPES = {
    "people:read": "people: language, consent, municipality, return date",
    "conversations:read": "conversations: mode, urgency, hand-off, labels",
    "messages:read": "transcripts, line by line",
    "messages:send": "send a message to a person through the outbox",
    "submissions:read": "follow-up and other questionnaire answers with scores",
    "signups:read": "youth programme sign-ups",
}
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class TokenError(ValueError):
    """A token that cannot be made or changed as asked; the message says why."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted(set(scopes))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise TokenError(f"unknown scope {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if not chosen:
        raise TokenError("give at least one scope")
    return chosen


async def issue(
    session: AsyncSession, *, name: str, scopes: Iterable[str], by: str, now: datetime
) -> tuple[IntegrationToken, str]:
    """A new token for integration `name`; the plain token is returned once and never stored."""
    if not NAME.match(name):
        raise TokenError("a name is 1–64 lower-case letters, digits, '.', '_' or '-'")
    chosen = check_scopes(scopes)
    if (await session.execute(select(IntegrationToken.id).where(IntegrationToken.name == name))).first():
        raise TokenError(f"an integration named {name} exists already")
    plain = PREFIX + secrets.token_urlsafe(32)
    row = IntegrationToken(
        name=name, token_hash=digest(plain), scopes=chosen, created_by=by, created_at=now, last_used_at=None
    )
    session.add(row)
    await session.flush()
    return row, plain


async def verify(session: AsyncSession, plain: str | None, now: datetime) -> IntegrationToken | None:
    """The live token behind a bearer value, marked as used now; None if unknown or revoked."""
    if not plain or not plain.startswith(PREFIX):
        return None
    row = (
        await session.execute(select(IntegrationToken).where(IntegrationToken.token_hash == digest(plain)))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = now
    return row


async def revoke(session: AsyncSession, name: str, now: datetime) -> IntegrationToken:
    row = (await session.execute(select(IntegrationToken).where(IntegrationToken.name == name))).scalar_one_or_none()
    if row is None:
        raise TokenError(f"no integration named {name}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


async def listing(session: AsyncSession) -> list[IntegrationToken]:
    return list((await session.execute(select(IntegrationToken).order_by(IntegrationToken.name))).scalars())
