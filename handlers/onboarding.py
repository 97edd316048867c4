"""First contact: language and script, then the privacy notice and the consent question.

```mermaid
stateDiagram-v2
    [*] --> lang: /start, /lang, or any message before a language is chosen
    lang --> consent: lang:sq · lang:sr-Cyrl · lang:sr-Latn (consent not yet given for this version)
    lang --> menu: language changed (consent already given)
    consent --> menu: consent:yes (consent recorded with version, time, language)
    consent --> menu: consent:no (transcript removed; general information only, nothing kept)
    consent --> capability: consent:yes after a deep link (`/start youth…`): its continuation takes over
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import delete

from bot.i18n import N_, Translations
from db.models import Consent, Message
from handlers import menu
from handlers.turn import Button, Turn

# Raise when the privacy notice changes: everyone is asked again at their next contact.
CONSENT_VERSION = 1
LANGUAGE_BUTTONS = (("sq", "Shqip"), ("sr-Latn", "Srpski (latinica)"), ("sr-Cyrl", "Српски (ћирилица)"))
# A deep link's payload (`/start <payload>`) waits in the state while language and consent are
# settled; then each continuation is offered it, and the first that returns True takes over from the menu.
START_CONTINUATIONS: list[Callable[[Turn, str], Awaitable[bool]]] = []


def _carried(turn: Turn) -> dict[str, str]:
    payload = turn.state.get("start_payload")
    return {"start_payload": payload} if isinstance(payload, str) and payload else {}


async def continue_start(turn: Turn) -> bool:
    """After onboarding: hand a waiting deep-link payload to the capability that owns it."""
    payload = _carried(turn).get("start_payload")
    if payload is None or needs_consent(turn):
        return False
    for continuation in START_CONTINUATIONS:
        if await continuation(turn, payload):
            return True
    return False


def needs_consent(turn: Turn) -> bool:
    """True until consent to the current notice is given (a person who declined may change their mind)."""
    person = turn.person
    return person.consent != "given" or (person.consent_version or 0) < CONSENT_VERSION


def language_picker(
    translations: Translations, suggested: str | None, *, invalid: bool = False
) -> tuple[str, list[list[Button]]]:
    """The picker's text and buttons; it speaks all three locales at once, the suggested one first."""
    order = sorted(LANGUAGE_BUTTONS, key=lambda item: item[0] != suggested)
    buttons = [[Button(("✓ " if code == suggested else "") + label, f"lang:{code}")] for code, label in order]
    key = (
        N_("That choice is not available. Please choose a language:") if invalid else N_("Please choose your language:")
    )
    lines = [translations(code).gettext(key) for code in ("sq", "sr-Latn", "sr-Cyrl")]
    return "\n".join(lines), buttons


def ask_language(turn: Turn, *, invalid: bool = False) -> None:
    """The picker speaks all three locales at once: nobody has chosen yet, so none comes first by default."""
    suggested = turn.translations.guess(turn.inbound.language_code) or turn.person.locale
    if not turn.inbound.payload.get("welcomed"):  # on Viber the app's welcome already showed the picker
        turn.say(*language_picker(turn.translations, suggested, invalid=invalid))
    turn.set_state(flow="onboarding", step="lang", **_carried(turn))


def ask_consent(turn: Turn) -> None:
    t = turn.t
    turn.say(
        t.gettext(
            "How we look after your information (version {version})\n\n"
            "Who: the mission's return and reintegration team keeps this conversation.\n"
            "Why: to answer your questions, to follow up on how you are doing if you agree, "
            "and to sign you up for programmes you choose.\n"
            "What: your messages, the language you chose, and what you tell us in questionnaires.\n"
            "How long: until 24 months after your last message; then it is deleted.\n"
            "Who sees it: only caseworkers of the mission who work with you. "
            "We share nothing with others without your explicit consent.\n"
            "Your rights: you can see a copy of your data (/mydata), ask us to delete it (/delete), "
            "and withdraw consent at any time.\n"
            "Complaints: the Information and Privacy Agency of Kosovo.",
            version=CONSENT_VERSION,
        )
    )
    turn.say(
        t.gettext("Do you agree that we keep this conversation for these purposes?"),
        [[Button(t.gettext("Yes, I agree"), "consent:yes"), Button(t.gettext("No"), "consent:no")]],
    )
    turn.set_state(flow="onboarding", step="consent", **_carried(turn))


async def choose_language(turn: Turn, code: str) -> None:
    if code not in dict(LANGUAGE_BUTTONS):
        ask_language(turn, invalid=True)
        return
    turn.person.locale = code
    if needs_consent(turn):
        ask_consent(turn)
        return
    turn.say(turn.t.gettext("Language changed."))
    if await continue_start(turn):
        return
    menu.show(turn)


async def answer_consent(turn: Turn, answer: str) -> None:
    t = turn.t
    if turn.state.get("step") != "consent":
        # A consent button from an earlier message: the answer given then stands.
        if needs_consent(turn):
            ask_consent(turn)
        else:
            menu.show(
                turn,
                intro=t.gettext("Your answer is already recorded. You can review it under Privacy in the menu."),
            )
        return
    if answer not in ("yes", "no"):
        turn.say(t.gettext("That button is no longer valid."))
        ask_consent(turn)
        return
    person = turn.person
    granted = answer == "yes"
    locale = person.locale or "sq"
    if not granted:
        if person.consent == "given":
            # Agreed before, declines the new notice: everything kept under the old consent goes.
            chat_key = turn.services.extras["chat_key"](person.channel, person.chat_id) if person.chat_id else None
            await turn.services.extras["personal_data"].erase(
                turn.session, person, actor=f"person:{person.id}", chat_key=chat_key, now=turn.now
            )
            person.locale = locale
        await forget_transcript(turn)
    turn.session.add(
        Consent(
            beneficiary_id=person.id,
            purpose="general",
            version=CONSENT_VERSION,
            granted=granted,
            locale=locale,
            created_at=turn.now,
        )
    )
    person.consent = "given" if granted else "declined"
    person.consent_version = CONSENT_VERSION
    person.consent_at = turn.now
    person.consent_locale = locale
    if granted:
        person.opted_out = False
        turn.say(t.gettext("Thank you. Welcome to Homeward."))
        if await continue_start(turn):
            return
    else:
        turn.say(
            t.gettext(
                "Understood. We will not keep what you write. You can still read general information. "
                "If you change your mind, send /start."
            )
        )
    menu.show(turn)


async def forget_transcript(turn: Turn) -> None:
    """Keep only the pseudonymous marker that this person declined: no identity, no messages."""
    person = turn.person
    await turn.session.execute(delete(Message).where(Message.conversation_id == turn.conversation.id))
    person.channel_user_id = None
    person.chat_id = None
    person.display_name = None
    person.source = None
