"""The youth page for coordinators: programmes, cohorts, sign-ups and waiting lists; the sign-up export; and
what `homeward youth …` does, as forms.

Each form calls the same function as the command line (`bot.youth.coordination`) with the signed-in
staff member as the actor, within their municipalities. The answer is the page again, with what
happened in words or why nothing was done. A freed place is offered to the next in line at once
during the day (the youth scheduler's offer, the same message as its pass sends), else at its next
pass in the morning. An announcement is shown in Albanian and both Serbian scripts before it is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from bot.exports import SIGNUP_FORM
from bot.i18n import N_
from bot.municipalities import Municipalities
from bot.youth import coordination
from bot.youth.coordination import CANCELLABLE, Refused
from bot.youth.eligibility import DEFAULT_MAX_AGE, DEFAULT_MIN_AGE
from bot.youth.enrolments import waiting_list
from bot.youth.waiting import ACTIVE
from console import cohorts, exports, ui
from console.access import Staff
from console.web import NotFound, YouthCoordinator, console_of, page, translator
from db.youth import Cohort

router = APIRouter(prefix="/youth")

SKIP_REASONS = {
    "no_consent": N_("no consent or no chat on record"),
    "blocked": N_("blocked the bot"),
    "opted_out": N_("stopped messages"),
}
Action = Callable[[AsyncSession, ui.Interface], Awaitable[list[str]]]


def _registry(request: Request) -> Municipalities | None:
    return console_of(request).homeward.services.extras.get("municipalities")


async def _page(request: Request, staff: Staff, *, status: int = 200, **context: Any) -> Response:
    console = console_of(request)
    async with console.homeward.db.transaction() as session:
        programmes = await cohorts.programmes(session, staff, console.now())
    registry = _registry(request)
    return page(
        request,
        staff,
        "youth.html",
        status=status,
        programmes=programmes,
        in_language=cohorts.names(translator(request, staff).locale),
        statuses=cohorts.ENROLMENT_STATUS,
        guardian_states=cohorts.GUARDIAN_STATES,
        active=ACTIVE,
        cancellable=CANCELLABLE,
        cohort_places=ui.municipality_choices(registry, staff.municipalities if staff.limited else ()),
        default_ages=(DEFAULT_MIN_AGE, DEFAULT_MAX_AGE),
        **{"results": [], "error": None, "preview": None, "form": {}, **context},
    )


async def _act(
    request: Request, staff: YouthCoordinator, action: Action, form: dict[str, str] | None = None
) -> Response:
    """Run one action in a transaction; the page answers with its result, or why nothing changed."""
    console = console_of(request)
    t = translator(request, staff)
    try:
        async with console.homeward.db.transaction() as session:
            results = await action(session, t)
    except Refused as refused:
        status = 403 if refused.reason == "out_of_reach" else 400
        error = t.gettext(coordination.REASONS[refused.reason], **refused.values)
        return await _page(request, staff, status=status, error=error, form=form or {})
    console.homeward.delivery.wake()
    return await _page(request, staff, results=results)


def _name(t: ui.Interface, full_name: str | None, number: int) -> str:
    return full_name or t.gettext("Sign-up {number}", number=number)


def _number(value: str, reason: str, **values: Any) -> int:
    try:
        return int(value.strip())
    except ValueError as exc:
        raise Refused(reason, **values) from exc


def _day(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise Refused("no_date") from exc


def _reach(staff: Staff) -> Callable[[str | None], bool]:
    """A limited coordinator acts only in their municipalities, never on a cohort open to any."""
    return lambda municipality: not staff.limited or (municipality is not None and staff.sees_place(municipality))


async def _offer_freed(request: Request, session: AsyncSession, t: ui.Interface, cohort_id: int) -> list[str]:
    """Offer the places free in the cohort now, as the scheduler's pass would; what was done, in words."""
    console = console_of(request)
    scheduler, now = console.homeward.youth, console.now()
    cohort = await session.get(Cohort, cohort_id)
    if cohort is None:
        return []
    if not scheduler.in_window(now):
        return [t.gettext("Free places are offered to the next in line when the day starts.")]
    made = await scheduler.offer_places(session, cohort, now)
    offered = [_name(t, e.full_name, e.id) for e, skipped in made if skipped is None]
    missed = [(_name(t, e.full_name, e.id), skipped) for e, skipped in made if skipped is not None]
    lines = [t.gettext("The place was offered to {names}; they are told in the chat.", names=", ".join(offered))]
    lines = lines if offered else []
    lines += [
        t.gettext(
            "{name} could not be reached ({reason}), so the place went further down the list.",
            name=n,
            reason=t.gettext(SKIP_REASONS[r]),
        )
        for n, r in missed
    ]
    return lines


