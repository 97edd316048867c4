"""The main menu, help and the privacy summary: where every other capability is reached from.

A menu item appears only when its capability is present in this deployment, so no button leads
nowhere. Buttons carry `menu:<item>`; a press of an item that is no longer offered is answered
politely with the current menu.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.i18n import N_
from handlers.turn import Button, Turn

MenuAction = Callable[[Turn], Awaitable[None]]

# item key → (label msgid, capability that must be present, or None for always)
ITEMS: tuple[tuple[str, str, str | None], ...] = (
    ("ask", N_("Ask a question"), "kb"),
    ("followup", N_("My follow-up"), "followup"),
    ("youth", N_("Youth programme"), "youth"),
    ("human", N_("Talk to a caseworker"), "handoff"),
    ("lang", N_("Language"), None),
    ("privacy", N_("Privacy"), None),
    ("link", N_("Link another app"), "linking"),
)

# Filled by the capability modules that add menu actions (see handlers.routes).
ACTIONS: dict[str, MenuAction] = {}


def available(turn: Turn) -> list[str]:
    capabilities = turn.services.extras.get("capabilities", set())
    declined = turn.person.consent == "declined"
    keys = []
    for key, _label, capability in ITEMS:
        if capability is not None and capability not in capabilities:
            continue
        if declined and key in ("followup", "youth", "human"):
            continue  # these keep personal data, which this person chose not to give
        keys.append(key)
    return keys


def keyboard(turn: Turn) -> list[list[Button]]:
    t = turn.t
    labels = {key: label for key, label, _ in ITEMS}
    buttons = [Button(t.gettext(labels[key]), f"menu:{key}") for key in available(turn)]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def show(turn: Turn, *, intro: str | None = None) -> None:
    t = turn.t
    turn.say(intro or t.gettext("How can I help you? Choose from the menu or write your question."), keyboard(turn))
    turn.set_state(flow="menu")


def show_help(turn: Turn) -> None:
    t = turn.t
    turn.say(
        t.gettext(
            "I am Homeward, the assistant of the mission for people who have returned to Kosovo. "
            "I answer questions about documents, health, school, work, housing and social assistance, "
            "and I can connect you with a caseworker.\n\n"
            "Commands:\n"
            "/menu – the main menu\n"
            "/lang – change the language\n"
            "/help – this help\n"
            "/start – start again"
        )
    )
    show(turn)


def show_privacy(turn: Turn) -> None:
    t = turn.t
    person = turn.person
    if person.consent == "given" and person.consent_at is not None:
        status = t.gettext(
            "You agreed on {when} (notice version {version}).",
            when=t.datetime(person.consent_at),
            version=person.consent_version,
        )
    elif person.consent == "declined":
        status = t.gettext("You did not agree, so we keep nothing that you write.")
    else:
        status = t.gettext("You have not answered the consent question yet.")
    turn.say(
        t.gettext(
            "We keep your conversation so that caseworkers of the mission can help you. "
            "Only they can read it, and we share nothing without your explicit consent. "
            "Conversations are deleted 24 months after the last message.\n\n"
            "{status}\n\n"
            "If you think your data is misused, you can complain to the Information and Privacy Agency of Kosovo.",
            status=status,
        ),
        [
            [Button(t.gettext("Get a copy of my data"), "priv:mydata")],
            [Button(t.gettext("Erase my data"), "priv:delete")],
        ]
        if person.consent == "given" and "privacy" in turn.services.extras.get("capabilities", set())
        else None,
    )


async def choose(turn: Turn, key: str) -> None:
    if key not in available(turn):
        show(turn, intro=turn.t.gettext("That option is not available. Here is the current menu:"))
        return
    action = ACTIONS.get(key)
    if action is not None:
        await action(turn)
