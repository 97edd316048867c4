"""Transcript exports from the console: the same records as `homeward export transcripts`, audited.

An admin exports everything (optionally since a date); a caseworker exports one conversation they
may see. The file is written to a temporary file first, so a large export streams from disk.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import ColumnElement, and_, select

from bot.transcripts import export
from console import audit
from console.access import Staff
from db.models import Beneficiary, Conversation
from db.session import Database

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK = 64 * 1024


@dataclass(frozen=True)
class ExportFile:
    path: Path
    media_type: str
    filename: str
    count: int

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes; the file is removed once read to the end (or abandoned)."""
        try:
            with self.path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
        finally:
            self.path.unlink(missing_ok=True)


def _open(handle: int, fmt: str) -> IO[Any]:
    return open(handle, "wb") if fmt == "xlsx" else open(handle, "w", encoding="utf-8", newline="")


def _scope(staff: Staff, conversation_id: int | None) -> ColumnElement[bool]:
    conditions = [Conversation.beneficiary_id.in_(select(Beneficiary.id).where(staff.scope()))]
    if conversation_id is not None:
        conditions.append(Conversation.id == conversation_id)
    return and_(*conditions)


async def transcripts(
    db: Database,
    staff: Staff,
    fmt: str,
    now: datetime,
    *,
    since: datetime | None = None,
    conversation_id: int | None = None,
) -> ExportFile:
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unknown format {fmt!r}")
    handle, name = tempfile.mkstemp(prefix="homeward-export-", suffix=f".{fmt}")
    path = Path(name)
    try:
        with await asyncio.to_thread(_open, handle, fmt) as out:
            count = await export(db, fmt, out, since, where=_scope(staff, conversation_id))
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    async with db.transaction() as session:
        audit.record(
            session,
            actor=staff.actor,
            action="export.transcripts",
            now=now,
            target=f"conversation:{conversation_id}" if conversation_id else None,
            detail={
                "format": fmt,
                "since": since.isoformat() if since else None,
                "records": count,
                "municipalities": list(staff.municipalities) or None,
            },
        )
    stem = f"transcripts-{conversation_id}" if conversation_id else "transcripts"
    return ExportFile(path, MEDIA_TYPES[fmt], f"{stem}-{now:%Y%m%d-%H%M}.{fmt}", count)
