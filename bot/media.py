"""Media a person sends: fetched through the app's API when it arrives, kept encrypted, opened by caseworkers.

A photo, voice message, audio, video or document is a name in the app (Telegram's `file_id`,
WhatsApp's media id, Viber's address, which expires). When such a message reaches the transcript,
the commit of its turn wakes a pass (`MediaStore.run`), which fetches its bytes through the app's
API, with the app's token, and keeps them in the `media` table, encrypted with the field key
(`db.encryption`). Turns of plain text wake nothing; a pass every `PASS_EVERY` seconds also
catches the lines a stopped process stored and never fetched. A file the pass has not
reached yet, or could not fetch, is fetched when a caseworker opens it. What is kept is checked on
its bytes, not on what the app says it is (`sniff`): only the types below are kept, at most
`HOMEWARD_MEDIA_MAX_BYTES`; a file refused, too big or expired is recorded as such, so the console
says so instead of a broken link. A photo or document sent from the web chat page is kept the same
way by the upload itself, and joined to its transcript line when the line is written.

The files go with the person's data: `/delete` and retention erase them with the transcript, and
retention also ends a file's keeping after `HOMEWARD_RETENTION_MEDIA_MONTHS` (it is then `expired`).
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from db import erasure
from db.models import Beneficiary, Conversation, MediaFile, Message
from db.session import Database

log = logging.getLogger(__name__)

KINDS = ("photo", "voice", "audio", "video", "video_note", "document")  # stickers are not kept
IMAGES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
AUDIO = {"audio/ogg", "audio/mpeg", "audio/mp4", "audio/wav"}
VIDEO = {"video/mp4", "video/webm"}
OFFICE = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
}
OLD_OFFICE = {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"}
# What a person may send from the web chat page: a photo or a document.
UPLOAD_TYPES = {"image/jpeg", "image/png", "image/webp", "application/pdf"}
PASS_SIZE = 50  # transcript lines with files looked at per step of the pass
LOOK_BACK = 200  # transcript lines behind the last pass's end that each pass looks at again
PASS_EVERY = 30.0  # seconds between passes when no turn storing a file wakes it


class Gone(Exception):
    """The app no longer has the file (an expired address, media past the app's own keeping)."""


class Unreachable(Exception):
    """The app could not be asked now (network, server error): tried again when a caseworker opens it."""


class TooBig(Exception):
    """The file is larger than what is kept."""


@dataclass(frozen=True)
class Fetched:
    content: bytes
    declared: str | None = None  # the type the app says it is; only a hint for documents
    name: str | None = None


# (file ref, the message's payload, the most bytes kept) → the file; raises Gone, Unreachable or TooBig.
Fetcher = Callable[[str, dict[str, Any], int], Awaitable[Fetched]]


def sniff(content: bytes, declared: str | None = None) -> str | None:
    """The type of a file read from its first bytes; None for a type that is not kept (HTML, SVG, programs…)."""
    head = content[:16]
    declared = (declared or "").split(";")[0].strip().lower()
    if head.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        return "audio/mp4" if head[8:12] in (b"M4A ", b"M4B ") else "video/mp4"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return declared if declared in OFFICE else "application/zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return declared if declared in OLD_OFFICE else "application/msword"
    if declared == "text/plain" and b"\x00" not in content and b"<" not in content[:1024]:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


def shown_as(media_type: str | None) -> str:
    """How the console shows a kept file: `image`, `audio` or `video` in the page, else a `file` to open."""
    if media_type in IMAGES:
        return "image"
    if media_type in AUDIO:
        return "audio"
    if media_type in VIDEO:
        return "video"
    return "file"


def safe_name(name: str | None, fallback: str) -> str:
    """A file name for Content-Disposition: letters, digits, dot, dash and underscore only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name or "").strip("._")[:100]
    return cleaned or fallback


def download_name(kept: MediaFile, kind: str, message_id: int) -> str:
    extension = mimetypes.guess_extension(kept.media_type or "") or ""
    if extension == ".jpe":
        extension = ".jpg"
    base = safe_name(kept.file_name, f"{kind}-{message_id}{extension}")
    return base if "." in base or not extension else base + extension


@dataclass(frozen=True)
class Kept:
    """What the console shows of a file: never its bytes."""

    status: str
    media_type: str | None
    file_name: str | None
    size: int | None

    @property
    def shown(self) -> str:
        return shown_as(self.media_type)

    @property
    def megabytes(self) -> str:
        return f"{max((self.size or 0) / 1_000_000, 0.1):.1f}"  # a small file reads "0.1 MB", not "0.0"


async def summaries(session: AsyncSession, message_ids: list[int]) -> dict[int, Kept]:
    """The kept files of these transcript lines, by line, without their bytes."""
    if not message_ids:
        return {}
    rows = await session.execute(
        select(MediaFile.message_id, MediaFile.status, MediaFile.media_type, MediaFile.file_name, MediaFile.size).where(
            MediaFile.message_id.in_(message_ids)
        )
    )
    return {mid: Kept(status, kind, name, size) for mid, status, kind, name, size in rows.all() if mid is not None}


@dataclass(frozen=True)
class Line:
    """A transcript line that names a file."""

    id: int
    conversation_id: int
    channel: str
    file_ref: str
    kind: str
    payload: dict[str, Any]


class MediaStore:
    """Fetches and keeps the files of new transcript lines; fetches on demand what it has not kept yet."""

    def __init__(self, db: Database, clock: Clock, fetchers: dict[str, Fetcher], max_bytes: int) -> None:
        self.db = db
        self.clock = clock
        self.fetchers = fetchers
        self.max_bytes = max_bytes
        self._cursor: int | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("media pass failed; trying again next time")
            waiting = asyncio.ensure_future(self._wake.wait())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiting, stopping}, timeout=PASS_EVERY, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiting, stopping):
                task.cancel()
            self._wake.clear()

    async def _start(self) -> int:
        """Where the first pass of a process begins: after the last line whose file was kept.

        Lines older than that (before this store existed, or missed while no process ran) are
        fetched when a caseworker opens them.
        """
        async with self.db.sessions() as session:
            # The newest kept line (a web upload not yet joined to its line has none: PostgreSQL sorts it first).
            kept = (await session.execute(select(func.max(MediaFile.message_id)))).scalar()
            if kept is not None:
                return int(kept)
            last = (await session.execute(select(Message.id).order_by(Message.id.desc()).limit(1))).scalar()
            return int(last or 0)

    async def run_once(self) -> int:
        """Keep the files of the transcript lines written since the last pass; returns how many were looked at.

        Each pass looks a little behind where the last one ended (`LOOK_BACK` lines): on PostgreSQL a
        turn can commit after a later one, and its line would otherwise be passed over.
        """
        async with self._lock:
            if self._cursor is None:
                self._cursor = await self._start()
            low = max(0, self._cursor - LOOK_BACK)
            done = 0
            while True:
                async with self.db.sessions() as session:
                    rows = (
                        await session.execute(
                            select(Message, Beneficiary.channel)
                            .join(Conversation, Conversation.id == Message.conversation_id)
                            .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
                            .where(
                                Message.id > low,
                                Message.direction == "in",
                                Message.file_id.isnot(None),
                                Message.kind.in_(KINDS),
                            )
                            .order_by(Message.id)
                            .limit(PASS_SIZE)
                        )
                    ).all()
                    known = set(
                        (
                            await session.execute(
                                select(MediaFile.message_id).where(MediaFile.message_id.in_([m.id for m, _ in rows]))
                            )
                        ).scalars()
                    )
                    if not rows:  # nothing since: the pass starts from the newest line next time
                        newest = (await session.execute(select(func.max(Message.id)))).scalar()
                        self._cursor = max(self._cursor, int(newest or 0))
                for message, channel in rows:
                    if message.id not in known:
                        await self.keep(line_of(message, channel))
                        done += 1
                    self._cursor = max(self._cursor, message.id)
                if len(rows) < PASS_SIZE:
                    return done
                low = rows[-1][0].id

    async def kept(self, session: AsyncSession, message_id: int) -> MediaFile | None:
        return (await session.execute(select(MediaFile).where(MediaFile.message_id == message_id))).scalar()

    async def keep(self, line: Line) -> MediaFile | None:
        """Fetch and keep one line's file (or record why it is not kept); None when this app's files are not fetched.

        A line already kept is left as it is, unless its fetch failed before: then it is tried again.
        """
        async with self.db.sessions() as session:
            before = await self.kept(session, line.id)
        if before is not None and before.status != "failed":
            return before
        if line.channel == "web":
            return await self._join_upload(line)
        fetcher = self.fetchers.get(line.channel)
        if fetcher is None:
            return before
        media_type: str | None = None
        content: bytes | None = None
        name = str(line.payload.get("file_name") or "") or None
        try:
            fetched = await fetcher(line.file_ref, line.payload, self.max_bytes)
            if len(fetched.content) > self.max_bytes:
                raise TooBig(line.id)
            media_type = sniff(fetched.content, fetched.declared or line.payload.get("mime_type"))
            status = "stored" if media_type is not None else "refused"
            content = fetched.content if media_type is not None else None
            name = name or fetched.name
            size: int | None = len(fetched.content)
        except Gone:
            status, size = "expired", None
        except TooBig:
            status, size = "too_big", None
        except Unreachable:
            status, size = "failed", None
        except Exception as exc:  # an app's answer of a shape we did not expect: tried again on opening
            log.warning("a file could not be fetched", extra={"channel": line.channel, "error": type(exc).__name__})
            status, size = "failed", None
        values = {
            "status": status,
            "media_type": media_type,
            "file_name": name[:128] if name else None,
            "size": size,
            "content": content,
        }
        try:
            async with self.db.transaction() as session:
                if before is not None:
                    await session.execute(update(MediaFile).where(MediaFile.id == before.id).values(**values))
                else:
                    session.add(
                        MediaFile(
                            conversation_id=line.conversation_id,
                            message_id=line.id,
                            channel=line.channel,
                            file_ref=line.file_ref[:256],
                            created_at=self.clock.now(),
                            **values,
                        )
                    )
        except IntegrityError:
            pass  # another process kept it meanwhile
        async with self.db.sessions() as session:
            return await self.kept(session, line.id)

    async def _join_upload(self, line: Line) -> MediaFile | None:
        """A web chat upload, kept when it came, joined to the transcript line that names it."""
        async with self.db.transaction() as session:
            await session.execute(
                update(MediaFile)
                .where(
                    MediaFile.channel == "web",
                    MediaFile.file_ref == line.file_ref,
                    MediaFile.conversation_id == line.conversation_id,
                    MediaFile.message_id.is_(None),
                )
                .values(message_id=line.id)
            )
            return await self.kept(session, line.id)

    async def upload(
        self, conversation_id: int, file_ref: str, content: bytes, media_type: str, name: str | None
    ) -> None:
        """Keep a file sent from the web chat page (already checked), before its message's turn runs."""
        async with self.db.transaction() as session:
            session.add(
                MediaFile(
                    conversation_id=conversation_id,
                    message_id=None,
                    channel="web",
                    file_ref=file_ref,
                    status="stored",
                    media_type=media_type,
                    file_name=name[:128] if name else None,
                    size=len(content),
                    content=content,
                    created_at=self.clock.now(),
                )
            )

    async def expire(self, session: AsyncSession, before: datetime, *, dry_run: bool) -> int:
        """Retention: the bytes of files kept since before `before` are removed; the line says the file expired."""
        condition = (MediaFile.created_at < before) & MediaFile.content.isnot(None)
        found = list((await session.execute(select(MediaFile.id).where(condition))).scalars())
        if found and not dry_run:
            await session.execute(
                update(MediaFile).where(MediaFile.id.in_(found)).values(status="expired", content=None, size=None)
            )
            erasure.touched(session, {MediaFile.__tablename__})
        return len(found)


def line_of(message: Message, channel: str) -> Line:
    return Line(
        message.id,
        message.conversation_id,
        message.channel or channel,  # a person with linked apps: the app this file came from
        message.file_id or "",
        message.kind,
        dict(message.payload or {}),
    )


async def section(session: AsyncSession, person: Beneficiary) -> tuple[str, Any]:
    """For /mydata: the files kept of what the person sent (what and when; the files themselves stay here)."""
    conversation_ids = select(Conversation.id).where(Conversation.beneficiary_id == person.id)
    rows = await session.execute(
        select(MediaFile.created_at, MediaFile.file_name, MediaFile.media_type, MediaFile.size, MediaFile.status)
        .where(MediaFile.conversation_id.in_(conversation_ids))
        .order_by(MediaFile.id)
    )
    return "files", [
        {"at": at.isoformat(), "name": name, "type": kind, "bytes": size, "kept": status == "stored"}
        for at, name, kind, size, status in rows.all()
    ]


async def erase(session: AsyncSession, person: Beneficiary) -> None:
    """A person's kept files go with the rest of their data (/delete and retention)."""
    conversation_ids = select(Conversation.id).where(Conversation.beneficiary_id == person.id)
    await session.execute(delete(MediaFile).where(MediaFile.conversation_id.in_(conversation_ids)))
