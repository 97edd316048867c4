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
Buttons carry `yo:<action>:<sign-up id>[:<argument>]`; each press is checked against the person
who owns the sign-up (or, for `yo:g`, the guardian who opened the link).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.forms.prompts import form_text
from bot.municipalities import Municipalities
from bot.questionnaires import Questionnaire
from bot.youth import eligibility
from bot.youth.enrolments import (
    GUARDIAN_PREFIX,
    active_programmes,
    by_guardian_token,
    cancel,
    name_in,
    new_guardian_link,
    open_cohorts,
    person_enrolments,
    place,
    same_person_elsewhere,
    status_with_place,
    waiting_position,
    youth_source,
)
from bot.youth.notices import group_line, send, status_line
from bot.youth.waiting import ACTIVE, HOLDING
from db.models import Consent, Submission
from db.youth import Cohort, Enrolment, Programme
from handlers import menu, onboarding, questionnaire
from handlers.turn import Button, Reply, Turn

if TYPE_CHECKING:
    from bot.forms import Prompt
    from bot.i18n import Translator
    from bot.services import Services
    from handlers.routes import Router

FORM_ID = "youth_signup"
CONSENT_VERSION = 1
IN_PROGRESS = ("draft", "choosing")


def _today(turn: Turn) -> date:
    return turn.now.astimezone(turn.translations.tz).date()


def _municipalities(turn: Turn) -> Municipalities:
    return turn.services.extras["municipalities"]  # type: ignore[no-any-return]


def _questionnaire(turn: Turn) -> Questionnaire:
    return turn.services.extras["questionnaires"].items[FORM_ID]  # type: ignore[no-any-return]


def _place_name(turn: Turn, municipality: str | None) -> str | None:
    return Municipalities.name_of(_municipalities(turn), municipality, turn.person.locale or "sq")


async def _own(turn: Turn, raw: str) -> Enrolment | None:
    enrolment = await turn.session.get(Enrolment, int(raw)) if raw.isdigit() else None
    return enrolment if enrolment is not None and enrolment.beneficiary_id == turn.person.id else None


def _stale(turn: Turn) -> None:
    menu.show(turn, intro=turn.t.gettext("That button is no longer valid. Here is the current menu:"))


# ---- starting ----------------------------------------------------------------------------------------


async def continue_start(turn: Turn, payload: str) -> bool:
    """A deep link that waited for language and consent: the guardian's link, or a youth sign-up."""
    if payload.startswith(GUARDIAN_PREFIX):
        await guardian_opened(turn, payload[len(GUARDIAN_PREFIX):])
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
        await _ask_cohort(turn, enrolment)
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
        menu.show(turn, intro=t.gettext("No youth programme is open for sign-up at the moment. "
                                        "Please look again later."))
        return
    if len(programmes) == 1:
        await begin_programme(turn, programmes[0], source)
        return
    locale = turn.person.locale or "sq"
    turn.say(t.gettext("Which programme would you like to sign up for?"),
             [[Button(name_in(locale, p.name_sq, p.name_sr)[:60], f"yo:prog:{p.id}")] for p in programmes])
    turn.set_state(flow="youth", source=source)


async def begin_programme(turn: Turn, programme: Programme, source: str) -> None:
    t = turn.t
    mine = await person_enrolments(turn.session, turn.person.id, programme_id=programme.id,
                                   statuses=(*ACTIVE, *IN_PROGRESS, "duplicate"))
    for enrolment in mine:
        if enrolment.status in IN_PROGRESS:
            await _resume(turn, enrolment)
            return
    if mine:
        turn.say(t.gettext("You are already signed up for this programme. Here is your sign-up:"))
        await show_status(turn, mine[0])
        return
    enrolment = Enrolment(beneficiary_id=turn.person.id, programme_id=programme.id, status="draft", source=source,
                          guardian_state="not_needed", created_at=turn.now, updated_at=turn.now)
    turn.session.add(enrolment)
    await turn.session.flush()
    turn.say(t.gettext("{programme}: activities for young people aged {minimum} to {maximum}. "
                       "Signing up takes a few minutes.",
                       programme=name_in(turn.person.locale or "sq", programme.name_sq, programme.name_sr),
                       minimum=programme.min_age, maximum=programme.max_age))
    submission = await questionnaire.start(turn, FORM_ID)
    enrolment.submission_id = submission.id


