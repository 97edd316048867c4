"""`homeward export signups`: a row per sign-up with status, waiting-list position, guardian consent, source.

The voluntary community question is sensitive and left out; drafts (forms not finished) too.
Redacted (`--redact`, for M&E), the columns that say who the young person or their guardian is are
masked and free text goes through the same redaction as transcripts.
"""

from __future__ import annotations

from datetime import datetime
from typing import IO, Any

from sqlalchemy import ColumnElement, select

from bot.forms import export as form_export
from bot.questionnaires import Questionnaire
from bot.redaction import redact
from bot.youth.eligibility import age_on
from bot.youth.waiting import Waiting, position
from db.models import Submission
from db.session import Database
from db.youth import Cohort, Enrolment, Programme

HEADERS = [
    "signup",
    "beneficiary",
    "programme",
    "cohort",
    "cohort_name",
    "cohort_starts_on",
    "status",
    "waiting_position",
    "guardian_consent",
    "guardian_confirmed_at",
    "guardian_confirmed_by",
    "media_consent",
    "source",
    "full_name",
    "birth_date",
    "age_at_signup",
    "municipality",
    "preferred_language",
    "interests",
    "availability",
    "school_or_work",
    "contact_channel",
    "phone",
    "guardian_name",
    "guardian_contact",
    "created_at",
    "updated_at",
]


IDENTIFYING = {
    "full_name": "[name]",
    "guardian_name": "[name]",
    "birth_date": "[date]",
    "phone": "[phone]",
    "guardian_contact": "[contact]",
}
FREE_TEXT = ("school_or_work", "availability")


def _redacted(row: dict[str, Any]) -> dict[str, Any]:
    names = [str(row[k]) for k in ("full_name", "guardian_name") if row.get(k)]
    masked = {k: (mask if row.get(k) not in (None, "") else row.get(k)) for k, mask in IDENTIFYING.items()}
    texts = {k: redact(row[k], names) if isinstance(row.get(k), str) else row.get(k) for k in FREE_TEXT}
    return {**row, **masked, **texts}


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value.isoformat() if hasattr(value, "isoformat") else value


async def records(
    db: Database,
    questionnaire: Questionnaire,
    *,
    programme: str | None = None,
    cohort: int | None = None,
    since: datetime | None = None,
    where: ColumnElement[bool] | None = None,
    redacted: bool = False,
) -> list[list[Any]]:
    """Rows in HEADERS order; `where` narrows them (a condition on Enrolment and its outer-joined Cohort)."""
    query = (
        select(Enrolment, Programme, Cohort, Submission)
        .join(Programme, Programme.id == Enrolment.programme_id)
        .outerjoin(Cohort, Cohort.id == Enrolment.cohort_id)
        .outerjoin(Submission, Submission.id == Enrolment.submission_id)
        .where(Enrolment.status != "draft")
        .order_by(Enrolment.id)
    )
    if programme is not None:
        query = query.where(Programme.code == programme)
    if cohort is not None:
        query = query.where(Enrolment.cohort_id == cohort)
    if since is not None:
        query = query.where(Enrolment.created_at >= since)
    if where is not None:
        query = query.where(where)
    async with db.sessions() as session:
        found = (await session.execute(query)).all()
        waiting = (
            await session.execute(
                select(Enrolment.id, Enrolment.cohort_id, Enrolment.waiting_since).where(Enrolment.status == "waiting")
            )
        ).all()
    queues: dict[int, list[Waiting]] = {}
    for eid, cid, since_at in waiting:
        if cid is not None and since_at is not None:
            queues.setdefault(cid, []).append(Waiting(eid, since_at))
    rows = []
    for enrolment, prog, coh, submission in found:
        values = questionnaire.runner.values(submission.state) if submission is not None else {}
        age = age_on(enrolment.birth_date, enrolment.created_at.date()) if enrolment.birth_date else None
        row = {
            "signup": enrolment.id,
            "beneficiary": enrolment.beneficiary_id,
            "programme": prog.code,
            "cohort": coh.id if coh else None,
            "cohort_name": coh.name_sq if coh else None,
            "cohort_starts_on": coh.starts_on if coh else None,
            "status": enrolment.status,
            "waiting_position": position(queues.get(coh.id, []), enrolment.id) if coh else None,
            "guardian_consent": enrolment.guardian_state,
            "guardian_confirmed_at": enrolment.guardian_confirmed_at,
            "guardian_confirmed_by": enrolment.guardian_confirmed_by,
            "media_consent": enrolment.media_consent,
            "source": enrolment.source,
            "full_name": enrolment.full_name,
            "birth_date": enrolment.birth_date,
            "age_at_signup": age,
            "municipality": enrolment.municipality,
            "guardian_name": enrolment.guardian_name,
            "guardian_contact": enrolment.guardian_contact,
            "created_at": enrolment.created_at,
            "updated_at": enrolment.updated_at,
            **{
                k: values.get(k)
                for k in (
                    "preferred_language",
                    "interests",
                    "availability",
                    "school_or_work",
                    "contact_channel",
                    "phone",
                )
            },
        }
        if redacted:
            row = _redacted(row)
        rows.append([_plain(row[h]) for h in HEADERS])
    return rows


async def export(
    db: Database,
    questionnaire: Questionnaire,
    fmt: str,
    out: IO[Any],
    *,
    programme: str | None = None,
    cohort: int | None = None,
    since: datetime | None = None,
    where: ColumnElement[bool] | None = None,
    redacted: bool = False,
) -> int:
    rows = await records(
        db, questionnaire, programme=programme, cohort=cohort, since=since, where=where, redacted=redacted
    )
    if fmt == "csv":
        return form_export.write_csv(HEADERS, rows, out)
    if fmt == "jsonl":
        return form_export.write_jsonl(HEADERS, rows, out)
    if fmt == "xlsx":
        return form_export.write_xlsx(HEADERS, rows, out, sheet="signups")
    raise ValueError(f"unknown format {fmt!r}")
