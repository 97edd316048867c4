"""Linking another app: the menu item gives a one-time code; typing it in the other app links both.

```mermaid
stateDiagram-v2
    [*] --> code: menu → Link another app, or /link
    code --> linked: the code typed in another app within 15 minutes (the engine redeems it)
    linked --> [*]: "the apps are linked", menu
```
"""

from __future__ import annotations

from bot import linking
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
    turn.say(
        t.gettext(
            "Your code is {code}. Open Homeward in your other app (Telegram, Viber or WhatsApp) and send "
            "this code there within 15 minutes. Then both apps are one conversation, with the same consents.",
            code=code,
        )
    )


async def linked(turn: Turn) -> None:
    """The engine redeemed a code typed in this app: say so, and show the menu."""
    if not turn.inbound.payload.get(linking.LINKED_COMMAND):
        fallback.unknown_command(turn)  # typed as a command: only a redeemed code links
        return
    menu.show(turn, intro=turn.t.gettext("Done: this app is now linked. Your conversation continues here."))


def register(router: Router, services: Services) -> None:
    router.commands["link"] = show_code
    router.commands[linking.LINKED_COMMAND] = linked
    menu.ACTIONS["link"] = show_code
    services.extras.setdefault("capabilities", set()).add(CAPABILITY)
