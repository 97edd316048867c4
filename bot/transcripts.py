"""Transcript export: every message of every conversation, as JSONL, CSV or XLSX."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import IO, Any

from sqlalchemy import ColumnElement, select

from bot.redaction import redact
from bot.spreadsheet import Sheet
from db.models import Beneficiary, Conversation, Message
from db.session import Database

FIELDS = (
    "beneficiary",
    "conversation",
    "message",
    "direction",
    "author",
    "kind",
    "text",
    "file_id",
    "created_at",
    "channel_message_id",
    "status",
    "error",
)


async def transcript_records(
    db: Database,
    since: datetime | None = None,
    *,
    where: ColumnElement[bool] | None = None,
    redacted: bool = False,
) -> AsyncIterator[dict[str, Any]]:
    """Records in the order things happened, streamed so a large transcript needs little memory.

    `where` narrows the conversations (the console exports one conversation, or what a caseworker may see);
    `redacted` masks names, phone numbers, e-mail addresses, dates and ID-like numbers in the text.
    """
    query = (
        select(Message, Conversation.beneficiary_id, Beneficiary.display_name)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
        .order_by(Message.conversation_id, Message.id)
    )
    if since is not None:
        query = query.where(Message.created_at >= since)
    if where is not None:
        query = query.where(where)
    async with db.sessions() as session:
        result = await session.stream(query.execution_options(yield_per=1000))
        async for message, beneficiary_id, name in result:
            yield {
                "beneficiary": beneficiary_id,
                "conversation": message.conversation_id,
                "message": message.id,
                "direction": message.direction,
                "author": message.author,
                "kind": message.kind,
                "text": redact(message.text, [name or ""]) if redacted else message.text,
                "file_id": message.file_id,
                "created_at": message.created_at.isoformat(),
                "channel_message_id": message.channel_message_id,
                "status": message.status,
                "error": message.error,
            }


async def export(
    db: Database,
    fmt: str,
    out: IO[str] | IO[bytes],
    since: datetime | None = None,
    *,
    where: ColumnElement[bool] | None = None,
    redacted: bool = False,
) -> int:
    """Write every record to `out` (text for jsonl/csv, binary for xlsx); returns the count."""
    count = 0
    if fmt == "jsonl":
        async for record in transcript_records(db, since, where=where, redacted=redacted):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")  # type: ignore[call-overload]
            count += 1
    elif fmt in ("csv", "xlsx"):
        sheet = Sheet(fmt, out, "transcripts", FIELDS)
        async for record in transcript_records(db, since, where=where, redacted=redacted):
            sheet.append(record[f] for f in FIELDS)
            count += 1
        sheet.close()
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return count
