"""The sign-up questionnaire's own parts: the questions the handler reads itself, and what its end decides.

The date of birth is checked against the programme's ages (with a kind explanation and other places
to look when it is out of range), the municipality is found from a few typed letters in either
language or script, and a finished form places the person: a place, the waiting list, or interest
noted when no group is open nearby. It ends with a confirmation and a summary.

```mermaid
stateDiagram-v2
    birth_date --> [*]: outside the programme's ages (explained; nothing kept)
    birth_date --> municipality: eligible
    municipality --> municipality: several match (buttons: which one?) · none match
    municipality --> rest: one match
    rest --> choosing: form complete, several open groups
    rest --> placed: one open group → confirmed · pending_guardian · waiting
    rest --> interested: no open group nearby
    choosing --> placed: yo:cohort:<sign-up>:<cohort>
```
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.channels import links
from bot.forms.prompts import form_text
from bot.municipalities import Municipalities
from bot.questionnaires import Questionnaire
from bot.youth import eligibility
from bot.youth.enrolments import (
    GUARDIAN_PREFIX,
    cancel,
    name_in,
    new_guardian_link,
    open_cohorts,
    place,
    same_person_elsewhere,
    status_with_place,
    waiting_position,
)
from bot.youth.notices import group_line, status_line
from bot.youth.waiting import ACTIVE, HOLDING
from db.models import Consent, Submission
from db.youth import Cohort, Enrolment, Programme
from handlers import menu, questionnaire
from handlers.turn import Button, Turn

if TYPE_CHECKING:
    from bot.forms import Prompt
    from bot.i18n import Translator

FORM_ID = "youth_signup"
CONSENT_VERSION = 1
IN_PROGRESS = ("draft", "choosing")


def local_today(turn: Turn) -> date:
    return turn.now.astimezone(turn.translations.tz).date()


def municipalities(turn: Turn) -> Municipalities:
    return turn.services.extras["municipalities"]  # type: ignore[no-any-return]


def signup_form(turn: Turn) -> Questionnaire:
    return turn.services.extras["questionnaires"].items[FORM_ID]  # type: ignore[no-any-return]


def place_name(turn: Turn, municipality: str | None) -> str | None:
    return Municipalities.name_of(municipalities(turn), municipality, turn.person.locale or "sq")


def stale(turn: Turn) -> None:
    menu.show(turn, intro=turn.t.gettext("That button is no longer valid. Here is the current menu:"))


# ---- questions the handler reads itself ----------------------------------------------------------------


async def _by_submission(turn: Turn, submission: Submission) -> Enrolment | None:
    return (
        await turn.session.execute(select(Enrolment).where(Enrolment.submission_id == submission.id))
    ).scalar_one_or_none()


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
        minimum=programme.min_age,
        maximum=programme.max_age,
        age=age,
        app="VOC-UP",
    )


async def read_birth_date(turn: Turn, submission: Submission, form: Questionnaire, prompt: Prompt, raw: str) -> bool:
    """The date of birth: the form refuses impossible and future dates; the programme decides the ages."""
    t, locale, today = turn.t, turn.person.locale or "sq", local_today(turn)
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
            text = t.gettext(
                "Thank you for your interest. This programme is for young people aged {minimum} "
                "to {maximum}. You are welcome to sign up once you are {minimum}.",
                minimum=programme.min_age,
                maximum=programme.max_age,
            )
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


async def read_municipality(turn: Turn, submission: Submission, form: Questionnaire, prompt: Prompt, raw: str) -> bool:
    """A few letters in either language or script; several matches (Mitrovica) are offered as buttons."""
    t, locale = turn.t, turn.person.locale or "sq"
    found = municipalities(turn).search(raw)
    index = {value: k for k, (value, _label) in enumerate(prompt.choices)}
    found = [m for m in found if m.id in index]
    if not found:
        await questionnaire.show(
            turn,
            submission,
            error=t.gettext(
                "No municipality with that name was found. Please write the first letters, "
                "for example Prishtinë, Priština or Приштина."
            ),
        )
        return True
    if len(found) > 1:
        data = f"f:{submission.id}:{prompt.index}:c"
        turn.say(
            t.gettext("Which of these do you mean?"),
            [[Button(m.name(locale), f"{data}{index[m.id]}")] for m in found],
        )
        return True
    result = form.runner.answer(submission.state, found[0].id, local_today(turn), locale)
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
    turn.session.add(
        Consent(
            beneficiary_id=person.id,
            purpose="youth",
            version=CONSENT_VERSION,
            granted=consented,
            locale=locale,
            created_at=turn.now,
        )
    )
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
    turn.session.add(
        Consent(
            beneficiary_id=person.id,
            purpose="media",
            version=CONSENT_VERSION,
            granted=media,
            locale=locale,
            created_at=turn.now,
        )
    )
    enrolment.full_name = str(values.get("full_name") or "")[:200]
    enrolment.birth_date = date.fromisoformat(str(values["birth_date"]))
    enrolment.municipality = str(values.get("municipality") or "") or None
    minor = eligibility.check(enrolment.birth_date, local_today(turn)).needs_guardian
    enrolment.media_consent = (
        media if not minor or enrolment.guardian_state != "confirmed" else bool(media and enrolment.media_consent)
    )
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
    cohorts = await open_cohorts(turn.session, enrolment.programme_id, enrolment.municipality, local_today(turn))
    if not cohorts:
        enrolment.status = "interested"
        await confirm(turn, enrolment)
    elif len(cohorts) == 1:
        await place(turn.session, enrolment, cohorts[0], turn.now)
        await confirm(turn, enrolment)
    else:
        enrolment.status = "choosing"
        await ask_cohort(turn, enrolment, cohorts)


async def ask_cohort(turn: Turn, enrolment: Enrolment, cohorts: list[Cohort] | None = None) -> None:
    t, locale = turn.t, turn.person.locale or "sq"
    if cohorts is None:
        cohorts = await open_cohorts(turn.session, enrolment.programme_id, enrolment.municipality, local_today(turn))
    if not cohorts:
        enrolment.status = "interested"
        await confirm(turn, enrolment)
        return
    buttons = [
        [
            Button(
                t.gettext(
                    "{group}, from {date}",
                    group=name_in(locale, c.name_sq, c.name_sr),
                    date=t.date(c.starts_on),
                )[:60],
                f"yo:cohort:{enrolment.id}:{c.id}",
            )
        ]
        for c in cohorts
    ]
    turn.say(t.gettext("Which group would you like to join?"), buttons)
    turn.set_state(flow="menu")


async def summary(turn: Turn, enrolment: Enrolment) -> str:
    """The sign-up as the person reads it: group, their main answers, and where it stands."""
    t, locale = turn.t, turn.person.locale or "sq"
    programme = await turn.session.get(Programme, enrolment.programme_id)
    cohort = await turn.session.get(Cohort, enrolment.cohort_id) if enrolment.cohort_id else None
    submission = await turn.session.get(Submission, enrolment.submission_id) if enrolment.submission_id else None
    form = signup_form(turn)
    values = form.runner.values(submission.state) if submission is not None else {}
    contact = _labels(form, "channel", [str(values.get("contact_channel", ""))], locale)
    if values.get("phone"):
        contact = f"{contact} ({values['phone']})"
    details = [
        t.gettext("Name: {name}", name=enrolment.full_name or ""),
        t.gettext("Date of birth: {date}", date=t.date(enrolment.birth_date)) if enrolment.birth_date else "",
        t.gettext("Municipality: {municipality}", municipality=place_name(turn, enrolment.municipality) or ""),
        t.gettext(
            "Interests: {interests}",
            interests=_labels(form, "interest", values.get("interests") or [], locale),
        ),
        t.gettext("Contact: {contact}", contact=contact),
        t.gettext(
            "Photos and videos: {answer}",
            answer=t.gettext("yes") if enrolment.media_consent else t.gettext("no"),
        ),
    ]
    group = (
        group_line(t, programme, cohort, place_name(turn, cohort.municipality) if cohort else None)
        if programme is not None
        else ""
    )
    status = status_line(t, enrolment, cohort, await waiting_position(turn.session, enrolment))
    return "\n\n".join([t.gettext("Your sign-up"), group, "\n".join(d for d in details if d), status])


def guardian_link_text(turn: Turn, enrolment: Enrolment) -> str:
    """A new one-time link for the guardian, for the app the young person writes from.

    From the web chat (where a guardian cannot confirm) the links of every app this deployment
    speaks; where no link can be made, the code to send and the app to send it in.
    """
    t = turn.t
    payload = GUARDIAN_PREFIX + new_guardian_link(enrolment, turn.now)
    settings = turn.services.settings
    channel = turn.person.channel
    apps = [channel] if channel in links.PHONE_APPS else links.apps_on(settings)
    made = [
        (app, link)
        for app in apps
        if (link := links.start_link(app, payload, settings, turn.services.extras.get("bot_username")))
    ]
    guardian, days = enrolment.guardian_name or "", 7
    if len(made) == 1:
        return t.gettext(
            "Because you are under 18, your parent or guardian ({guardian}) needs to agree. Please send them "
            "this link. They open it on their own phone, in the {app} app; it works once, for {days} days:\n{link}",
            guardian=guardian,
            app=links.APP_NAMES[made[0][0]],
            days=days,
            link=made[0][1],
        )
    if made:
        return t.gettext(
            "Because you are under 18, your parent or guardian ({guardian}) needs to agree. Please send them "
            "one of these links. They open it on their own phone, in the app they use; it works once, "
            "for {days} days:\n{links}",
            guardian=guardian,
            days=days,
            links="\n".join(f"{links.APP_NAMES[app]}: {link}" for app, link in made),
        )
    return t.gettext(
        "Because you are under 18, your parent or guardian ({guardian}) needs to agree. Please send them "
        "this code. They write to Homeward from their own phone, in the {app} app, and send the code as "
        "a message; it works once, for {days} days:\n{code}",
        guardian=guardian,
        app=" / ".join(links.APP_NAMES[app] for app in apps or links.PHONE_APPS),
        days=days,
        code=links.start_command(payload),
    )


async def confirm(turn: Turn, enrolment: Enrolment) -> None:
    """The confirmation with a summary, the guardian's link when one is needed, then the menu."""
    text = await summary(turn, enrolment)
    if enrolment.guardian_state == "pending" and enrolment.status in (*HOLDING, "waiting"):
        text += "\n\n" + guardian_link_text(turn, enrolment)
    turn.say(text)
    menu.show(turn)


async def show_status(turn: Turn, enrolment: Enrolment) -> None:
    t = turn.t
    rows: list[list[Button]] = []
    if enrolment.status == "offered":
        rows.append(
            [
                Button(t.gettext("Accept the place"), f"yo:accept:{enrolment.id}"),
                Button(t.gettext("Decline"), f"yo:decline:{enrolment.id}"),
            ]
        )
    if enrolment.guardian_state == "pending" and enrolment.status in (*HOLDING, "waiting"):
        rows.append([Button(t.gettext("New link for my guardian"), f"yo:glink:{enrolment.id}")])
    if enrolment.status in (*ACTIVE, "duplicate"):
        rows.append([Button(t.gettext("Change my details"), f"yo:change:{enrolment.id}")])
        rows.append([Button(t.gettext("Cancel my sign-up"), f"yo:cancel:{enrolment.id}")])
    turn.say(await summary(turn, enrolment), rows)
    turn.set_state(flow="menu")
