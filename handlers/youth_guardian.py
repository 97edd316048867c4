"""A parent's or guardian's consent for a sign-up of someone under 18, given from their own messaging account.

The young person forwards a one-time link (`/start g_<token>`, valid for 7 days; only its hash is
stored) that opens the app they use themselves (`bot.channels.links`; from the web chat, any app
this deployment speaks). Whoever opens it first claims it; their answer uses it up and the young person is told.

The consent must come from another person than the young one: from a chat identity that is an
account of one person (`GUARDIAN_CHANNELS`) and is not the young person's. The web chat is not
such an identity: anyone can open a new session, the young person included, so a link opened
there is refused and the sign-up waits for a coordinator (`homeward youth guardian-confirm`).
The confirmation records the channel it came from.

```mermaid
stateDiagram-v2
    [*] --> onboarding: /start g_<token> from a new account (language, consent; the token waits)
    [*] --> question: /start g_<token> from an onboarded account
    onboarding --> question: consent given
    question --> confirmed: yo:g:<sign-up>:all · yo:g:<sign-up>:nomedia (place confirmed)
    question --> refused: yo:g:<sign-up>:no (sign-up cancelled, place offered onward)
    [*] --> invalid: used, expired, claimed by someone else, or opened by the young person
    [*] --> elsewhere: opened in the web chat (the sign-up waits for a coordinator)
```
"""

from __future__ import annotations

from datetime import datetime

from bot.channels import links
from bot.youth.enrolments import by_guardian_token, cancel, waiting_position
from bot.youth.notices import group_line, send, status_line
from bot.youth.waiting import ACTIVE
from db.models import Consent
from db.youth import Cohort, Enrolment, Programme
from handlers import menu
from handlers.turn import Button, Reply, Turn
from handlers.youth_signup import CONSENT_VERSION, place_name, stale

# Channels where a chat identity is one person's own account, tied to a phone number (Telegram,
# WhatsApp, Viber); a web chat session proves nobody's identity.
GUARDIAN_CHANNELS = frozenset(links.PHONE_APPS)


def _link_usable(enrolment: Enrolment | None, now: datetime) -> bool:
    return (
        enrolment is not None
        and enrolment.guardian_token_hash is not None
        and enrolment.guardian_token_expires_at is not None
        and enrolment.guardian_token_expires_at > now
        and enrolment.status in (*ACTIVE,)
        and enrolment.guardian_state == "pending"
    )


async def guardian_opened(turn: Turn, token: str) -> None:
    t = turn.t
    enrolment = await by_guardian_token(turn.session, token)
    if (
        enrolment is None
        or not _link_usable(enrolment, turn.now)
        or enrolment.guardian_claimed_by not in (None, turn.person.id)
    ):
        menu.show(
            turn,
            intro=t.gettext(
                "This link no longer works. A link for a parent or guardian works once and for 7 days. "
                "The young person can send a new one from the menu, under Youth programme."
            ),
        )
        return
    if turn.person.channel not in GUARDIAN_CHANNELS:
        menu.show(
            turn,
            intro=t.gettext(
                "This link works only in the parent's or guardian's own messaging app ({apps}), so that we "
                "know the consent comes from them. Please open it there. If they cannot use any of these "
                "apps, please contact the programme's coordinator, who can record the consent.",
                apps=", ".join(links.APP_NAMES[app] for app in links.apps_on(turn.services.settings))
                or links.APP_NAMES["telegram"],
            ),
        )
        return
    if enrolment.beneficiary_id == turn.person.id:
        menu.show(
            turn,
            intro=t.gettext(
                "This link is for your parent or guardian. Please send it to them: they need to open it on "
                "their own phone, in the {app} app.",
                app=links.APP_NAMES.get(turn.person.channel or "", turn.person.channel or ""),
            ),
        )
        return
    enrolment.guardian_claimed_by = turn.person.id
    programme = await turn.session.get(Programme, enrolment.programme_id)
    cohort = await turn.session.get(Cohort, enrolment.cohort_id) if enrolment.cohort_id else None
    group = (
        group_line(t, programme, cohort, place_name(turn, cohort.municipality) if cohort else None)
        if programme is not None
        else ""
    )
    text = t.gettext(
        "{name}, born on {date}, has signed up for the youth programme.\n{group}\n\n"
        "They named you as their parent or guardian: {guardian}. Because they are under 18, their place "
        "is confirmed only with your consent. Do you agree that they take part?",
        name=enrolment.full_name or "",
        date=t.date(enrolment.birth_date) if enrolment.birth_date else "",
        group=group,
        guardian=enrolment.guardian_name or "",
    )
    data = f"yo:g:{enrolment.id}:"
    if enrolment.media_consent:
        text += "\n\n" + t.gettext(
            "They also agreed that photos or videos in which they can be seen may be used "
            "for the programme. Do you agree to that as well?"
        )
        buttons = [
            [Button(t.gettext("Yes, to both"), data + "all")],
            [Button(t.gettext("Yes, but no photos or videos"), data + "nomedia")],
            [Button(t.gettext("No, I do not agree"), data + "no")],
        ]
    else:
        buttons = [
            [Button(t.gettext("Yes, I agree"), data + "nomedia")],
            [Button(t.gettext("No, I do not agree"), data + "no")],
        ]
    turn.say(text, buttons)
    turn.set_state(flow="menu")


