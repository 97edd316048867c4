"""Files a person is given as a one-time link: the web chat's downloads and Viber's file messages.

A file (a person's /mydata copy) is kept encrypted (`ChatFile`) for `FILE_LIFETIME`, under the chat
it was sent to, and served once: the link stops working when taken or expired, and each download is
in the audit log (`mydata.download`). A web chat link works only with the visitor's own cookie. An
app that takes a file only from an address (Viber's `file` message) gets a link under Homeward's
public address that carries its own signature, the file's name last (Viber wants an extension there);
whoever fetches it first — Viber's servers or the person's phone — takes it.

`/delete` and retention take a person's files waiting for download with the rest of their data,
under every app linked to them, not only the one they wrote from last (`eraser`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import linking
from bot.clock import Clock
from bot.linking import pseudonym
from db.models import Beneficiary, ChatFile
from db.session import Database

FILE_LIFETIME = timedelta(minutes=15)
PATH = "/chat/files"


def file_signature(key: bytes, file_id: int, owner: str) -> str:
    return hmac.new(key, f"chat-file:{file_id}:{owner}".encode(), hashlib.sha256).hexdigest()[:32]


def owner_of(channel: str, chat_id: str) -> str:
    """Whose a file sent in an app is (the web chat's are the visitor's own key, without a colon)."""
    return f"{channel}:{chat_id}"


def identity_of(owner: str) -> tuple[str, str]:
    """(channel, chat id) of a file's owner; the web chat's owner is the visitor's key, their id there."""
    channel, colon, chat_id = owner.partition(":")
    return (channel, chat_id) if colon else ("web", owner)


def eraser(keys: Sequence[bytes]) -> Callable[[AsyncSession, Beneficiary], Awaitable[None]]:
    """An eraser (`bot.privacy`) of a person's files waiting for download, in every app they are known by.

    Files are few (each lives 15 minutes at most) and name their chat, not the person: each owner's
    pseudonym, under the current key and those still being rotated out, is compared with the person's.
    """

    async def erase(session: AsyncSession, person: Beneficiary) -> None:
        refs = {person.channel_ref, *await linking.refs(session, person)}
        owners = (await session.execute(select(ChatFile.chat_id).distinct())).scalars().all()
        theirs = [owner for owner in owners if any(pseudonym(key, *identity_of(owner)) in refs for key in keys)]
        if theirs:
            await session.execute(delete(ChatFile).where(ChatFile.chat_id.in_(theirs)))

    return erase


async def keep_file(db: Database, now: datetime, owner: str, name: str, content: str) -> int:
    """Keep a file for one download within `FILE_LIFETIME`; files whose time ran out go now. Returns its id."""
    async with db.transaction() as session:
        await session.execute(delete(ChatFile).where(ChatFile.expires_at <= now))
        row = ChatFile(
            chat_id=owner,
            file_name=name[:128],
            content={"text": content},
            created_at=now,
            expires_at=now + FILE_LIFETIME,
        )
        session.add(row)
        await session.flush()
        return row.id


class FileLinks:
    """Links to files for apps that fetch a file from an address; none without a public address."""

    def __init__(self, db: Database, clock: Clock, key: bytes, public_url: str | None) -> None:
        self.db = db
        self.clock = clock
        self.key = key
        self.public_url = (public_url or "").rstrip("/") or None

    @property
    def available(self) -> bool:
        return self.public_url is not None

    async def link(self, channel: str, chat_id: str, name: str, content: str) -> tuple[int, str]:
        """Keep the file; returns its id and the link to it."""
        assert self.public_url is not None, "links need Homeward's public address"
        owner = owner_of(channel, chat_id)
        file_id = await keep_file(self.db, self.clock.now(), owner, name, content)
        signature = file_signature(self.key, file_id, owner)
        return file_id, f"{self.public_url}{PATH}/{file_id}/{signature}/{quote(name[:128], safe='')}"

    async def discard(self, file_id: int) -> None:
        """A file whose message did not go: its retry keeps it anew."""
        async with self.db.transaction() as session:
            await session.execute(delete(ChatFile).where(ChatFile.id == file_id))
