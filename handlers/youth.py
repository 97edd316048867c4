"""The youth programme in the chat: sign-up, the guardian's consent, freed places offered, see/change/cancel.

```mermaid
stateDiagram-v2
    [*] --> programme: /start youth_<source> (after language and consent) · menu "Youth programme"
    programme --> status: already signed up (duplicate recognised)
    programme --> form: the open programme, or yo:prog:<id> when there are several
    form --> [*]: age outside the programme's range (kind explanation) · no programme consent
    form --> cohort: form complete
    cohort --> confirmed: a free place, 18 or older
    cohort --> pending_guardian: a free place, under 18 (one-time link for the guardian)
    cohort --> waiting: the group is full (position on the waiting list)
    cohort --> interested: no open group in the area
    pending_guardian --> confirmed: guardian opens /start g_<token> from their own account and agrees
    pending_guardian --> cancelled: guardian does not agree
    waiting --> offered: a place frees up (scheduler pass)
    offered --> confirmed: yo:accept before the deadline
    offered --> cancelled: yo:decline
    offered --> lapsed: deadline passed (scheduler pass), the next in line is offered
    confirmed --> cancelled: menu, cancel, yes
```
The questionnaire's own parts are in `handlers.youth_signup`, the guardian's in
`handlers.youth_guardian`. Buttons carry `yo:<action>:<sign-up id>[:<argument>]`; each press is
checked against the person who owns the sign-up (or, for `yo:g`, the guardian who opened the link).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.youth.enrolments import (
    GUARDIAN_PREFIX,
    active_programmes,
    cancel,
    name_in,
    open_cohorts,
    person_enrolments,
    place,
    status_with_place,
    youth_source,
)
from bot.youth.waiting import ACTIVE, HOLDING
from db.models import Submission
from db.youth import Enrolment, Programme
from handlers import menu, onboarding, questionnaire
from handlers.turn import Button, Turn
from handlers.youth_guardian import guardian_answered, guardian_opened
from handlers.youth_signup import (
    FORM_ID,
    IN_PROGRESS,
    ask_cohort,
    completed,
    confirm,
    guardian_link_text,
    local_today,
    read_birth_date,
    read_municipality,
    show_status,
    stale,
)

if TYPE_CHECKING:
    from bot.services import Services
    from handlers.routes import Router


async def _own(turn: Turn, raw: str) -> Enrolment | None:
    enrolment = await turn.session.get(Enrolment, int(raw)) if raw.isdigit() else None
    return enrolment if enrolment is not None and enrolment.beneficiary_id == turn.person.id else None


# ---- starting ----------------------------------------------------------------------------------------


async def continue_start(turn: Turn, payload: str) -> bool:
    """A deep link that waited for language and consent: the guardian's link, or a youth sign-up."""
    if payload.startswith(GUARDIAN_PREFIX):
        await guardian_opened(turn, payload[len(GUARDIAN_PREFIX) :])
        return True
    source = youth_source(payload)
    if source is None:
        return False
    await begin(turn, source)
    return True


def start_command(original: Callable[[Turn], Awaitable[None]]) -> Callable[[Turn], Awaitable[None]]:
    """`/start youth…` and `/start g_…` go straight to the sign-up or the guardian's question for someone
    already onboarded; otherwise onboarding runs first and the payload waits (a guardian's token is
    never recorded as where a person came from)."""

    async def start(turn: Turn) -> None:
        payload = turn.inbound.args.strip()[:64]
        guardian = payload.startswith(GUARDIAN_PREFIX)
        if not guardian and youth_source(payload) is None:
            await original(turn)
            return
        if turn.person.locale is not None and not onboarding.needs_consent(turn):
            if not guardian and turn.person.source is None:
                turn.person.source = payload
            turn.person.opted_out = False  # back after /stop, as a plain /start does
            await continue_start(turn, payload)
            return
        if guardian:
            onboarding.ask_language(turn)
            turn.conversation.state = {**turn.state, "start_payload": payload}
            return
        await original(turn)

    return start


async def open_menu(turn: Turn) -> None:
    """Menu "Youth programme": continue an unfinished sign-up, show the current one, or begin."""
    mine = await person_enrolments(turn.session, turn.person.id, statuses=(*ACTIVE, *IN_PROGRESS, "duplicate"))
    if not mine:
        await begin(turn, "menu")
        return
    for enrolment in mine:
        if enrolment.status in IN_PROGRESS:
            await _resume(turn, enrolment)
            return
    for enrolment in mine:
        await show_status(turn, enrolment)


async def _resume(turn: Turn, enrolment: Enrolment) -> None:
    if enrolment.status == "choosing":
        await ask_cohort(turn, enrolment)
        return
    submission = await turn.session.get(Submission, enrolment.submission_id) if enrolment.submission_id else None
    if submission is None or submission.status != "in_progress":
        await turn.session.delete(enrolment)
        await begin(turn, enrolment.source or "menu")
        return
    turn.say(turn.t.gettext("Your sign-up is not finished. Let us continue where you stopped."))
    await questionnaire.show(turn, submission)


async def begin(turn: Turn, source: str) -> None:
    t = turn.t
    programmes = await active_programmes(turn.session)
    if not programmes:
        menu.show(
            turn,
            intro=t.gettext("No youth programme is open for sign-up at the moment. Please look again later."),
        )
        return
    if len(programmes) == 1:
        await begin_programme(turn, programmes[0], source)
        return
    locale = turn.person.locale or "sq"
    turn.say(
        t.gettext("Which programme would you like to sign up for?"),
        [[Button(name_in(locale, p.name_sq, p.name_sr)[:60], f"yo:prog:{p.id}")] for p in programmes],
    )
    turn.set_state(flow="youth", source=source)


