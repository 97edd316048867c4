"""`homeward export followups`: one row per submission with Kobo-compatible columns and the scores."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.followup.contacts import FORM_ID
from bot.forms import export as form_export
from bot.questionnaires import Questionnaire
from bot.redaction import redact
from bot.transcripts import KOSOVO
from db.models import Beneficiary, Submission
from db.session import Database

LOCAL_COLUMNS = ("started_at_local", "completed_at_local")


def _masked(value: Any, names: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, names)
    if isinstance(value, date | datetime):
        return "[date]"
    return value


async def submissions(
    db: Database, questionnaire: Questionnaire, since: datetime | None, redacted: bool = False
) -> list[dict[str, Any]]:
    query = (
        select(Submission, Beneficiary.display_name)
        .join(Beneficiary, Beneficiary.id == Submission.beneficiary_id)
        .where(Submission.form_id == questionnaire.form_id)
        .order_by(Submission.id)
    )
    if since is not None:
        query = query.where(Submission.started_at >= since)
    out = []
    async with db.sessions() as session:
        for sub, name in (await session.execute(query)).all():
            values = questionnaire.runner.values(sub.state)
            if redacted:
                values = {k: _masked(v, [name or ""]) for k, v in values.items()}
            out.append(
                {
                    "id": sub.id,
                    "beneficiary": sub.beneficiary_id,
                    "wave": sub.wave,
                    "started_at": sub.started_at,
                    "completed_at": sub.completed_at,
                    "values": {**values, **(sub.scores or {})},
                }
            )
    return out


def _with_local_times(
    headers: list[str], rows: Iterator[list[Any]], subs: list[dict[str, Any]], zone: ZoneInfo
) -> tuple[list[str], Iterator[list[Any]]]:
    """`started_at_local` and `completed_at_local` (Kosovo time, with the offset) after the UTC columns."""
    at = headers.index("completed_at") + 1

    def local(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat() if value is not None else None

    def generate() -> Iterator[list[Any]]:
        for sub, row in zip(subs, rows, strict=True):
            yield [*row[:at], local(sub["started_at"]), local(sub["completed_at"]), *row[at:]]

    return [*headers[:at], *LOCAL_COLUMNS, *headers[at:]], generate()


def _with_progress(rows: Iterator[list[Any]], total: int, stream: IO[str]) -> Iterator[list[Any]]:
    """Rows passed through, with a counter on the terminal when standard error is one."""
    show = stream.isatty()
    for done, row in enumerate(rows, start=1):
        if show and (done % 200 == 0 or done == total):
            stream.write(f"\r{done}/{total} submissions")
            stream.flush()
        yield row
    if show:
        stream.write("\n")


async def export(
    db: Database,
    questionnaire: Questionnaire,
    fmt: str,
    out: IO[Any],
    since: datetime | None = None,
    locale: str | None = None,
    redacted: bool = False,
    *,
    timezone: str = KOSOVO,
) -> int:
    subs = await submissions(db, questionnaire, since, redacted)
    headers, rows = form_export.rows(questionnaire.form, subs, locale)
    headers, rows = _with_local_times(headers, rows, subs, ZoneInfo(timezone))
    data = _with_progress(rows, len(subs), sys.stderr)
    if fmt == "csv":
        return form_export.write_csv(headers, data, out)
    if fmt == "jsonl":
        return form_export.write_jsonl(headers, data, out)
    if fmt == "xlsx":
        return form_export.write_xlsx(headers, data, out, sheet=FORM_ID)
    raise ValueError(f"unknown format {fmt!r}")
