"""Retention: each class of data is kept only as long as settings say, then removed by a scheduled job.

| class | default | what happens |
|---|---|---|
| people (profile, transcript, answers, sign-ups) | 24 months after last contact | erased like /delete, tombstone kept |
| knowledge-base questions (incl. unanswered) | 6 months | deleted |
| audit log | 5 years | deleted |
| raw updates and sent outbox rows | 30 days | deleted (the transcript keeps what matters) |
| files people sent (photos, voice, documents) | 24 months after they came | bytes deleted, the line says "expired" |

`homeward retention --dry-run` reports what would be removed without removing it. What a run removed
is also cleaned from the database files once it commits (`db.erasure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from bot.followup.schedule import add_months
from bot.media import MediaStore
from bot.privacy import PersonalData
from db import erasure
from db.models import AuditEntry, Beneficiary, InboxUpdate, KbQuestion, OutboxItem
from db.session import Database


@dataclass(frozen=True)
class Periods:
    people_months: int = 24
    questions_months: int = 6
    audit_years: int = 5
    technical_days: int = 30
    media_months: int = 24


def _months_before(now: datetime, months: int) -> datetime:
    day = add_months(now.date(), -months)
    return now.replace(year=day.year, month=day.month, day=day.day)


class Retention:
    def __init__(
        self,
        db: Database,
        personal_data: PersonalData,
        periods: Periods = Periods(),
        media: MediaStore | None = None,
    ) -> None:
        self.db = db
        self.personal_data = personal_data
        self.periods = periods
        self.media = media

    async def run(self, now: datetime, *, dry_run: bool) -> dict[str, int]:
        """Remove (or, with `dry_run`, count) everything past its period; returns counts per class."""
        p = self.periods
        people_cutoff = _months_before(now, p.people_months)
        questions_cutoff = _months_before(now, p.questions_months)
        audit_cutoff = _months_before(now, 12 * p.audit_years)
        technical_cutoff = now - timedelta(days=p.technical_days)
        rules = {
            "questions": (KbQuestion, KbQuestion.created_at < questions_cutoff),
            "audit_log": (AuditEntry, AuditEntry.at < audit_cutoff),
            "raw_updates": (
                InboxUpdate,
                InboxUpdate.status.in_(("done", "failed", "quarantine")) & (InboxUpdate.received_at < technical_cutoff),
            ),
            "outbox": (
                OutboxItem,
                OutboxItem.status.in_(("sent", "failed")) & (OutboxItem.created_at < technical_cutoff),
            ),
        }
        async with self.db.transaction() as session:
            # Everything is counted first, so the report of a run equals the report of its dry run.
            people = (
                (
                    await session.execute(
                        select(Beneficiary).where(
                            Beneficiary.consent.in_(("given", "pending")),
                            func.coalesce(Beneficiary.last_contact_at, Beneficiary.created_at) < people_cutoff,
                        )
                    )
                )
                .scalars()
                .all()
            )
            report = {"people": len(people)}
            for name, (model, condition) in rules.items():
                report[name] = (
                    await session.execute(select(func.count()).select_from(model).where(condition))
                ).scalar_one()
            if self.media is not None:
                media_cutoff = _months_before(now, p.media_months)
                report["media"] = await self.media.expire(session, media_cutoff, dry_run=dry_run)
            if dry_run:
                return report
            for name, (model, condition) in rules.items():
                if report[name]:
                    await session.execute(delete(model).where(condition))
                    erasure.touched(session, {model.__tablename__})
            for person in people:
                await self.personal_data.erase(session, person, actor="retention", chat_key=None, now=now)
            if any(report.values()):
                session.add(AuditEntry(at=now, actor="retention", action="retention", target=None, detail=dict(report)))
        return report
