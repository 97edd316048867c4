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

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bot.forms.prompts import form_text, shown
from bot.media import shown_as
from bot.municipalities import Municipalities
from bot.privacy import PersonalData, as_json
from bot.privacy_text import Lookups, as_text, readable_key
from bot.youth.enrolments import name_in
from db.models import AuditEntry
from db.youth import Cohort, Programme
from handlers import followup, menu
from handlers.turn import Button, Reply, Turn

if TYPE_CHECKING:
    from bot.services import Services
    from handlers.routes import Router


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
    turn.say(t.gettext("Here is everything we keep about you: a file for computers (JSON) and a readable text file."))
    stamp = turn.now.astimezone(turn.translations.tz).strftime("%Y%m%d")
    turn.replies.append(
        Reply(
            t.gettext("Your data (JSON)"),
            document=(f"homeward-data-{stamp}.json", as_json(data).encode("utf-8")),
        )
    )
    text = as_text(data, t, await _lookups(turn, data))
    turn.replies.append(
        Reply(t.gettext("Your data (text)"), document=(f"homeward-data-{stamp}.txt", text.encode("utf-8")))
    )
    menu.show(turn)


async def _lookups(turn: Turn, data: Mapping[str, Any]) -> Lookups:
    """What the readable copy names in the person's language: places, programmes, groups, topics, questions."""
    locale = turn.t.locale
    extras = turn.services.extras
    municipalities: Municipalities | None = extras.get("municipalities")
    signups = [s for s in data.get("youth_signups", []) if isinstance(s, Mapping)]
    programmes: dict[Any, str] = {}
    cohorts: dict[Any, str] = {}
    if ids := {s["programme"] for s in signups if s.get("programme") is not None}:
        rows = await turn.session.execute(select(Programme).where(Programme.id.in_(ids)))
        programmes = {p.id: name_in(locale, p.name_sq, p.name_sr) for p in rows.scalars()}
    if ids := {s["cohort"] for s in signups if s.get("cohort") is not None}:
        rows = await turn.session.execute(select(Cohort).where(Cohort.id.in_(ids)))
        cohorts = {c.id: name_in(locale, c.name_sq, c.name_sr) for c in rows.scalars()}

    def topic(topic_id: Any) -> str | None:
        try:
            return turn.services.kb.topic(str(topic_id)).title(locale) or None
        except (KeyError, AttributeError):
            return None

    def answers(form_id: str, values: Mapping[str, Any]) -> list[tuple[str, Any]] | None:
        found = extras.get("questionnaires")
        questionnaire = found.get(form_id) if found is not None else None
        if questionnaire is None:
            return None
        form = questionnaire.form
        nodes = {node.key: node for node in form.nodes}
        pairs = []
        for key, value in values.items():
            node = nodes.get(re.sub(r"(\[\d+\])+$", "", str(key)))
            if node is None:
                pairs.append((readable_key(str(key)), value))  # a question no longer in the form
                continue
            label = form_text(form, node.labels, locale) or readable_key(node.name)
            pairs.append((label, shown(form, node, value, locale)))
        return pairs

    return Lookups(
        names={
            "municipality": lambda m: Municipalities.name_of(municipalities, m, locale),
            "programme": programmes.get,
            "cohort": cohorts.get,
            "topic": topic,
        },
        answers=answers,
        media_kind=shown_as,
    )


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
