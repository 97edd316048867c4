"""The youth programme's part of a person's data: shown by /mydata, removed by /delete and retention."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Beneficiary
from db.youth import Enrolment


async def section(session: AsyncSession, person: Beneficiary) -> tuple[str, Any]:
    rows = (
        await session.execute(select(Enrolment).where(Enrolment.beneficiary_id == person.id).order_by(Enrolment.id))
    ).scalars()
    return "youth_signups", [
        {
            "programme": e.programme_id,
            "cohort": e.cohort_id,
            "status": e.status,
            "source": e.source,
            "name": e.full_name,
            "birth_date": e.birth_date.isoformat() if e.birth_date else None,
            "municipality": e.municipality,
            "media_consent": e.media_consent,
            "guardian": e.guardian_name,
            "guardian_contact": e.guardian_contact,
            "guardian_consent": e.guardian_state,
            "created": e.created_at.isoformat(),
        }
        for e in rows
    ]


async def erase(session: AsyncSession, person: Beneficiary) -> None:
    """Their sign-ups go (a place they held is offered onward); as a guardian, only the link."""
    await session.execute(
        update(Enrolment).where(Enrolment.guardian_claimed_by == person.id).values(guardian_claimed_by=None)
    )
    await session.execute(delete(Enrolment).where(Enrolment.beneficiary_id == person.id))
