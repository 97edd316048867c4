"""Youth programmes for coordinators: each cohort's places, its sign-ups and its waiting list in order.

Places taken and waiting-list turns follow `bot.youth.waiting`, the rules the chat applies, so the
page and the bot never disagree. Sign-ups still being filled in (drafts) are left out, as in the
sign-up export. Reading the page shows names, so it is audited.

A coordinator limited to municipalities sees the cohorts held there, with all their sign-ups, and
in cohorts open to any municipality (or without a cohort yet) the sign-ups of people from there;
places taken and waiting-list turns still count everyone, so they stay true.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LOCALES, N_
from bot.youth.eligibility import age_on
from bot.youth.enrolments import name_in
from bot.youth.waiting import HOLDING, Waiting, queue
from console import audit
from console.access import Staff
from db.youth import Cohort, Enrolment, Programme

ENROLMENT_STATUS = {
    "choosing": N_("choosing a group"),
    "confirmed": N_("has a place"),
    "pending_guardian": N_("place held until a guardian agrees"),
    "waiting": N_("on the waiting list"),
    "offered": N_("offered a freed place"),
    "interested": N_("interested, no group nearby yet"),
    "cancelled": N_("cancelled"),
    "lapsed": N_("offer not taken up in time"),
    "duplicate": N_("signed up twice"),
}
GUARDIAN_STATES = {
    "not_needed": N_("not needed (18 or older)"),
    "pending": N_("waiting for the guardian"),
    "confirmed": N_("given"),
    "refused": N_("refused"),
}


@dataclass(frozen=True)
class SignUpRow:
    id: int
    status: str
    guardian_state: str
    source: str | None
    full_name: str | None
    age: int | None
    municipality: str | None
    created_at: datetime
    waiting_since: datetime | None
    waiting_position: int | None


@dataclass
class CohortView:
    cohort: Cohort
    taken: int
    sign_ups: list[SignUpRow] = field(default_factory=list)
    waiting: list[SignUpRow] = field(default_factory=list)  # in waiting-list order

    @property
    def free(self) -> int:
        return max(self.cohort.capacity - self.taken, 0)


@dataclass
class ProgrammeView:
    programme: Programme
    cohorts: list[CohortView] = field(default_factory=list)
    without_cohort: list[SignUpRow] = field(default_factory=list)  # choosing, or interested


def names(locale: str) -> Callable[[str, str], str]:
    """A programme or cohort name in the interface language; both languages until one is chosen."""

    def name(name_sq: str, name_sr: str) -> str:
        if locale in LOCALES:
            return name_in(locale, name_sq, name_sr)
        return name_sq if name_sq == name_sr else f"{name_sq} / {name_sr}"

    return name


def _row(enrolment: Enrolment, turn: int | None) -> SignUpRow:
    age = age_on(enrolment.birth_date, enrolment.created_at.date()) if enrolment.birth_date else None
    return SignUpRow(
        enrolment.id,
        enrolment.status,
        enrolment.guardian_state,
        enrolment.source,
        enrolment.full_name,
        age,
        enrolment.municipality,
        enrolment.created_at,
        enrolment.waiting_since,
        turn,
    )


def arrange(programmes: list[Programme], cohorts: list[Cohort], enrolments: list[Enrolment]) -> list[ProgrammeView]:
    """Programmes with their cohorts (soonest first), places taken, sign-ups and waiting lists."""
    views = {p.id: ProgrammeView(p) for p in programmes}
    by_cohort: dict[int, CohortView] = {}
    for cohort in sorted(cohorts, key=lambda c: (c.starts_on, c.id)):
        if cohort.programme_id in views:
            by_cohort[cohort.id] = CohortView(cohort, 0)
            views[cohort.programme_id].cohorts.append(by_cohort[cohort.id])
    lines: dict[int, list[Waiting]] = {}
    for e in enrolments:
        if e.status == "waiting" and e.cohort_id is not None and e.waiting_since is not None:
            lines.setdefault(e.cohort_id, []).append(Waiting(e.id, e.waiting_since))
    turns = {eid: i for line in lines.values() for i, eid in enumerate(queue(line), start=1)}
    for e in sorted(enrolments, key=lambda e: e.id):
        row = _row(e, turns.get(e.id))
        view = by_cohort.get(e.cohort_id) if e.cohort_id is not None else None
        if view is None:
            if e.programme_id in views:
                views[e.programme_id].without_cohort.append(row)
            continue
        view.sign_ups.append(row)
        if e.status in HOLDING:
            view.taken += 1
        if row.waiting_position is not None:
            view.waiting.append(row)
    for view in by_cohort.values():
        view.waiting.sort(key=lambda r: r.waiting_position or 0)
    return list(views.values())


def sign_up_scope(staff: Staff) -> ColumnElement[bool]:
    """The sign-ups a staff member may see, as a condition on Enrolment outer-joined with its Cohort."""
    if not staff.limited:
        return true()
    places = staff.municipalities
    return or_(
        Cohort.municipality.in_(places),
        and_(Cohort.municipality.is_(None), Enrolment.municipality.in_(places)),
    )


def within_reach(views: list[ProgrammeView], staff: Staff) -> list[ProgrammeView]:
    """Only the cohorts and sign-ups of the staff member's municipalities (see the module's note)."""
    if not staff.limited:
        return views
    for view in views:
        view.cohorts = [
            c for c in view.cohorts if c.cohort.municipality is None or staff.sees_place(c.cohort.municipality)
        ]
        for shown in view.cohorts:
            if shown.cohort.municipality is None:
                shown.sign_ups = [r for r in shown.sign_ups if staff.sees_place(r.municipality)]
                shown.waiting = [r for r in shown.waiting if staff.sees_place(r.municipality)]
        view.without_cohort = [r for r in view.without_cohort if staff.sees_place(r.municipality)]
    return views


async def programmes(session: AsyncSession, staff: Staff, now: datetime) -> list[ProgrammeView]:
    found_programmes = list((await session.execute(select(Programme).order_by(Programme.id))).scalars())
    found_cohorts = list((await session.execute(select(Cohort))).scalars())
    enrolments = list((await session.execute(select(Enrolment).where(Enrolment.status != "draft"))).scalars())
    views = within_reach(arrange(found_programmes, found_cohorts, enrolments), staff)
    shown = sum(len(c.sign_ups) for v in views for c in v.cohorts) + sum(len(v.without_cohort) for v in views)
    audit.record(
        session,
        actor=staff.actor,
        action="youth.read",
        now=now,
        detail={"sign_ups": shown, "municipalities": list(staff.municipalities) if staff.limited else None},
    )
    return views
