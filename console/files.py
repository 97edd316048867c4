"""Media a person sent: fetched on demand from the channel through the bot, never stored by us.

Telegram keeps the file; the transcript keeps its `file_id`. A caseworker who opens a photo or a
voice message gets it through the Bot API's getFile, as a download (never rendered inline by
the console's origin), and the read is audited. WhatsApp likewise keeps received media (Meta
holds it for 30 days) under a media id, fetched through the Graph API. Viber gives an address that
expires after a while: fetched from it while it lasts, else the file is no longer available.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiohttp import ClientError, ClientSession, ClientTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels import telegram, viber, whatsapp
from console import audit
from console.access import Staff
from db.models import Message

MAX_BYTES = 20 * 1024 * 1024  # what the Bot API hands out to bots


class Unavailable(Exception):
    """The file cannot be fetched (no file, another channel, or the channel refused)."""


@dataclass(frozen=True)
class Fetched:
    content: bytes
    filename: str
    media_type: str


async def fetch(
    bot: Bot | None,
    session: AsyncSession,
    staff: Staff,
    conversation_id: int,
    message: Message,
    channel: str,
    now: datetime,
    graph: whatsapp.GraphClient | None = None,
) -> Fetched:
    channel = message.channel or channel  # a person with linked apps: the app this file came from
    if message.file_id and channel == whatsapp.CHANNEL and graph is not None:
        try:
            content, media_type = await graph.media(message.file_id)
        except (whatsapp.GraphError, OSError, TimeoutError) as exc:
            raise Unavailable(message.id) from exc
        if len(content) > MAX_BYTES:
            raise Unavailable(message.id)
        _audit(session, staff, conversation_id, message, now)
        extension = mimetypes.guess_extension(media_type.split(";")[0].strip()) or ""
        return Fetched(content, f"{message.kind}-{message.id}{extension}", media_type)
    if message.file_id and channel == viber.CHANNEL:
        content, media_type = await _viber_media(message)
        _audit(session, staff, conversation_id, message, now)
        name = str((message.payload or {}).get("file_name") or "")
        extension = mimetypes.guess_extension(media_type.split(";")[0].strip()) or ""
        return Fetched(content, f"{message.kind}-{message.id}-{name or extension}"[:120], media_type)
    if not message.file_id or channel != telegram.CHANNEL or bot is None:
        raise Unavailable(message.id)
    try:
        info = await bot.get_file(message.file_id)
        if not info.file_path or (info.file_size or 0) > MAX_BYTES:
            raise Unavailable(message.id)
        data = await bot.download_file(info.file_path)
    except TelegramAPIError as exc:
        raise Unavailable(message.id) from exc
    if data is None:
        raise Unavailable(message.id)
    name = PurePosixPath(info.file_path).name or f"{message.kind}-{message.id}"
    _audit(session, staff, conversation_id, message, now)
    return Fetched(
        data.read(),
        f"{message.kind}-{message.id}-{name}"[:120],
        mimetypes.guess_type(name)[0] or "application/octet-stream",
    )


async def _viber_media(message: Message) -> tuple[bytes, str]:
    """The file at the address Viber gave (it expires: then Unavailable), at most MAX_BYTES."""
    url = str((message.payload or {}).get("media_url") or "")
    if not url.startswith(("https://", "http://")):
        raise Unavailable(message.id)
    try:
        async with ClientSession(timeout=ClientTimeout(total=30)) as http, http.get(url) as response:
            if response.status >= 400 or (response.content_length or 0) > MAX_BYTES:
                raise Unavailable(message.id)
            content = await response.content.read(MAX_BYTES + 1)
            media_type = response.headers.get("Content-Type", "application/octet-stream")
    except (ClientError, OSError, TimeoutError) as exc:
        raise Unavailable(message.id) from exc
    if len(content) > MAX_BYTES:
        raise Unavailable(message.id)
    return content, media_type


def _audit(session: AsyncSession, staff: Staff, conversation_id: int, message: Message, now: datetime) -> None:
    audit.record(
        session,
        actor=staff.actor,
        action="file.read",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={"message": message.id, "kind": message.kind},
    )
