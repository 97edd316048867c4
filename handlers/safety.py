"""The safety screen: a message from someone who may be in danger is answered before anything else.

It runs on every typed message (and every caption or edit), whoever owns the conversation and
wherever the person is in it: with the bot, waiting for a caseworker, taken over by one, in the
middle of a questionnaire or a youth sign-up, even before they chose a language. The person gets
the emergency numbers at once; the conversation is flagged urgent and put in the caseworkers'
queue. The message waits in the transcript marked as a danger message, which the console shows
as an alert to whoever owns the conversation. The detection itself is `bot.kb.safety`.

```mermaid
stateDiagram-v2
    [*] --> screen: typed text, caption or edit, in any mode
    screen --> emergency: danger words
    screen --> [*]: nothing found (the turn goes on as usual)
    emergency --> [*]: numbers 112/192/193/194 · urgent · needs a caseworker · alert in the console
```
"""

from __future__ import annotations

from bot import handoffs, ownership
from bot.kb.safety import is_emergency
from handlers import faq
from handlers.turn import Inbound, Turn

NOT_SCREENED = ("command", "button")  # the bot's own commands and buttons carry no words of the person's


def in_danger(inbound: Inbound) -> bool:
    """Whether what arrived is words of someone who may be in danger right now."""
    if inbound.kind in NOT_SCREENED or not inbound.text:
        return False
    return is_emergency(inbound.text)


async def answer(turn: Turn) -> None:
    """The emergency numbers, an urgent flag, and the conversation in the caseworkers' queue."""
    with_caseworker = turn.conversation.mode == ownership.HUMAN
    if not with_caseworker:
        await faq._record(turn, "emergency")  # counted with the questions the bot answers
    first = len(turn.replies)
    faq.emergency(turn)
    if turn.person.locale is None:
        # No language chosen yet: the numbers in Serbian too, then the language picker as usual.
        turn.person.locale = "sr-Cyrl"
        try:
            faq.emergency(turn)
        finally:
            turn.person.locale = None
    if with_caseworker:
        for reply in turn.replies[first:]:
            reply.buttons = []  # a caseworker already has the conversation; the bot's buttons wait meanwhile
    await handoffs.danger(turn.session, turn.conversation, turn.now)
