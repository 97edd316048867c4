"""One person across apps: a short one-time code links the app it is typed in to the person who asked.

The person asks for a code in one app (menu → "Link another app") and types it in the other. From
then on both apps are one person: one transcript, one set of consents. The other app's identity
becomes a `LinkedIdentity` of the person; whatever that app had written before (usually only the
first steps of onboarding) moves into the person's transcript, and its own record is removed.
Codes are kept only as keyed hashes, expire after 15 minutes and work once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Beneficiary, Conversation, LinkCode, LinkedIdentity, Message, OutboxItem


def pseudonym(key: bytes, channel: str, ident: str) -> str:
    """A stable keyed hash of a channel identity: recognises a person without naming them."""
    return hmac.new(key, f"{channel}:{ident}".encode(), hashlib.sha256).hexdigest()[:40]


CODE_LIFETIME = timedelta(minutes=15)
LINKED_COMMAND = "linked"  # what a redeemed code becomes for the router: a command only the engine gives
ALPHABET = "ACDEFHJKLMNPRTUVWXY34679"  # no 0/O, 1/I, 2/Z, 5/S, 8/B: read aloud or retyped without doubt
CODE_SHAPE = re.compile(r"^\s*([A-Za-z0-9]{4})[- ]?([A-Za-z0-9]{4})\s*$")
START_PREFIX = "link_"  # a start parameter carrying a code: `/start link_K7PM4QXA`, from an app's deep link


def _hash(key: bytes, code: str) -> str:
    return hmac.new(key, f"link:{code}".encode(), hashlib.sha256).hexdigest()


def looks_like_code(text: str | None) -> str | None:
    """The code in a typed message (`ABCD-EFGH`, any case, with or without the dash), or None."""
    match = CODE_SHAPE.match(text or "")
    return (match.group(1) + match.group(2)).upper() if match else None


def start_parameter(code: str) -> str:
    """The deep-link start parameter that carries `code` (`K7PM-4QXA` → `link_K7PM4QXA`)."""
    return START_PREFIX + code.replace("-", "")


def code_in_start(args: str) -> str | None:
    """The code in a `/start` parameter made by `start_parameter`, or None."""
    args = args.strip()
    return looks_like_code(args[len(START_PREFIX) :]) if args.startswith(START_PREFIX) else None


async def new_code(session: AsyncSession, key: bytes, person: Beneficiary, now: datetime) -> str:
    """A fresh code for `person`; any earlier code of theirs stops working."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(8))
    await session.execute(delete(LinkCode).where(LinkCode.beneficiary_id == person.id))
    session.add(LinkCode(code_hash=_hash(key, code), beneficiary_id=person.id, expires_at=now + CODE_LIFETIME))
    return f"{code[:4]}-{code[4:]}"


async def find(session: AsyncSession, channel_ref: str) -> Beneficiary | None:
    """The person an app identity was linked to, if it was."""
    owner = (
        await session.execute(select(LinkedIdentity.beneficiary_id).where(LinkedIdentity.channel_ref == channel_ref))
    ).scalar_one_or_none()
    return None if owner is None else await session.get(Beneficiary, owner)


async def refs(session: AsyncSession, person: Beneficiary) -> list[str]:
    """The pseudonyms of every app of `person`, their own and linked (in private chats also their inbox rows' keys)."""
    found = await session.execute(select(LinkedIdentity.channel_ref).where(LinkedIdentity.beneficiary_id == person.id))
    return [person.channel_ref, *found.scalars()]


async def redeem(
    session: AsyncSession, key: bytes, code: str, channel: str, channel_ref: str, now: datetime
) -> Beneficiary | None:
    """Link the identity `channel_ref` to the code's owner; returns the owner, or None if the code is not valid."""
    row = await session.get(LinkCode, _hash(key, code))
    if row is None:
        return None
    await session.delete(row)  # once only, valid or expired
    if row.expires_at < now:
        return None
    owner = await session.get(Beneficiary, row.beneficiary_id)
    if owner is None or owner.consent != "given":
        return None
    here = (
        await session.execute(select(Beneficiary).where(Beneficiary.channel_ref == channel_ref))
    ).scalar_one_or_none()
    if here is None:
        here = await find(session, channel_ref)
    if here is not None and here.id == owner.id:
        return owner  # already one person
    if here is not None:
        await _merge_into(session, owner, here)
    session.add(LinkedIdentity(beneficiary_id=owner.id, channel=channel, channel_ref=channel_ref, created_at=now))
    await session.flush()
    return owner


async def _merge_into(session: AsyncSession, owner: Beneficiary, other: Beneficiary) -> None:
    """Move `other`'s transcript and linked apps to `owner`, then remove `other`'s own record."""
    target = (await session.execute(select(Conversation).where(Conversation.beneficiary_id == owner.id))).scalar_one()
    source = (
        await session.execute(select(Conversation).where(Conversation.beneficiary_id == other.id))
    ).scalar_one_or_none()
    if source is not None:
        await session.flush()  # appended lines of this transaction are written before they move
        await session.execute(
            update(Message).where(Message.conversation_id == source.id).values(conversation_id=target.id)
        )
    await session.execute(
        update(LinkedIdentity).where(LinkedIdentity.beneficiary_id == other.id).values(beneficiary_id=owner.id)
    )
    # Its queued and in-flight sends stay (and are recorded) as the owner's: a row deleted while a worker
    # sends it could lend its id to a new row, which the worker would then mark sent.
    await session.execute(
        update(OutboxItem).where(OutboxItem.beneficiary_id == other.id).values(beneficiary_id=owner.id)
    )
    session.info.get("people", {}).pop(other.channel_ref, None)
    session.info.get("conversations", {}).pop(other.id, None)
    for gone in (source, other):
        if gone is not None and gone in session:
            session.expunge(gone)
    # Its conversation, consents and other rows go with it (the database cascades).
    await session.execute(delete(Beneficiary).where(Beneficiary.id == other.id))
