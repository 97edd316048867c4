"""The person's control over their data: /mydata, /delete and /stop, in their language.

```mermaid
stateDiagram-v2
    [*] --> copy: /mydata → a JSON file and a readable text file, sent through the bot (audited)
    [*] --> confirm: /delete → what will be erased, and a question
    confirm --> erased: del:yes → everything erased; a tombstone keeps the opt-out
    confirm --> menu: del:no
    [*] --> stopped: /stop → no follow-ups or announcements until /start
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.i18n import N_
from bot.privacy import PersonalData, as_json, as_text
from db.models import AuditEntry
from handlers import followup, menu
from handlers.turn import Button, Reply, Turn

if TYPE_CHECKING:
    from bot.services import Services
    from handlers.routes import Router

TITLES = {
    "profile": N_("Profile"),
    "consents": N_("Consents"),
    "transcript": N_("Conversation"),
    "questionnaires": N_("Questionnaire answers"),
    "follow_up_schedule": N_("Follow-up schedule"),
    "questions": N_("Questions to the knowledge base"),
    "sign_ups": N_("Youth programme sign-ups"),
    "files": N_("Photos and documents you sent"),
}


def _registry(turn: Turn) -> PersonalData:
    return turn.services.extras["personal_data"]  # type: ignore[no-any-return]


async def my_data(turn: Turn) -> None:
    t = turn.t
    person = turn.person
    if person.consent != "given":
        menu.show(turn, intro=t.gettext("We keep no personal data about you, so there is nothing to send."))
        return
    data = await _registry(turn).collect(turn.session, person)
    turn.session.add(
        AuditEntry(
            at=turn.now,
            actor=f"person:{person.id}",
            action="mydata",
            target=f"beneficiary:{person.id}",
            detail=None,
        )
    )
    titles = {key: t.gettext(title) for key, title in TITLES.items()}
    turn.say(t.gettext("Here is everything we keep about you: a file for computers (JSON) and a readable text file."))
    stamp = turn.now.astimezone(turn.translations.tz).strftime("%Y%m%d")
    turn.replies.append(
        Reply(
            t.gettext("Your data (JSON)"),
            document=(f"homeward-data-{stamp}.json", as_json(data).encode("utf-8")),
        )
    )
    text = as_text(data, t.gettext("Your data held by the mission"), titles)
    turn.replies.append(
        Reply(t.gettext("Your data (text)"), document=(f"homeward-data-{stamp}.txt", text.encode("utf-8")))
    )
    menu.show(turn)


async def delete(turn: Turn) -> None:
    t = turn.t
    if turn.person.consent not in ("given", "pending"):
        menu.show(turn, intro=t.gettext("We keep no personal data about you, so there is nothing to delete."))
        return
    turn.say(
        t.gettext(
            "If you confirm, we will erase everything we keep about you: your profile, this conversation, "
            "your questionnaire answers and your sign-ups. Caseworkers will only see that data was erased. "
            "We keep one anonymous mark so that we never write to you again. This cannot be undone.\n\n"
            "Do you want to erase your data?"
        ),
        [[Button(t.gettext("Yes, erase everything"), "del:yes"), Button(t.gettext("No, keep it"), "del:no")]],
    )
    turn.set_state(flow="menu", confirm_delete=True)


async def confirm(turn: Turn, answer: str) -> None:
    t = turn.t
    if not turn.state.get("confirm_delete") or answer not in ("yes", "no"):
        menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))
        return
    if answer == "no":
        menu.show(turn, intro=t.gettext("Nothing was erased."))
        return
    person = turn.person
    chat_key = turn.services.extras["chat_key"](person.channel, person.chat_id) if person.chat_id else None
    await _registry(turn).erase(turn.session, person, actor=f"person:{person.id}", chat_key=chat_key, now=turn.now)
    turn.set_state(flow="erased")
    turn.say(
        t.gettext(
            "Your data has been erased. We will not write to you again. "
            "If you want to use the service later, send /start."
        )
    )


async def stop(turn: Turn) -> None:
    t = turn.t
    turn.person.opted_out = True
    await followup.stop(turn)
    menu.show(
        turn,
        intro=t.gettext(
            "We will not send you follow-ups or announcements any more. "
            "You can still write to us. To receive them again, send /start."
        ),
    )


async def button(turn: Turn, action: str) -> None:
    """The privacy screen's buttons: `priv:mydata`, `priv:delete`."""
    if action == "mydata":
        await my_data(turn)
    elif action == "delete":
        await delete(turn)
    else:
        menu.show(turn, intro=turn.t.gettext("That button is no longer valid. Here is the current menu:"))


def register(router: Router, services: Services, personal_data: PersonalData) -> None:
    services.extras["personal_data"] = personal_data
    services.extras.setdefault("capabilities", set()).add("privacy")
    router.commands.update({"mydata": my_data, "delete": delete, "stop": stop})
    router.buttons["del"] = confirm
    router.buttons["priv"] = button
