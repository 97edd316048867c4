"""Linking another app: the menu item gives a one-time code; typing it in the other app links both.

```mermaid
stateDiagram-v2
    [*] --> code: menu → Link another app, or /link
    code --> linked: the code typed in another app within 15 minutes, or its link opened there (the engine redeems it)
    linked --> [*]: "the apps are linked", menu
    linked --> waiting: opened in Viber before subscribing (only the welcome can be sent)
    waiting --> [*]: the next turn (the language tapped in the welcome) says "the apps are linked"
```
"""

from __future__ import annotations

from bot import linking
from bot.channels import links
from bot.services import Services
from handlers import fallback, menu, onboarding
from handlers.routes import Router
from handlers.turn import Turn

CAPABILITY = "linking"


async def show_code(turn: Turn) -> None:
    t = turn.t
    if turn.person.locale is None:
        onboarding.ask_language(turn)
        return
    if turn.person.consent != "given":
        onboarding.ask_consent(turn)
        return
    code = await linking.new_code(turn.session, turn.services.pseudonym_key, turn.person, turn.now)
    text = t.gettext(
        "Your code is {code}. Open Homeward in your other app (Telegram, Viber or WhatsApp) and send "
        "this code there within 15 minutes. Then both apps are one conversation, with the same consents.",
        code=code,
    )
    found = links.other_apps(
        turn.services.settings,
        turn.services.extras.get("bot_username"),
        turn.person.channel or "",
        linking.start_parameter(code),
    )
    if found:
        text += "\n\n" + t.gettext("Or open the link for your other app on this phone:")
        text += "".join(f"\n{name}: {link}" for name, link in found)
    turn.say(text)


async def linked(turn: Turn) -> None:
    """The engine redeemed a code typed in this app: say so, and show the menu."""
    if not turn.inbound.payload.get(linking.LINKED_COMMAND):
        fallback.unknown_command(turn)  # typed as a command: only a redeemed code links
        return
    if turn.inbound.answered:  # nothing can be sent yet: said at the next turn, after onboarding's step
        turn.set_state(flow="onboarding", start_payload=linking.LINKED_COMMAND)
        return
    _say_linked(turn)


def _say_linked(turn: Turn) -> None:
    menu.show(turn, intro=turn.t.gettext("Done: this app is now linked. Your conversation continues here."))


async def linked_later(turn: Turn, payload: str) -> bool:
    """The continuation of a link redeemed while the app could send nothing (Viber before subscribing)."""
    if payload != linking.LINKED_COMMAND:
        return False
    _say_linked(turn)
    return True


def register(router: Router, services: Services) -> None:
    router.commands["link"] = show_code
    router.commands[linking.LINKED_COMMAND] = linked
    menu.ACTIONS["link"] = show_code
    if linked_later not in onboarding.START_CONTINUATIONS:
        onboarding.START_CONTINUATIONS.append(linked_later)
    services.extras.setdefault("capabilities", set()).add(CAPABILITY)
