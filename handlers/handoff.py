"""Hand-off to a caseworker: `/human`, the menu's "Talk to a caseworker", and requests from other handlers.

```mermaid
stateDiagram-v2
    bot --> human: /human · menu:human · request_handoff(turn, urgent)
    human --> human: /human again (told again when to expect an answer)
    human --> bot: a caseworker returns the conversation (console)
```

The person is told, in their language, when a caseworker will answer: within office hours
"today", otherwise the next opening time, in Kosovo's time zone. Office hours come from the
settings (`office_days`, ISO weekdays like "1-5"; `office_hours`, like "08:00-16:00").
With `auto_assign` on, a new hand-off is given to a signed-in caseworker in turn (`bot.assignment`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import assignment, handoffs, ownership
from bot.services import Services
from handlers import menu, onboarding
from handlers.routes import Router
from handlers.turn import Turn

CAPABILITY = "handoff"


@dataclass(frozen=True)
class OfficeHours:
    """When caseworkers answer: ISO weekdays and an opening and closing time, local to `tz`."""

    days: frozenset[int]
    opens: time
    closes: time
    tz: ZoneInfo

    @classmethod
    def parse(cls, days: str, hours: str, tz: str) -> OfficeHours:
        """`days` like "1-5" or "1,2,3,4,5,6"; `hours` like "08:00-16:00"."""
        chosen: set[int] = set()
        for part in days.split(","):
            first, _, last = part.strip().partition("-")
            chosen.update(range(int(first), int(last or first) + 1))
        if not chosen or not chosen <= set(range(1, 8)):
            raise ValueError(f"office days must be ISO weekdays 1-7: {days!r}")
        opens, _, closes = hours.partition("-")
        start, end = time.fromisoformat(opens.strip()), time.fromisoformat(closes.strip())
        if end <= start:
            raise ValueError(f"office hours must open before they close: {hours!r}")
        return cls(frozenset(chosen), start, end, ZoneInfo(tz))

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return local.isoweekday() in self.days and self.opens <= local.time() < self.closes

    def next_opening(self, moment: datetime) -> datetime:
        """The next time the office opens after `moment` (aware, in the office's zone)."""
        local = moment.astimezone(self.tz)
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            opening = datetime.combine(day, self.opens, self.tz)
            if day.isoweekday() in self.days and opening > local:
                return opening
        raise AssertionError("a week always holds an office day")


def office_hours(services: Services) -> OfficeHours:
    settings = services.settings
    return OfficeHours.parse(settings.office_days, settings.office_hours, settings.timezone)


async def request_handoff(turn: Turn, urgent: bool = False) -> None:
    """Put the conversation in the human queue and tell the person when a caseworker will answer."""
    t = turn.t
    if turn.person.consent != "given":
        turn.say(
            t.gettext(
                "A caseworker can read your messages only if you agree that we keep them. "
                "Send /start to change your choice."
            )
        )
        return
    if not turn.conversation.needs_human:
        handoffs.began(turn.session, turn.conversation, urgent=urgent, now=turn.now)
        settings = turn.services.settings
        if settings.auto_assign:
            idle = timedelta(minutes=settings.console_session_idle_minutes)
            await assignment.assign_new_handoff(turn.session, turn.conversation, turn.person, turn.now, idle)
    elif urgent:
        await handoffs.turned_urgent(turn.session, turn.conversation.id)
    ownership.request_human(turn.conversation, urgent=urgent, now=turn.now)
    hours = office_hours(turn.services)
    if hours.is_open(turn.now):
        when = t.gettext(
            "A caseworker will answer you here as soon as possible, today before {closes}.",
            closes=hours.closes.strftime("%H:%M"),
        )
    else:
        when = t.gettext(
            "Caseworkers answer on working days from {opens} to {closes}. "
            "A caseworker will answer you here from {moment}.",
            opens=hours.opens.strftime("%H:%M"),
            closes=hours.closes.strftime("%H:%M"),
            moment=t.datetime(hours.next_opening(turn.now)),
        )
    parts = [t.gettext("Thank you. I have passed your conversation to a caseworker."), when]
    if urgent:
        parts.append(t.gettext("Your request is marked as urgent."))
    parts.append(
        t.gettext(
            "Until then I will not answer your messages automatically. You can keep writing here; "
            "the caseworker will read everything. Send /menu at any time to use the menu."
        )
    )
    turn.say("\n\n".join(parts))


async def _human(turn: Turn) -> None:
    if turn.person.locale is None:
        onboarding.ask_language(turn)
    elif turn.person.consent == "pending":
        onboarding.ask_consent(turn)
    else:
        await request_handoff(turn)


async def _menu_human(turn: Turn) -> None:
    await request_handoff(turn)


def register(router: Router, services: Services) -> None:
    """Add `/human`, the menu item and the capability that makes the menu show it."""
    office_hours(services)  # a malformed setting fails at start, not in a person's chat
    router.commands["human"] = _human
    menu.ACTIONS["human"] = _menu_human
    services.extras.setdefault("capabilities", set()).add(CAPABILITY)
