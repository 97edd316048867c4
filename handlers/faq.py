"""Questions in the person's own words, answered from the knowledge base — safety first.

```mermaid
stateDiagram-v2
    [*] --> safety: free text
    safety --> emergency: danger, violence, self-harm, medical emergency
    emergency --> [*]: numbers 112/192/193/194, urgent flag, caseworker offered
    safety --> ranking
    ranking --> answer: confident (core answer + next step; "more"; "did this help?")
    ranking --> unsure: up to three topic buttons + caseworker
    ranking --> none: said honestly, caseworker offered, question kept for the content team
```
Buttons: `kb:t:<topic>` answers a topic, `kb:more:<question id>:<part>` shows the next part,
`kb:fb:<question id>:y|n` records whether the answer helped, `kb:menu` shows the menu.
A command an answer mentions (/human, /menu, /mydata, /delete) is offered as a button too, since
on a phone people tap; typing the command still works.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from bot import handoffs
from bot.kb import KnowledgeBase
from bot.kb.safety import is_emergency
from bot.municipalities import Municipalities
from db.models import KbQuestion
from db.session import append
from handlers import menu
from handlers.turn import Button, Turn

if TYPE_CHECKING:
    from bot.services import Services
    from handlers.routes import Router


def _kb(turn: Turn) -> KnowledgeBase:
    return turn.services.kb  # type: ignore[no-any-return]


def _lang(turn: Turn) -> str:
    return "sq" if (turn.person.locale or "sq") == "sq" else "sr"


def _caseworker_button(turn: Turn) -> list[Button]:
    if "handoff" in turn.services.extras.get("capabilities", set()) and turn.person.consent == "given":
        return [Button(turn.t.gettext("Talk to a caseworker"), "menu:human")]
    return []


_COMMANDS = re.compile(r"(?<![\w/])/(human|menu|mydata|delete)\b")


def command_buttons(turn: Turn, text: str) -> list[list[Button]]:
    """A button for each command the text tells the person to type, when that step is available to them."""
    t = turn.t
    capabilities = turn.services.extras.get("capabilities", set())
    consented = turn.person.consent == "given"
    rows: list[list[Button]] = []
    for command in dict.fromkeys(_COMMANDS.findall(text)):
        if command == "human":
            rows.extend([b] for b in _caseworker_button(turn))
        elif command == "menu":
            rows.append([Button(t.gettext("Main menu"), "kb:menu")])
        elif command in ("mydata", "delete") and consented and "privacy" in capabilities:
            label = t.gettext("Get a copy of my data") if command == "mydata" else t.gettext("Erase my data")
            rows.append([Button(label, f"priv:{command}")])
    return rows


async def _record(
    turn: Turn,
    outcome: str,
    *,
    topic: str | None = None,
    score: float | None = None,
    candidates: list[str] | None = None,
) -> int:
    """Keep the question for the content team; without consent, only an anonymous count.

    Returns the new row's id, which the answer's buttons carry (`db.session.append`).
    """
    kept = turn.person.consent == "given"
    row = {
        "conversation_id": turn.conversation.id if kept else None,
        "locale": turn.person.locale or "sq",
        "text": (turn.inbound.text or "")[:4096].replace("\x00", "\ufffd")
        if kept and turn.inbound.kind == "text"
        else None,
        "outcome": outcome,
        "topic": topic,
        "score": score,
        "candidates": candidates or [],
        "created_at": turn.now,
    }
    return await append(turn.session, KbQuestion, row)


def emergency(turn: Turn) -> None:
    """The emergency numbers (the caller flags the conversation: `bot.handoffs.danger`)."""
    t = turn.t
    buttons = _caseworker_button(turn)
    numbers = t.gettext(
        "If you or someone near you is in danger, call now:\n"
        "112 – emergencies (free, 24 hours)\n"
        "192 – police\n"
        "193 – fire brigade\n"
        "194 – ambulance"
    )
    if turn.person.consent == "given":
        numbers += "\n\n" + t.gettext("We have marked your conversation as urgent for our caseworkers.")
    turn.say(numbers, [buttons] if buttons else None)


async def ask(turn: Turn) -> None:
    """Free text from a person at the menu: the knowledge base's answer, or an honest 'not sure'."""
    text = turn.inbound.text or ""
    if is_emergency(text):
        await _record(turn, "emergency")
        emergency(turn)
        await handoffs.danger(turn.session, turn.conversation, turn.now)
        return
    kb = _kb(turn)
    if kb.embeddings is not None:
        # Embedding a question takes tens of milliseconds of CPU: off the event loop, so that other
        # chats go on meanwhile.
        match = await asyncio.to_thread(kb.match, text, _lang(turn))
    else:
        match = kb.match(text, _lang(turn))
    if match.kind == "answer" and match.topic_id is not None:
        question = await _record(turn, "answer", topic=match.topic_id, score=match.ranked[0][1])
        answer_topic(turn, match.topic_id, question)
        return
    t = turn.t
    if match.kind == "unsure":
        ids = [topic for topic, _ in match.ranked[:3]]
        question = await _record(turn, "unsure", score=match.ranked[0][1], candidates=ids)
        rows = [
            [Button(_kb(turn).topic(topic).title(turn.person.locale or "sq"), f"kb:t:{topic}:{question}")]
            for topic in ids
        ]
        if caseworker := _caseworker_button(turn):
            rows.append(caseworker)
        turn.say(t.gettext("I am not sure I understood. Did you mean one of these?"), rows)
        return
    await _record(turn, "none")
    caseworker = _caseworker_button(turn)
    turn.say(
        t.gettext("I do not have an answer to that question. I have noted it, so that we can add an answer.")
        + ("\n\n" + t.gettext("A caseworker can help you with it.") if caseworker else ""),
        [caseworker] if caseworker else None,
    )
    menu.show(turn, intro=t.gettext("You can also choose a topic from the menu:"))