# ---- questions the handler reads itself ----------------------------------------------------------------


async def _by_submission(turn: Turn, submission: Submission) -> Enrolment | None:
    return (await turn.session.execute(
        select(Enrolment).where(Enrolment.submission_id == submission.id))).scalar_one_or_none()


def too_old_text(t: Translator, age: int, programme: Programme) -> str:
    return t.gettext(
        "Thank you for your interest. This programme is for young people aged {minimum} to {maximum}, "
        "and you are {age}, so we cannot sign you up for it. This is only about the age range the "
        "programme is funded for.\n\n"
        "Other places to look:\n"
        "- the employment office and the vocational training centre in your municipality, for courses "
        "and training;\n"
        "- Albanian and Serbian language courses, for example through your municipality or the free "
        "{app} app;\n"
        "- the Municipal Office for Communities and Returns, for other support after your return.\n\n"
        "You can also ask me a question from the menu.",
        minimum=programme.min_age, maximum=programme.max_age, age=age, app="VOC-UP")


async def read_birth_date(turn: Turn, submission: Submission, form: Questionnaire, prompt: Prompt, raw: str) -> bool:
    """The date of birth: the form refuses impossible and future dates; the programme decides the ages."""
    t, locale, today = turn.t, turn.person.locale or "sq", _today(turn)
    result = form.runner.answer(submission.state, raw, today, locale)
    if result.error:
        await questionnaire.show(turn, submission, error=result.error)
        return True
    enrolment = await _by_submission(turn, submission)
    programme = await turn.session.get(Programme, enrolment.programme_id) if enrolment else None
    if enrolment is None or programme is None:
        return False
    birth = date.fromisoformat(str(form.runner.values(result.state)["birth_date"]))
    check = eligibility.check(birth, today, programme.min_age, programme.max_age)
    if not check.eligible:
        if check.reason == "too_old":
            text = too_old_text(t, check.age, programme)
        else:
            text = t.gettext("Thank you for your interest. This programme is for young people aged {minimum} "
                             "to {maximum}. You are welcome to sign up once you are {minimum}.",
                             minimum=programme.min_age, maximum=programme.max_age)
        if enrolment.status != "draft":
            await questionnaire.show(turn, submission, error=text)  # a change of details: keep the sign-up
            return True
        await turn.session.delete(enrolment)
        await turn.session.delete(submission)  # nothing of an ineligible person's answers is kept
        menu.show(turn, intro=text)
        return True
    submission.state = result.state
    submission.updated_at = turn.now
    await questionnaire.show(turn, submission)
    return True


async def read_municipality(turn: Turn, submission: Submission, form: Questionnaire, prompt: Prompt,
                            raw: str) -> bool:
    """A few letters in either language or script; several matches (Mitrovica) are offered as buttons."""
    t, locale = turn.t, turn.person.locale or "sq"
    found = _municipalities(turn).search(raw)
    index = {value: k for k, (value, _label) in enumerate(prompt.choices)}
    found = [m for m in found if m.id in index]
    if not found:
        await questionnaire.show(turn, submission, error=t.gettext(
            "No municipality with that name was found. Please write the first letters, "
            "for example Prishtinë, Priština or Приштина."))
        return True
    if len(found) > 1:
        data = f"f:{submission.id}:{prompt.index}:c"
        turn.say(t.gettext("Which of these do you mean?"),
                 [[Button(m.name(locale), f"{data}{index[m.id]}")] for m in found])
        return True
    result = form.runner.answer(submission.state, found[0].id, _today(turn), locale)
    if result.error:
        await questionnaire.show(turn, submission, error=result.error)
        return True
    submission.state = result.state
    submission.updated_at = turn.now
    await questionnaire.show(turn, submission)
    return True