@router.get("")
async def show(request: Request, staff: YouthCoordinator) -> Response:
    return await _page(request, staff)


@router.post("/programmes")
async def programme_add(
    request: Request,
    staff: YouthCoordinator,
    code: str = Form(""),
    name_sq: str = Form(""),
    name_sr: str = Form(""),
    min_age: str = Form(str(DEFAULT_MIN_AGE)),
    max_age: str = Form(str(DEFAULT_MAX_AGE)),
    offer_hours: str = Form("48"),
) -> Response:
    now = console_of(request).now()

    async def action(session: AsyncSession, t: ui.Interface) -> list[str]:
        if staff.limited:
            raise Refused("out_of_reach")  # a programme spans every municipality
        programme = await coordination.add_programme(
            session,
            staff.name,
            now,
            code=code[:32],
            name_sq=name_sq[:200],
            name_sr=name_sr[:200],
            min_age=_number(min_age, "ages"),
            max_age=_number(max_age, "ages"),
            offer_hours=_number(offer_hours, "offer_hours"),
        )
        return [t.gettext("Programme {code} created.", code=programme.code)]

    form = {"code": code, "name_sq": name_sq, "name_sr": name_sr}
    return await _act(request, staff, action, form)


@router.post("/cohorts")
async def cohort_add(
    request: Request,
    staff: YouthCoordinator,
    programme: str = Form(""),
    name_sq: str = Form(""),
    name_sr: str = Form(""),
    municipality: str = Form(""),
    starts: str = Form(""),
    ends: str = Form(""),
    capacity: str = Form(""),
) -> Response:
    now, registry = console_of(request).now(), _registry(request)

    async def action(session: AsyncSession, t: ui.Interface) -> list[str]:
        first = _day(starts)
        if first is None:
            raise Refused("no_date")
        cohort = await coordination.add_cohort(
            session,
            staff.name,
            now,
            programme_code=programme[:32],
            name_sq=name_sq[:200],
            name_sr=name_sr[:200],
            municipality=None if municipality in ("", "any") else municipality[:64],
            known_municipality=lambda m: registry is not None and registry.get(m) is not None,
            starts=first,
            ends=_day(ends),
            capacity=_number(capacity, "capacity"),
            may_reach=_reach(staff),
        )
        name = cohorts.names(t.locale)(cohort.name_sq, cohort.name_sr)
        return [
            t.ngettext(
                "Group {name} created, with {n} place.",
                "Group {name} created, with {n} places.",
                cohort.capacity,
                name=name,
            )
        ]

    form = {"programme": programme, "name_sq": name_sq, "name_sr": name_sr, "municipality": municipality}
    return await _act(request, staff, action, form | {"starts": starts, "ends": ends, "capacity": capacity})


@router.post("/cohorts/{cohort_id}/capacity")
async def capacity(request: Request, staff: YouthCoordinator, cohort_id: int, capacity: str = Form("")) -> Response:
    now = console_of(request).now()

    async def action(session: AsyncSession, t: ui.Interface) -> list[str]:
        cohort = await coordination.change_capacity(
            session, staff.name, now, cohort_id, _number(capacity, "capacity"), may_reach=_reach(staff)
        )
        name = cohorts.names(t.locale)(cohort.name_sq, cohort.name_sr)
        said = t.ngettext(
            "The group {name} now has {n} place.", "The group {name} now has {n} places.", cohort.capacity, name=name
        )
        return [said, *await _offer_freed(request, session, t, cohort.id)]

    return await _act(request, staff, action)


