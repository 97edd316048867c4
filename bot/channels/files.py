"""Files a person is given as a one-time link: the web chat's downloads and Viber's file messages.

A file (a person's /mydata copy) is kept encrypted (`ChatFile`) for `FILE_LIFETIME`, under the chat
it was sent to, and served once: the link stops working when taken or expired, and each download is
in the audit log (`mydata.download`). A web chat link works only with the visitor's own cookie. An
app that takes a file only from an address (Viber's `file` message) gets a link under Homeward's
public address that carries its own signature, the file's name last (Viber wants an extension there);
whoever fetches it first — Viber's servers or the person's phone — takes it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import delete

from bot.clock import Clock
from db.models import ChatFile
from db.session import Database

FILE_LIFETIME = timedelta(minutes=15)
PATH = "/chat/files"


def file_signature(key: bytes, file_id: int, owner: str) -> str:
    return hmac.new(key, f"chat-file:{file_id}:{owner}".encode(), hashlib.sha256).hexdigest()[:32]


def owner_of(channel: str, chat_id: str) -> str:
    """Whose a file sent in an app is (the web chat's are the visitor's own key, without a colon)."""
    return f"{channel}:{chat_id}"


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