# ---- the end of the form: placing the person -------------------------------------------------------------


def _labels(form: Questionnaire, list_name: str, values: Iterable[str], locale: str) -> str:
    labels = {c.value: form_text(form.form, c.labels, locale) for c in form.form.choices.get(list_name, [])}
    return ", ".join(labels.get(v, v) for v in values)


async def completed(turn: Turn, submission: Submission, form: Questionnaire) -> None:
    t, person, locale = turn.t, turn.person, turn.person.locale or "sq"
    enrolment = await _by_submission(turn, submission)
    if enrolment is None:
        menu.show(turn, intro=t.gettext("Thank you. Your answers are saved."))
        return
    values = form.runner.values(submission.state)
    consented = values.get("programme_consent") == "yes"
    turn.session.add(Consent(beneficiary_id=person.id, purpose="youth", version=CONSENT_VERSION, granted=consented,
                             locale=locale, created_at=turn.now))
    if not consented:
        if enrolment.status == "draft":
            await turn.session.delete(enrolment)
            await turn.session.delete(submission)
            menu.show(turn, intro=t.gettext("Understood. We did not sign you up, and your answers are not kept."))
        else:
            cancel(enrolment, turn.now, "consent_withdrawn")
            menu.show(turn, intro=t.gettext("Understood. Your sign-up is cancelled."))
        return
    media = values.get("media_consent") == "yes"
    turn.session.add(Consent(beneficiary_id=person.id, purpose="media", version=CONSENT_VERSION, granted=media,
                             locale=locale, created_at=turn.now))
    enrolment.full_name = str(values.get("full_name") or "")[:200]
    enrolment.birth_date = date.fromisoformat(str(values["birth_date"]))
    enrolment.municipality = str(values.get("municipality") or "") or None
    minor = eligibility.check(enrolment.birth_date, _today(turn)).needs_guardian
    enrolment.media_consent = media if not minor or enrolment.guardian_state != "confirmed" else \
        bool(media and enrolment.media_consent)
    enrolment.guardian_name = str(values["guardian_name"])[:200] if minor else None
    enrolment.guardian_contact = str(values["guardian_contact"])[:100] if minor else None
    if not minor:
        enrolment.guardian_state = "not_needed"
    elif enrolment.guardian_state != "confirmed":
        enrolment.guardian_state = "pending"
    enrolment.updated_at = turn.now
    if enrolment.status != "draft":  # a change of details: the place (or turn) stays
        if enrolment.status in ("confirmed", "pending_guardian"):
            enrolment.status = status_with_place(enrolment)
        turn.say(t.gettext("Your details are updated."))
        await confirm(turn, enrolment)
        return
    if await same_person_elsewhere(turn.session, enrolment) is not None:
        enrolment.status = "duplicate"
        await confirm(turn, enrolment)
        return
    cohorts = await open_cohorts(turn.session, enrolment.programme_id, enrolment.municipality, _today(turn))
    if not cohorts:
        enrolment.status = "interested"
        await confirm(turn, enrolment)
    elif len(cohorts) == 1:
        await place(turn.session, enrolment, cohorts[0], turn.now)
        await confirm(turn, enrolment)
    else:
        enrolment.status = "choosing"
        await _ask_cohort(turn, enrolment, cohorts)


async def _ask_cohort(turn: Turn, enrolment: Enrolment, cohorts: list[Cohort] | None = None) -> None:
    t, locale = turn.t, turn.person.locale or "sq"
    if cohorts is None:
        cohorts = await open_cohorts(turn.session, enrolment.programme_id, enrolment.municipality, _today(turn))
    if not cohorts:
        enrolment.status = "interested"
        await confirm(turn, enrolment)
        return
    buttons = [[Button(t.gettext("{group}, from {date}", group=name_in(locale, c.name_sq, c.name_sr),
                                 date=t.date(c.starts_on))[:60], f"yo:cohort:{enrolment.id}:{c.id}")]
               for c in cohorts]
    turn.say(t.gettext("Which group would you like to join?"), buttons)
    turn.set_state(flow="menu")