def answer_topic(turn: Turn, topic_id: str, question_id: int) -> None:
    """The core answer and the next step in one message; the rest behind "More"; then "did this help?"."""
    t = turn.t
    locale = turn.person.locale or "sq"
    topic = _kb(turn).topic(topic_id)
    base = topic.parts(locale)
    municipality = Municipalities.name_of(turn.services.extras.get("municipalities"), turn.person.municipality, locale)
    local = [p for p in topic.parts(locale, municipality) if p not in base] if municipality else []
    first = [base[0], *base[1:][-1:], *local]
    rows: list[list[Button]] = command_buttons(turn, "\n".join(first))
    if len(base) > 2:
        rows.append([Button(t.gettext("More"), f"kb:more:{question_id}:1")])
    if municipality is None and turn.person.consent == "given" and len(topic.parts(locale, "·")) > len(base):
        rows.append([Button(t.gettext("For my municipality"), f"kb:where:{question_id}")])
    rows.append(
        [
            Button(t.gettext("Yes, it helped"), f"kb:fb:{question_id}:y"),
            Button(t.gettext("No"), f"kb:fb:{question_id}:n"),
        ]
    )
    source = ""
    if topic.sources:
        # The source as a link the person can open, and when the facts were last checked.
        checked = t.date(topic.checked) if topic.checked else ""
        source = "\n\n" + t.gettext(
            "Source: {title}\n{url}\nChecked on {date}.",
            title=topic.sources[0].title,
            url=topic.sources[0].url,
            date=checked,
        )
    turn.say(topic.title(locale) + "\n\n" + "\n\n".join(first) + source + "\n\n" + t.gettext("Did this help?"), rows)
    turn.set_state(flow="menu", kb_topic=topic_id)


async def _question(turn: Turn, raw_id: str) -> KbQuestion | None:
    """The question a button refers to, only if it belongs to this person (or is their anonymous one)."""
    if not raw_id.isdigit():
        return None
    row = await turn.session.get(KbQuestion, int(raw_id))
    if row is None:
        return None
    if row.conversation_id is not None and row.conversation_id != turn.conversation.id:
        return None
    return row