async def guardian_answered(turn: Turn, raw_id: str, answer: str) -> None:
    t = turn.t
    enrolment = await turn.session.get(Enrolment, int(raw_id)) if raw_id.isdigit() else None
    if (
        enrolment is None
        or enrolment.guardian_claimed_by != turn.person.id
        or enrolment.beneficiary_id == turn.person.id
        or turn.person.channel not in GUARDIAN_CHANNELS
        or not _link_usable(enrolment, turn.now)
        or answer not in ("all", "nomedia", "no")
    ):
        stale(turn)
        return
    agreed = answer != "no"
    turn.session.add(
        Consent(
            beneficiary_id=turn.person.id,
            purpose="guardian",
            version=CONSENT_VERSION,
            granted=agreed,
            locale=turn.person.locale or "sq",
            created_at=turn.now,
        )
    )
    enrolment.guardian_token_hash = None  # the link is used up
    enrolment.updated_at = turn.now
    name = enrolment.full_name or ""
    if agreed:
        enrolment.guardian_state = "confirmed"
        enrolment.guardian_confirmed_at = turn.now
        enrolment.guardian_confirmed_by = turn.person.channel  # where the consent came from
        enrolment.media_consent = bool(enrolment.media_consent and answer == "all")
        if enrolment.status == "pending_guardian":
            enrolment.status = "confirmed"
        cohort = await turn.session.get(Cohort, enrolment.cohort_id) if enrolment.cohort_id else None
        position = await waiting_position(turn.session, enrolment)
        await send(
            turn.session,
            turn.translations,
            enrolment.beneficiary_id,
            lambda tr: Reply(
                tr.gettext("Your parent or guardian has agreed.") + " " + status_line(tr, enrolment, cohort, position)
            ),
            turn.now,
        )
        menu.show(turn, intro=t.gettext("Thank you. Your consent is recorded, and {name} will be told.", name=name))
        return
    enrolment.guardian_state = "refused"
    if enrolment.status in ACTIVE:
        cancel(enrolment, turn.now, "guardian_refused")
    await send(
        turn.session,
        turn.translations,
        enrolment.beneficiary_id,
        lambda tr: Reply(
            tr.gettext(
                "Your parent or guardian did not agree, so your sign-up is cancelled. If this is a mistake, "
                "you can sign up again from the menu."
            )
        ),
        turn.now,
    )
    menu.show(turn, intro=t.gettext("Understood. The sign-up of {name} is cancelled.", name=name))