async def summary(turn: Turn, enrolment: Enrolment) -> str:
    """The sign-up as the person reads it: group, their main answers, and where it stands."""
    t, locale = turn.t, turn.person.locale or "sq"
    programme = await turn.session.get(Programme, enrolment.programme_id)
    cohort = await turn.session.get(Cohort, enrolment.cohort_id) if enrolment.cohort_id else None
    submission = await turn.session.get(Submission, enrolment.submission_id) if enrolment.submission_id else None
    form = _questionnaire(turn)
    values = form.runner.values(submission.state) if submission is not None else {}
    contact = _labels(form, "channel", [str(values.get("contact_channel", ""))], locale)
    if values.get("phone"):
        contact = f"{contact} ({values['phone']})"
    details = [
        t.gettext("Name: {name}", name=enrolment.full_name or ""),
        t.gettext("Date of birth: {date}", date=t.date(enrolment.birth_date)) if enrolment.birth_date else "",
        t.gettext("Municipality: {municipality}", municipality=_place_name(turn, enrolment.municipality) or ""),
        t.gettext("Interests: {interests}", interests=_labels(form, "interest", values.get("interests") or [], locale)),
        t.gettext("Contact: {contact}", contact=contact),
        t.gettext("Photos and videos: {answer}", answer=t.gettext("yes") if enrolment.media_consent
                  else t.gettext("no")),
    ]
    group = group_line(t, programme, cohort, _place_name(turn, cohort.municipality) if cohort else None) \
        if programme is not None else ""
    status = status_line(t, enrolment, cohort, await waiting_position(turn.session, enrolment))
    return "\n\n".join([t.gettext("Your sign-up"), group, "\n".join(d for d in details if d), status])


def _link(turn: Turn, token: str) -> str:
    username = turn.services.extras.get("bot_username")
    return f"https://t.me/{username}?start={GUARDIAN_PREFIX}{token}" if username else f"/start {GUARDIAN_PREFIX}{token}"


def _guardian_link_text(turn: Turn, enrolment: Enrolment) -> str:
    token = new_guardian_link(enrolment, turn.now)
    return turn.t.gettext(
        "Because you are under 18, your parent or guardian ({guardian}) needs to agree. Please send them "
        "this link. They open it in their own Telegram account; it works once, for {days} days:\n{link}",
        guardian=enrolment.guardian_name or "", days=7, link=_link(turn, token))


async def confirm(turn: Turn, enrolment: Enrolment) -> None:
    """The confirmation with a summary, the guardian's link when one is needed, then the menu."""
    text = await summary(turn, enrolment)
    if enrolment.guardian_state == "pending" and enrolment.status in (*HOLDING, "waiting"):
        text += "\n\n" + _guardian_link_text(turn, enrolment)
    turn.say(text)
    menu.show(turn)


async def show_status(turn: Turn, enrolment: Enrolment) -> None:
    t = turn.t
    rows: list[list[Button]] = []
    if enrolment.status == "offered":
        rows.append([Button(t.gettext("Accept the place"), f"yo:accept:{enrolment.id}"),
                     Button(t.gettext("Decline"), f"yo:decline:{enrolment.id}")])
    if enrolment.guardian_state == "pending" and enrolment.status in (*HOLDING, "waiting"):
        rows.append([Button(t.gettext("New link for my guardian"), f"yo:glink:{enrolment.id}")])
    if enrolment.status in (*ACTIVE, "duplicate"):
        rows.append([Button(t.gettext("Change my details"), f"yo:change:{enrolment.id}")])
        rows.append([Button(t.gettext("Cancel my sign-up"), f"yo:cancel:{enrolment.id}")])
    turn.say(await summary(turn, enrolment), rows)
    turn.set_state(flow="menu")


