"""Expressions that failed while people answered, as recorded in each submission's state.

The runner never lets a failing expression end a person's turn: it passes the question over (or
uses the form's fallback) and keeps ``{"field", "row", "part", "error"}`` in the state's
``problems``. This gathers them per form row for the form's owner (``homeward forms problems``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from db.models import Submission
from db.session import Database


def gather(submissions: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, int | None, str, str, str, int]]:
    """(form id, row, field, part, error kind, submissions) from (form id, state) pairs."""
    counts: Counter[tuple[str, int | None, str, str, str]] = Counter()
    for form_id, state in submissions:
        seen = {
            (form_id, p.get("row"), str(p.get("field")), str(p.get("part")), str(p.get("error")))
            for p in (state or {}).get("problems", [])
        }
        counts.update(seen)
    return sorted(((*key, n) for key, n in counts.items()), key=lambda r: (r[0], r[1] or 0, r[2]))


async def recorded(db: Database, form_id: str | None = None) -> list[tuple[str, int | None, str, str, str, int]]:
    query = select(Submission.form_id, Submission.state).order_by(Submission.id)
    if form_id:
        query = query.where(Submission.form_id == form_id)
    async with db.sessions() as session:
        rows = (await session.execute(query)).all()
    return gather([(row[0], row[1]) for row in rows])