async def begin_programme(turn: Turn, programme: Programme, source: str) -> None:
    t = turn.t
    mine = await person_enrolments(
        turn.session, turn.person.id, programme_id=programme.id, statuses=(*ACTIVE, *IN_PROGRESS, "duplicate")
    )
    for enrolment in mine:
        if enrolment.status in IN_PROGRESS:
            await _resume(turn, enrolment)
            return
    if mine:
        turn.say(t.gettext("You are already signed up for this programme. Here is your sign-up:"))
        await show_status(turn, mine[0])
        return
    enrolment = Enrolment(
        beneficiary_id=turn.person.id,
        programme_id=programme.id,
        status="draft",
        source=source,
        guardian_state="not_needed",
        created_at=turn.now,
        updated_at=turn.now,
    )
    turn.session.add(enrolment)
    await turn.session.flush()
    turn.say(
        t.gettext(
            "{programme}: activities for young people aged {minimum} to {maximum}. Signing up takes a few minutes.",
            programme=name_in(turn.person.locale or "sq", programme.name_sq, programme.name_sr),
            minimum=programme.min_age,
            maximum=programme.max_age,
        )
    )
    submission = await questionnaire.start(turn, FORM_ID)
    enrolment.submission_id = submission.id


# ---- buttons ---------------------------------------------------------------------------------------------


async def button(turn: Turn, data: str) -> None:
    t = turn.t
    action, _, rest = data.partition(":")
    first, _, second = rest.partition(":")
    if action == "g":
        await guardian_answered(turn, first, second)
        return
    if action == "prog":
        programme = await turn.session.get(Programme, int(first)) if first.isdigit() else None
        if programme is None or not programme.active:
            stale(turn)
            return
        await begin_programme(turn, programme, str(turn.state.get("source") or "menu"))
        return
    enrolment = await _own(turn, first)
    if enrolment is None:
        stale(turn)
        return
    if action == "cohort" and enrolment.status == "choosing":
        cohorts = await open_cohorts(turn.session, enrolment.programme_id, enrolment.municipality, local_today(turn))
        cohort = next((c for c in cohorts if str(c.id) == second), None)
        if cohort is None:
            await ask_cohort(turn, enrolment, cohorts)
            return
        await place(turn.session, enrolment, cohort, turn.now)
        await confirm(turn, enrolment)
    elif action == "accept" and enrolment.status == "offered":
        if enrolment.offer_expires_at is None or enrolment.offer_expires_at <= turn.now:
            enrolment.status, enrolment.updated_at = "lapsed", turn.now
            menu.show(
                turn,
                intro=t.gettext(
                    "Sorry, the time to accept this place has passed. "
                    "It is being offered to the next person on the waiting list."
                ),
            )
            return
        enrolment.status = status_with_place(enrolment)
        enrolment.offer_expires_at = None
        enrolment.updated_at = turn.now
        turn.say(t.gettext("Thank you. The place is yours."))
        await confirm(turn, enrolment)
    elif action == "decline" and enrolment.status == "offered":
        cancel(enrolment, turn.now, "offer_declined")
        menu.show(
            turn,
            intro=t.gettext("Understood. The place will be offered to the next person. Thank you for letting us know."),
        )
    elif action == "change" and enrolment.status in (*ACTIVE, "duplicate"):
        submission = await turn.session.get(Submission, enrolment.submission_id) if enrolment.submission_id else None
        if submission is None:
            stale(turn)
            return
        # The answers stay; each question is shown again from the start, to keep or change.
        submission.state = {**submission.state, "pos": [0, 0], "history": [], "pending": {}}
        submission.status, submission.completed_at, submission.updated_at = "in_progress", None, turn.now
        turn.say(t.gettext("Let us go through your answers again. Your place stays as it is."))
        await questionnaire.show(turn, submission)
    elif action == "cancel" and enrolment.status in (*ACTIVE, "duplicate"):
        turn.say(
            t.gettext(
                "Do you really want to cancel your sign-up? If you have a place, it will be offered "
                "to the next person on the waiting list."
            ),
            [
                [
                    Button(t.gettext("Yes, cancel it"), f"yo:cancelyes:{enrolment.id}"),
                    Button(t.gettext("No, keep it"), f"yo:status:{enrolment.id}"),
                ]
            ],
        )
    elif action == "cancelyes" and enrolment.status in (*ACTIVE, "duplicate"):
        cancel(enrolment, turn.now, "person")
        menu.show(turn, intro=t.gettext("Your sign-up is cancelled. You are welcome to sign up again at any time."))
    elif action == "glink" and enrolment.guardian_state == "pending" and enrolment.status in (*HOLDING, "waiting"):
        turn.say(guardian_link_text(turn, enrolment))
        menu.show(turn)
    elif action == "status":
        await show_status(turn, enrolment)
    else:
        await show_status(turn, enrolment)


def register(router: Router, services: Services) -> None:
    router.buttons["yo"] = button
    router.commands["start"] = start_command(router.commands["start"])
    menu.ACTIONS["youth"] = open_menu
    questionnaire.ON_COMPLETE[FORM_ID] = completed
    questionnaire.READERS[f"{FORM_ID}:birth_date"] = read_birth_date
    questionnaire.READERS[f"{FORM_ID}:municipality"] = read_municipality
    questionnaire.TYPED_CHOICES.add(f"{FORM_ID}:municipality")
    if continue_start not in onboarding.START_CONTINUATIONS:
        onboarding.START_CONTINUATIONS.append(continue_start)
    services.extras.setdefault("capabilities", set()).add("youth")