# ---- the guardian ----------------------------------------------------------------------------------------


def _link_usable(enrolment: Enrolment | None, now: datetime) -> bool:
    return (enrolment is not None and enrolment.guardian_token_hash is not None
            and enrolment.guardian_token_expires_at is not None and enrolment.guardian_token_expires_at > now
            and enrolment.status in (*ACTIVE,) and enrolment.guardian_state == "pending")


async def guardian_opened(turn: Turn, token: str) -> None:
    t = turn.t
    enrolment = await by_guardian_token(turn.session, token)
    if enrolment is None or not _link_usable(enrolment, turn.now) or \
            enrolment.guardian_claimed_by not in (None, turn.person.id):
        menu.show(turn, intro=t.gettext(
            "This link no longer works. A link for a parent or guardian works once and for 7 days. "
            "The young person can send a new one from the menu, under Youth programme."))
        return
    if enrolment.beneficiary_id == turn.person.id:
        menu.show(turn, intro=t.gettext(
            "This link is for your parent or guardian. Please send it to them: they need to open it in "
            "their own Telegram account."))
        return
    enrolment.guardian_claimed_by = turn.person.id
    programme = await turn.session.get(Programme, enrolment.programme_id)
    cohort = await turn.session.get(Cohort, enrolment.cohort_id) if enrolment.cohort_id else None
    group = group_line(t, programme, cohort, _place_name(turn, cohort.municipality) if cohort else None) \
        if programme is not None else ""
    text = t.gettext(
        "{name}, born on {date}, has signed up for the youth programme.\n{group}\n\n"
        "They named you as their parent or guardian: {guardian}. Because they are under 18, their place "
        "is confirmed only with your consent. Do you agree that they take part?",
        name=enrolment.full_name or "", date=t.date(enrolment.birth_date) if enrolment.birth_date else "",
        group=group, guardian=enrolment.guardian_name or "")
    data = f"yo:g:{enrolment.id}:"
    if enrolment.media_consent:
        text += "\n\n" + t.gettext("They also agreed that photos or videos in which they can be seen may be used "
                                   "for the programme. Do you agree to that as well?")
        buttons = [[Button(t.gettext("Yes, to both"), data + "all")],
                   [Button(t.gettext("Yes, but no photos or videos"), data + "nomedia")],
                   [Button(t.gettext("No, I do not agree"), data + "no")]]
    else:
        buttons = [[Button(t.gettext("Yes, I agree"), data + "nomedia")],
                   [Button(t.gettext("No, I do not agree"), data + "no")]]
    turn.say(text, buttons)
    turn.set_state(flow="menu")


