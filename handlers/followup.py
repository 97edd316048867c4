""" "My follow-up": consent to be contacted, the return date, and answering a wave in the chat.

```mermaid
stateDiagram-v2
    [*] --> consent: menu "My follow-up" (no follow-up consent yet)
    consent --> return_date: fu:consent:yes (consent recorded separately from general consent)
    consent --> menu: fu:consent:no
    return_date --> menu: a valid date → waves planned (3, 6, 12 months)
    menu --> questions: fu:start:<contact> (invitation or reminder) · "Continue"
    questions --> menu: completed → contact answered, scores stored
    menu --> stopped: fu:stop → planned contacts skipped (opted out)
```
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from bot.followup.contacts import FORM_ID, set_return_date
from bot.outbox import LANE_FOLLOWUP
from db.models import Consent, FollowupContact, Message, OutboxItem, Submission
from handlers import menu, questionnaire
from handlers.turn import Button, Turn

if TYPE_CHECKING:
    from bot.questionnaires import Questionnaire
    from bot.services import Services
    from handlers.routes import Router

FOLLOWUP_CONSENT_VERSION = 1
_DATE = re.compile(r"^\s*(\d{1,2})[./\- ](\d{1,2})[./\- ](\d{4})\.?\s*$|^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")


def parse_date(text: str) -> date | None:
    """31.12.2025, 31/12/2025, 31-12-2025 or 2025-12-31; None when it is not a real date."""
    found = _DATE.match(text)
    if not found:
        return None
    g = found.groups()
    day, month, year = (g[0], g[1], g[2]) if g[0] else (g[5], g[4], g[3])
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


async def open_menu(turn: Turn) -> None:
    t = turn.t
    person = turn.person
    if person.followup_consent is not True:
        turn.say(
            t.gettext(
                "A few months after people come back, we ask them short questions about work, housing, "
                "health and how they feel. This helps the mission improve its help. "
                "We would ask you 3, 6 and 12 months after your return, in this chat. "
                "It is voluntary: you can skip any question or stop at any time, and it changes nothing "
                "in the help you receive.\n\nMay we contact you for these follow-ups?"
            ),
            [[Button(t.gettext("Yes"), "fu:consent:yes"), Button(t.gettext("No"), "fu:consent:no")]],
        )
        return
    if person.return_date is None:
        ask_return_date(turn)
        return
    submission = await questionnaire.in_progress(turn, FORM_ID)
    if submission is not None:
        turn.say(t.gettext("You have follow-up questions that are not finished. Let us continue where you stopped."))
        await questionnaire.show(turn, submission)
        return
    open_contact = await _open_contact(turn)
    if open_contact is not None:
        await _start(turn, open_contact)
        return
    await show_status(turn)


async def _open_contact(turn: Turn) -> FollowupContact | None:
    return (
        await turn.session.execute(
            select(FollowupContact)
            .where(FollowupContact.beneficiary_id == turn.person.id, FollowupContact.status == "sent")
            .order_by(FollowupContact.wave)
            .limit(1)
        )
    ).scalar_one_or_none()


async def show_status(turn: Turn) -> None:
    t = turn.t
    upcoming = (
        await turn.session.execute(
            select(FollowupContact)
            .where(FollowupContact.beneficiary_id == turn.person.id, FollowupContact.status == "planned")
            .order_by(FollowupContact.due_at)
            .limit(1)
        )
    ).scalar_one_or_none()
    if upcoming is not None:
        text = t.gettext(
            "Your next follow-up is planned for {date}. We will write to you then.",
            date=t.date(upcoming.due_at.astimezone(t.tz).date()),
        )
    else:
        text = t.gettext("No more follow-ups are planned for you. Thank you for your answers.")
    turn.say(
        text,
        [
            [Button(t.gettext("Change return date"), "fu:date")],
            [Button(t.gettext("Stop follow-ups"), "fu:stop")],
        ],
    )


def ask_return_date(turn: Turn) -> None:
    turn.say(turn.t.gettext("On what date did you come back to Kosovo? Please write it like this: 15.03.2026"))
    turn.set_state(flow="followup", step="return_date")


async def typed(turn: Turn) -> bool:
    """The return date, typed; True when this turn was for the follow-up flow."""
    if turn.state.get("step") != "return_date" or turn.inbound.kind != "text" or turn.person.consent != "given":
        return False
    t = turn.t
    returned = parse_date(turn.inbound.text or "")
    today = turn.now.astimezone(t.tz).date()
    if returned is None:
        turn.say(t.gettext("That is not a date I can read. Please write it like this: 15.03.2026"))
        return True
    if returned > today:
        turn.say(t.gettext("That date is in the future. Please write the date you came back, like this: 15.03.2026"))
        return True
    if returned.year < 1990:
        turn.say(t.gettext("That date is too long ago. Please check it and write it again, like this: 15.03.2026"))
        return True
    contacts = await set_return_date(turn.session, turn.person, returned, turn.now)
    turn.set_state(flow="menu")
    planned = [c for c in contacts if c.status == "planned"]
    if planned:
        first = min(planned, key=lambda c: c.due_at)
        text = t.gettext(
            "Thank you. Your return date is {returned}. We will write to you on {date}.",
            returned=t.date(returned),
            date=t.date(first.due_at.astimezone(t.tz).date()),
        )
    else:
        text = t.gettext(
            "Thank you. Your return date is {returned}. The follow-up period for that date has "
            "already passed, so we will not send you questions.",
            returned=t.date(returned),
        )
    menu.show(turn, intro=text)
    return True


async def _start(turn: Turn, contact: FollowupContact) -> None:
    existing = await turn.session.get(Submission, contact.submission_id) if contact.submission_id else None
    if existing is not None and existing.status == "in_progress":
        await questionnaire.show(turn, existing)
        return
    submission = await questionnaire.start(turn, FORM_ID, wave=contact.wave)
    contact.submission_id = submission.id


async def button(turn: Turn, data: str) -> None:
    t = turn.t
    action, _, arg = data.partition(":")
    person = turn.person
    if person.consent != "given":  # an old button of someone who has since declined or erased
        menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))
        return
    if action == "consent" and arg in ("yes", "no"):
        granted = arg == "yes"
        turn.session.add(
            Consent(
                beneficiary_id=person.id,
                purpose="followup",
                version=FOLLOWUP_CONSENT_VERSION,
                granted=granted,
                locale=person.locale or "sq",
                created_at=turn.now,
            )
        )
        person.followup_consent = granted
        if granted:
            if person.return_date is None:
                ask_return_date(turn)
            else:
                await set_return_date(turn.session, person, person.return_date, turn.now)
                await show_status(turn)
        else:
            menu.show(turn, intro=t.gettext("All right. We will not send you follow-up questions."))
        return
    if action in ("start", "later") and arg.isdigit():
        contact = await turn.session.get(FollowupContact, int(arg))
        if contact is None or contact.beneficiary_id != person.id:
            menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))
        elif contact.status != "sent":
            menu.show(turn, intro=t.gettext("These follow-up questions are no longer open. Thank you."))
        elif action == "later":
            menu.show(turn, intro=t.gettext("All right. You can answer later from the menu, under My follow-up."))
        else:
            await _start(turn, contact)
        return
    if action == "date" and person.followup_consent:
        ask_return_date(turn)
        return
    if action == "stop":
        await stop(turn)
        menu.show(turn, intro=t.gettext("We have stopped your follow-ups. You can start them again from the menu."))
        return
    menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))


async def stop(turn: Turn) -> None:
    """No more follow-ups: consent withdrawn and every planned contact skipped as opted out."""
    person = turn.person
    if person.followup_consent:
        turn.session.add(
            Consent(
                beneficiary_id=person.id,
                purpose="followup",
                version=FOLLOWUP_CONSENT_VERSION,
                granted=False,
                locale=person.locale or "sq",
                created_at=turn.now,
            )
        )
    person.followup_consent = False
    await turn.session.execute(
        update(FollowupContact)
        .where(FollowupContact.beneficiary_id == person.id, FollowupContact.status.in_(("planned", "sent")))
        .values(status="skipped", reason="opted_out", updated_at=turn.now)
    )
    # An invitation or reminder queued a moment before (by the follow-up pass) does not go out either.
    stopped = (
        await turn.session.execute(
            update(OutboxItem)
            .where(
                OutboxItem.beneficiary_id == person.id,
                OutboxItem.lane == LANE_FOLLOWUP,
                OutboxItem.status == "pending",
            )
            .values(status="failed", last_error="follow-ups stopped")
            .returning(OutboxItem.message_id)
        )
    ).scalars()
    lines = [line for line in stopped if line is not None]
    if lines:
        await turn.session.execute(
            update(Message).where(Message.id.in_(lines)).values(status="failed", error="follow-ups stopped")
        )


async def completed(turn: Turn, submission: Submission, _questionnaire: Questionnaire) -> None:
    await turn.session.execute(
        update(FollowupContact)
        .where(FollowupContact.submission_id == submission.id)
        .values(status="answered", updated_at=turn.now)
    )
    menu.show(
        turn,
        intro=turn.t.gettext("Thank you for your answers. They are saved, and they help us help people who come back."),
    )


def register(router: Router, services: Services) -> None:
    router.buttons["fu"] = button
    router.flows["followup"] = typed
    menu.ACTIONS["followup"] = open_menu
    questionnaire.ON_COMPLETE[FORM_ID] = completed
    services.extras.setdefault("capabilities", set()).add("followup")