@router.post("/cohorts/{cohort_id}/announce")
async def announce(
    request: Request,
    staff: YouthCoordinator,
    cohort_id: int,
    text_sq: str = Form(""),
    text_sr: str = Form(""),
    send: str = Form(""),
) -> Response:
    """Without `send`: the preview in Albanian and both Serbian scripts. With it: the announcement goes out."""
    console = console_of(request)
    now, translations = console.now(), console.homeward.translations
    form = {"cohort": str(cohort_id), "text_sq": text_sq, "text_sr": text_sr}
    if send != "yes":
        t = translator(request, staff)
        try:
            async with console.homeward.db.sessions() as session:
                cohort = await coordination.cohort_within_reach(session, cohort_id, _reach(staff))
            checked = coordination.check_announcement(text_sq[:4000], text_sr[:4000])
        except Refused as refused:
            status = 403 if refused.reason == "out_of_reach" else 400
            error = t.gettext(coordination.REASONS[refused.reason], **refused.values)
            return await _page(request, staff, status=status, error=error, form=form)
        shown = coordination.preview(translations, cohort, *checked)
        return await _page(request, staff, preview={"cohort": cohort, "texts": shown}, form=form)

    async def action(session: AsyncSession, t: ui.Interface) -> list[str]:
        outcome = await coordination.announce_to_cohort(
            session, translations, staff.name, now, cohort_id, text_sq[:4000], text_sr[:4000], may_reach=_reach(staff)
        )
        lines = [t.ngettext("{n} message queued.", "{n} messages queued.", outcome.queued)]
        skipped = sum(outcome.skipped.values())
        lines.append(t.ngettext("{n} person skipped.", "{n} people skipped.", skipped))
        lines += [
            t.ngettext("{reason}: {n} person", "{reason}: {n} people", n, reason=t.gettext(SKIP_REASONS.get(why, why)))
            for why, n in sorted(outcome.skipped.items())
        ]
        return lines

    return await _act(request, staff, action, form)


@router.post("/signups/{signup_id}/guardian")
async def guardian(request: Request, staff: YouthCoordinator, signup_id: int, media: str = Form("")) -> Response:
    console = console_of(request)
    now, translations = console.now(), console.homeward.translations

    async def action(session: AsyncSession, t: ui.Interface) -> list[str]:
        done = await coordination.confirm_guardian(
            session, translations, staff.name, now, signup_id, media=media == "yes", may_reach=_reach(staff)
        )
        e = done.enrolment
        status = t.gettext(cohorts.ENROLMENT_STATUS.get(e.status, e.status))
        said = t.gettext(
            "Guardian consent recorded for {name}: {status}.", name=_name(t, e.full_name, e.id), status=status
        )
        if done.skipped is None:
            return [said, t.gettext("They are told in the chat.")]
        return [
            said,
            t.gettext("They could not be told in the chat: {reason}.", reason=t.gettext(SKIP_REASONS[done.skipped])),
        ]

    return await _act(request, staff, action)


@router.post("/signups/{signup_id}/cancel")
async def cancel(request: Request, staff: YouthCoordinator, signup_id: int) -> Response:
    now = console_of(request).now()

    async def action(session: AsyncSession, t: ui.Interface) -> list[str]:
        done = await coordination.cancel_sign_up(session, staff.name, now, signup_id, may_reach=_reach(staff))
        e = done.enrolment
        lines = [t.gettext("Sign-up of {name} cancelled.", name=_name(t, e.full_name, e.id))]
        if done.held_place and e.cohort_id is not None:
            offered = await _offer_freed(request, session, t, e.cohort_id)
            if offered:
                lines += offered
            elif await waiting_list(session, e.cohort_id):
                lines.append(t.gettext("The group has begun, so nobody on the waiting list is offered the place."))
            else:
                lines.append(t.gettext("Nobody is waiting: the place is free."))
        return lines

    return await _act(request, staff, action)


@router.get("/export")
async def export(
    request: Request, staff: YouthCoordinator, format: str = "csv", programme: str = "", cohort: str = ""
) -> Response:
    console = console_of(request)
    questionnaire = console.homeward.services.extras["questionnaires"].get(SIGNUP_FORM)
    if questionnaire is None or format not in exports.MEDIA_TYPES:
        raise NotFound
    if cohort and not cohort.isdigit():
        raise NotFound
    made = await exports.signups(
        console.homeward.db,
        staff,
        questionnaire,
        format,
        console.now(),
        programme=programme[:32] or None,
        cohort=int(cohort) if cohort else None,
    )
    return StreamingResponse(
        made.chunks(),
        media_type=made.media_type,
        headers={"content-disposition": f'attachment; filename="{made.filename}"'},
    )