async def guardian_answered(turn: Turn, raw_id: str, answer: str) -> None:
    t = turn.t
    enrolment = await turn.session.get(Enrolment, int(raw_id)) if raw_id.isdigit() else None
    if enrolment is None or enrolment.guardian_claimed_by != turn.person.id or not _link_usable(enrolment, turn.now) \
            or answer not in ("all", "nomedia", "no"):
        _stale(turn)
        return
    agreed = answer != "no"
    turn.session.add(Consent(beneficiary_id=turn.person.id, purpose="guardian", version=CONSENT_VERSION,
                             granted=agreed, locale=turn.person.locale or "sq", created_at=turn.now))
    enrolment.guardian_token_hash = None  # the link is used up
    enrolment.updated_at = turn.now
    name = enrolment.full_name or ""
    if agreed:
        enrolment.guardian_state = "confirmed"
        enrolment.guardian_confirmed_at = turn.now
        enrolment.guardian_confirmed_by = "telegram"
        enrolment.media_consent = bool(enrolment.media_consent and answer == "all")
        if enrolment.status == "pending_guardian":
            enrolment.status = "confirmed"
        cohort = await turn.session.get(Cohort, enrolment.cohort_id) if enrolment.cohort_id else None
        position = await waiting_position(turn.session, enrolment)
        await send(turn.session, turn.translations, enrolment.beneficiary_id, lambda tr: Reply(
            tr.gettext("Your parent or guardian has agreed.") + " " + status_line(tr, enrolment, cohort, position)),
            turn.now)
        menu.show(turn, intro=t.gettext("Thank you. Your consent is recorded, and {name} will be told.", name=name))
        return
    enrolment.guardian_state = "refused"
    if enrolment.status in ACTIVE:
        cancel(enrolment, turn.now, "guardian_refused")
    await send(turn.session, turn.translations, enrolment.beneficiary_id, lambda tr: Reply(tr.gettext(
        "Your parent or guardian did not agree, so your sign-up is cancelled. If this is a mistake, "
        "you can sign up again from the menu.")), turn.now)
    menu.show(turn, intro=t.gettext("Understood. The sign-up of {name} is cancelled.", name=name))


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
            _stale(turn)
            return
        await begin_programme(turn, programme, str(turn.state.get("source") or "menu"))
        return
    enrolment = await _own(turn, first)
    if enrolment is None:
        _stale(turn)
        return
    if action == "cohort" and enrolment.status == "choosing":
        cohorts = await open_cohorts(turn.session, enrolment.programme_id, enrolment.municipality, _today(turn))
        cohort = next((c for c in cohorts if str(c.id) == second), None)
        if cohort is None:
            await _ask_cohort(turn, enrolment, cohorts)
            return
        await place(turn.session, enrolment, cohort, turn.now)
        await confirm(turn, enrolment)
    elif action == "accept" and enrolment.status == "offered":
        if enrolment.offer_expires_at is None or enrolment.offer_expires_at <= turn.now:
            enrolment.status, enrolment.updated_at = "lapsed", turn.now
            menu.show(turn, intro=t.gettext("Sorry, the time to accept this place has passed. "
                                            "It is being offered to the next person on the waiting list."))
            return
        enrolment.status = status_with_place(enrolment)
        enrolment.offer_expires_at = None
        enrolment.updated_at = turn.now
        turn.say(t.gettext("Thank you. The place is yours."))
        await confirm(turn, enrolment)
    elif action == "decline" and enrolment.status == "offered":
        cancel(enrolment, turn.now, "offer_declined")
        menu.show(turn, intro=t.gettext("Understood. The place will be offered to the next person. "
                                        "Thank you for letting us know."))
    elif action == "change" and enrolment.status in (*ACTIVE, "duplicate"):
        submission = await turn.session.get(Submission, enrolment.submission_id) if enrolment.submission_id else None
        if submission is None:
            _stale(turn)
            return
        # The answers stay; each question is shown again from the start, to keep or change.
        submission.state = {**submission.state, "pos": [0, 0], "history": [], "pending": {}}
        submission.status, submission.completed_at, submission.updated_at = "in_progress", None, turn.now
        turn.say(t.gettext("Let us go through your answers again. Your place stays as it is."))
        await questionnaire.show(turn, submission)
    elif action == "cancel" and enrolment.status in (*ACTIVE, "duplicate"):
        turn.say(t.gettext("Do you really want to cancel your sign-up? If you have a place, it will be offered "
                           "to the next person on the waiting list."),
                 [[Button(t.gettext("Yes, cancel it"), f"yo:cancelyes:{enrolment.id}"),
                   Button(t.gettext("No, keep it"), f"yo:status:{enrolment.id}")]])
    elif action == "cancelyes" and enrolment.status in (*ACTIVE, "duplicate"):
        cancel(enrolment, turn.now, "person")
        menu.show(turn, intro=t.gettext("Your sign-up is cancelled. You are welcome to sign up again at any time."))
    elif action == "glink" and enrolment.guardian_state == "pending" and enrolment.status in (*HOLDING, "waiting"):
        turn.say(_guardian_link_text(turn, enrolment))
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
