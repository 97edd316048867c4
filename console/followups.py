"""Follow-up waves as the console shows them: response rates and score distributions per wave, and results.

Everything is counted over the people the staff member may see. Staff who may not read about a
person (viewers) get aggregates only, with groups smaller than `dashboard.SMALL` hidden as on the
overview; staff who may see the results table get exact counts. Scores are stored encrypted, so
their distributions are counted here rather than in SQL. This module also registers the inbox's
"follow-up due" filter: someone was invited to a wave and has not answered yet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.followup.contacts import FORM_ID
from bot.i18n import N_
from console import audit, inbox
from console.access import Permission, Staff
from console.dashboard import SMALL
from db.models import Beneficiary, Conversation, FollowupContact, Submission

DIMENSIONS = ("score_economic", "score_social", "score_psychosocial", "score_composite")
DIMENSION_LABELS = {
    "score_economic": N_("Economic"),
    "score_social": N_("Social"),
    "score_psychosocial": N_("Psychosocial"),
    "score_composite": N_("Composite"),
}
CONTACT_STATUS = {
    "planned": N_("planned"),
    "sent": N_("invited, not answered yet"),
    "answered": N_("answered"),
    "skipped": N_("skipped"),
    "expired": N_("not answered in time"),
}
SKIP_REASONS = {
    "opted_out": N_("the person did not agree to follow-ups or stopped them"),
    "handoff": N_("a caseworker had the conversation while the wave was open"),
    "answered": N_("the person had answered a follow-up shortly before"),
    "blocked": N_("the person has blocked the bot"),
    "expired": N_("the return date was given after this wave had closed"),
}
BINS = 5
RESULTS_PAGE = 50


def _followup_due(staff: Staff) -> ColumnElement[bool]:
    # Read from the invitations still open (an index on their status), not tried on every conversation.
    completed = select(Submission.id).where(
        Submission.id == FollowupContact.submission_id, Submission.status == "completed"
    )
    invited = select(FollowupContact.beneficiary_id).where(FollowupContact.status == "sent", ~exists(completed))
    return Conversation.beneficiary_id.in_(invited)


inbox.add_filter("followup_due", N_("Follow-up due"), _followup_due, before="closed")


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label (a msgid or plain text), its count (None: too small to show)."""

    label: str
    count: int | None
    share: float  # of the chart's longest bar, 0–1, for drawing


@dataclass(frozen=True)
class Distribution:
    dimension: str
    answers: int | None
    mean: float | None
    bars: list[Bar]


@dataclass
class Wave:
    wave: int
    months: int
    total: int | None
    statuses: list[Bar]  # answered, still open, expired, planned
    skipped: list[Bar]  # by reason
    response_rate: float | None
    distributions: list[Distribution] = field(default_factory=list)


@dataclass(frozen=True)
class Result:
    submission_id: int
    wave: int | None
    completed_at: datetime | None
    conversation_id: int | None
    display_name: str | None
    municipality: str | None
    scores: dict[str, float | None]


@dataclass(frozen=True)
class Results:
    rows: list[Result]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // RESULTS_PAGE))


