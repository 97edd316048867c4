"""Exports from the console: the same records as `homeward export …`, each one audited.

Transcripts: an admin exports everything (optionally since a date); a caseworker exports one
conversation they may see. Follow-ups (optionally redacted for M&E) are exported by admins, youth
sign-ups by admins and youth coordinators. The file is written to a temporary file first, so a
large export streams from disk.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import ColumnElement, and_, select

from bot.followup import export as followup_export
from bot.questionnaires import Questionnaire
from bot.transcripts import export
from bot.youth import export as signup_export
from console import audit
from console.access import Staff
from console.cohorts import sign_up_scope
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
    conditions: list[ColumnElement[bool]] = [
        Conversation.beneficiary_id.in_(select(Beneficiary.id).where(staff.scope()))
    ]
    if conversation_id is not None:
        conditions.append(Conversation.id == conversation_id)
    return and_(*conditions)


async def _written(fmt: str, write: Callable[[IO[Any]], Awaitable[int]]) -> tuple[Path, int]:
    """The export written to a temporary file: its path and how many records it holds."""
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unknown format {fmt!r}")
    handle, name = tempfile.mkstemp(prefix="homeward-export-", suffix=f".{fmt}")
    path = Path(name)
    try:
        with await asyncio.to_thread(_open, handle, fmt) as out:
            count = await write(out)
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return path, count


async def _audited(db: Database, staff: Staff, action: str, now: datetime, **detail: Any) -> None:
    async with db.transaction() as session:
        audit.record(session, actor=staff.actor, action=action, now=now, detail=detail)


async def transcripts(
    db: Database,
    staff: Staff,
    fmt: str,
    now: datetime,
    *,
    since: datetime | None = None,
    conversation_id: int | None = None,
) -> ExportFile:
    path, count = await _written(fmt, lambda out: export(db, fmt, out, since, where=_scope(staff, conversation_id)))
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


async def followups(
    db: Database,
    staff: Staff,
    questionnaire: Questionnaire,
    fmt: str,
    now: datetime,
    *,
    since: datetime | None = None,
    redacted: bool = False,
) -> ExportFile:
    """Every follow-up submission with its scores, as `homeward export followups` writes them."""
    path, count = await _written(
        fmt, lambda out: followup_export.export(db, questionnaire, fmt, out, since, None, redacted)
    )
    await _audited(
        db,
        staff,
        "export.followups",
        now,
        format=fmt,
        since=since.isoformat() if since else None,
        redacted=redacted,
        records=count,
    )
    stem = "followups-redacted" if redacted else "followups"
    return ExportFile(path, MEDIA_TYPES[fmt], f"{stem}-{now:%Y%m%d-%H%M}.{fmt}", count)


async def signups(
    db: Database,
    staff: Staff,
    questionnaire: Questionnaire,
    fmt: str,
    now: datetime,
    *,
    programme: str | None = None,
    cohort: int | None = None,
) -> ExportFile:
    """Youth sign-ups, as `homeward export signups` writes them, optionally of one programme or cohort."""
    path, count = await _written(
        fmt,
        lambda out: signup_export.export(
            db, questionnaire, fmt, out, programme=programme, cohort=cohort, where=sign_up_scope(staff)
        ),
    )
    await _audited(
        db,
        staff,
        "export.signups",
        now,
        format=fmt,
        programme=programme,
        cohort=cohort,
        records=count,
        municipalities=list(staff.municipalities) if staff.limited else None,
    )
    return ExportFile(path, MEDIA_TYPES[fmt], f"signups-{now:%Y%m%d-%H%M}.{fmt}", count)