async def button(turn: Turn, data: str) -> None:
    t = turn.t
    action, _, rest = data.partition(":")
    if action == "menu":
        menu.show(turn)
        return
    if action == "t":
        topic_id, _, raw_id = rest.partition(":")
        row = await _question(turn, raw_id)
        if row is None or topic_id not in _kb(turn).topics or topic_id not in row.candidates:
            menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))
            return
        row.topic = topic_id
        answer_topic(turn, topic_id, row.id)
        return
    if action == "more":
        raw_id, _, raw_part = rest.partition(":")
        row = await _question(turn, raw_id)
        part = int(raw_part) if raw_part.isdigit() else 0
        base = _kb(turn).topic(row.topic).parts(turn.person.locale or "sq") if row and row.topic else []
        middle = base[1:-1]
        if row is None or not 1 <= part <= len(middle):
            menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))
            return
        rows = command_buttons(turn, middle[part - 1])
        if part < len(middle):
            rows.append([Button(t.gettext("More"), f"kb:more:{row.id}:{part + 1}")])
        turn.say(middle[part - 1], rows or None)
        return
    if action == "where":
        row = await _question(turn, rest)
        if row is None or row.topic is None or turn.person.consent != "given":
            menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))
            return
        turn.say(t.gettext("In which municipality do you live? Please write its name."))
        turn.set_state(flow="kb_where", question=row.id)
        return
    if action == "in":
        raw_id, _, municipality_id = rest.partition(":")
        row = await _question(turn, raw_id)
        municipalities = turn.services.extras["municipalities"]
        if row is None or row.topic is None or municipalities.get(municipality_id) is None:
            menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))
            return
        turn.person.municipality = municipality_id
        answer_topic(turn, row.topic, row.id)
        return
    if action == "fb":
        raw_id, _, answer = rest.partition(":")
        row = await _question(turn, raw_id)
        if row is None or answer not in ("y", "n"):
            menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))
            return
        row.helpful = answer == "y"
        if row.helpful:
            menu.show(turn, intro=t.gettext("Thank you for telling us. Is there anything else?"))
        else:
            caseworker = _caseworker_button(turn)
            turn.say(
                t.gettext(
                    "Thank you for telling us. We will use it to improve the answer. "
                    "You can write your question in other words, or choose from the menu."
                ),
                [caseworker] if caseworker else None,
            )
            menu.show(turn)
        return
    menu.show(turn, intro=t.gettext("That button is no longer valid. Here is the current menu:"))


async def where(turn: Turn) -> bool:
    """The person's municipality, typed in either language or script, for an answer that depends on it."""
    if turn.state.get("flow") != "kb_where" or turn.inbound.kind != "text":
        return False
    t = turn.t
    locale = turn.person.locale or "sq"
    row = await _question(turn, str(turn.state.get("question", "")))
    found = turn.services.extras["municipalities"].search(turn.inbound.text or "")
    if row is None or row.topic is None:
        menu.show(turn)
    elif not found:
        turn.say(
            t.gettext(
                "I could not find that municipality. Please write its name again, for example: "
                "Prizren, Gjilan, Gračanica."
            )
        )
    elif len(found) == 1:
        turn.person.municipality = found[0].id
        answer_topic(turn, row.topic, row.id)
    else:
        turn.say(
            t.gettext("Which one do you mean?"),
            [[Button(m.name(locale), f"kb:in:{row.id}:{m.id}")] for m in found],
        )
    return True


async def ask_action(turn: Turn) -> None:
    """The menu's "Ask a question"."""
    turn.say(turn.t.gettext("Please write your question in your own words. For example: “Where do I get an ID card?”"))
    turn.set_state(flow="menu")


def register(router: Router, services: Services) -> None:
    """Free text goes to the knowledge base; the menu gains "Ask a question"."""
    router.text = ask
    router.buttons["kb"] = button
    router.flows["kb_where"] = where
    menu.ACTIONS["ask"] = ask_action
    services.extras.setdefault("capabilities", set()).add("kb")