def score(value: Any) -> float | None:
    """A stored score as a number in 0–1, or None when the dimension was not answered."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return min(max(float(value), 0.0), 1.0)


def bin_labels(bins: int = BINS) -> list[str]:
    return [f"{i / bins:.1f}–{(i + 1) / bins:.1f}" for i in range(bins)]


def histogram(values: Iterable[float], bins: int = BINS) -> list[int]:
    """How many values fall in each of `bins` equal ranges of 0–1 (1.0 belongs to the last)."""
    counts = [0] * bins
    for value in values:
        counts[min(int(value * bins), bins - 1)] += 1
    return counts


def _shown(count: int, small: int) -> int | None:
    return count if count == 0 or count >= small else None


def bars(labelled: Sequence[tuple[str, int]], small: int) -> list[Bar]:
    """Bars scaled to the longest shown one; counts under `small` (but not zero) are hidden."""
    shown = [(label, _shown(n, small)) for label, n in labelled]
    longest = max((n for _, n in shown if n is not None), default=0)
    return [Bar(label, n, (n / longest) if n and longest else 0.0) for label, n in shown]


def distribution(dimension: str, values: Sequence[float], small: int) -> Distribution:
    if len(values) < max(small, 1):
        return Distribution(dimension, None if values else 0, None, [])
    counts = histogram(values)
    return Distribution(
        dimension,
        len(values),
        sum(values) / len(values),
        bars(list(zip(bin_labels(), counts, strict=True)), small),
    )


def waves(
    contacts: Iterable[tuple[int, int, str, str | None, int]],
    scores: Iterable[tuple[int | None, Mapping[str, Any] | None]],
    small: int,
) -> list[Wave]:
    """Per-wave figures from (wave, months, status, reason, count) rows and (wave, scores) of answers."""
    months: dict[int, int] = {}
    status_counts: dict[int, Counter[str]] = {}
    reason_counts: dict[int, Counter[str]] = {}
    for wave, month, status, reason, n in contacts:
        months.setdefault(wave, month)
        status_counts.setdefault(wave, Counter())[status] += n
        if status == "skipped":
            reason_counts.setdefault(wave, Counter())[reason or "expired"] += n
    values: dict[int, dict[str, list[float]]] = {}
    for answered_wave, found in scores:
        if answered_wave is None:
            continue
        months.setdefault(answered_wave, 0)
        for dimension in DIMENSIONS:
            value = score((found or {}).get(dimension))
            if value is not None:
                values.setdefault(answered_wave, {}).setdefault(dimension, []).append(value)
    out = []
    for wave in sorted(months):
        counts = status_counts.get(wave, Counter())
        asked = counts["answered"] + counts["sent"] + counts["expired"]
        statuses = bars([(s, counts[s]) for s in ("answered", "sent", "expired", "planned", "skipped")], small)
        reasons = reason_counts.get(wave, Counter())
        rate = None
        if asked and _shown(asked, small) is not None and _shown(counts["answered"], small) is not None:
            rate = counts["answered"] / asked
        out.append(
            Wave(
                wave=wave,
                months=months[wave],
                total=_shown(sum(counts.values()), small),
                statuses=statuses,
                skipped=bars(sorted(reasons.items()), small),
                response_rate=rate,
                distributions=[distribution(d, values.get(wave, {}).get(d, []), small) for d in DIMENSIONS],
            )
        )
    return out


def smallest_group(staff: Staff) -> int:
    """Staff who may see each person's results see exact counts; the others see no group under SMALL."""
    return 0 if staff.may(Permission.FOLLOWUP_RESULTS) else SMALL


async def overview(session: AsyncSession, staff: Staff) -> list[Wave]:
    contacts = await session.execute(
        select(
            FollowupContact.wave,
            func.max(FollowupContact.months),
            FollowupContact.status,
            FollowupContact.reason,
            func.count(),
        )
        .join(Beneficiary, Beneficiary.id == FollowupContact.beneficiary_id)
        .where(staff.scope())
        .group_by(FollowupContact.wave, FollowupContact.status, FollowupContact.reason)
    )
    scores = await session.execute(
        select(Submission.wave, Submission.scores)
        .join(Beneficiary, Beneficiary.id == Submission.beneficiary_id)
        .where(staff.scope(), Submission.form_id == FORM_ID, Submission.status == "completed")
    )
    return waves(
        [tuple(row) for row in contacts.all()],  # type: ignore[misc]
        [tuple(row) for row in scores.all()],  # type: ignore[misc]
        smallest_group(staff),
    )


async def results(session: AsyncSession, staff: Staff, now: datetime, page: int = 1) -> Results:
    """Completed follow-ups, newest first, with each person's scores; reading them is audited."""
    if not staff.may(Permission.FOLLOWUP_RESULTS):
        raise PermissionError(staff.role)
    condition = and_(staff.scope(), Submission.form_id == FORM_ID, Submission.status == "completed")
    total = (
        await session.execute(
            select(func.count())
            .select_from(Submission)
            .join(Beneficiary, Beneficiary.id == Submission.beneficiary_id)
            .where(condition)
        )
    ).scalar_one()
    found = await session.execute(
        select(Submission, Beneficiary, Conversation.id)
        .join(Beneficiary, Beneficiary.id == Submission.beneficiary_id)
        .outerjoin(Conversation, Conversation.beneficiary_id == Beneficiary.id)
        .where(condition)
        .order_by(Submission.completed_at.desc(), Submission.id.desc())
        .offset((page - 1) * RESULTS_PAGE)
        .limit(RESULTS_PAGE)
    )
    rows = [
        Result(
            submission.id,
            submission.wave,
            submission.completed_at,
            conversation_id,
            person.display_name,
            person.municipality,
            {d: score((submission.scores or {}).get(d)) for d in DIMENSIONS},
        )
        for submission, person, conversation_id in found.all()
    ]
    if rows:
        audit.record(
            session,
            actor=staff.actor,
            action="followups.read",
            now=now,
            detail={"submissions": [r.submission_id for r in rows]},
        )
    return Results(rows, int(total), page)
