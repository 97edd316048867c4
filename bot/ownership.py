"""Who owns a conversation: the bot, a caseworker, or no one (closed). The one place that decides.

```mermaid
stateDiagram-v2
    bot --> human: person asks for a caseworker (/human, menu, urgent) · caseworker takes over
    human --> human: another caseworker takes over (reassigned)
    human --> bot: caseworker returns it to the bot
    bot --> closed: caseworker closes
    human --> closed: caseworker closes
    closed --> bot: the person writes again
```

In `human` the bot answers commands and button taps only; what the person types or sends waits
for the caseworker, except a message from someone who may be in danger, which gets the emergency numbers in every mode
(`handlers.safety`) and flags the conversation urgent for its caseworker. `needs_human`
means "a person is waiting for a caseworker's answer": set by a request, cleared by a reply.
The engine and the console both change a conversation only through these functions.

Beside who owns it, an open conversation has a status for the caseworkers' queue:

```mermaid
stateDiagram-v2
    open --> pending: caseworker (waiting on the person or another party)
    open --> snoozed: caseworker, until a time
    pending --> open: caseworker
    snoozed --> open: the time passes · the person writes · urgent
    pending --> closed: caseworker closes (so do open and snoozed)
```

A snoozed conversation is hidden from the open views until it wakes. Closing resets the status,
so a closed conversation the person opens again is open.
"""

from __future__ import annotations

from datetime import datetime

from db.models import Conversation

BOT, HUMAN, CLOSED = "bot", "human", "closed"
OPEN, PENDING, SNOOZED = "open", "pending", "snoozed"
STATUSES = (OPEN, PENDING, SNOOZED, CLOSED)


def status_of(conversation: Conversation) -> str:
    """open, pending, snoozed or closed: what the inbox and the API call the conversation."""
    return CLOSED if conversation.mode == CLOSED else (conversation.status or OPEN)


def set_status(conversation: Conversation, status: str, now: datetime, until: datetime | None = None) -> None:
    """Open, pending, or snoozed `until` a later time (closing is `close`)."""
    if status not in (OPEN, PENDING, SNOOZED) or (status == SNOOZED) != (until is not None):
        raise ValueError(status)
    conversation.status = status
    conversation.snoozed_until = until
    conversation.updated_at = now


def wake(conversation: Conversation, now: datetime) -> bool:
    """A snoozed conversation is open again; True if it was snoozed."""
    if conversation.status != SNOOZED:
        return False
    set_status(conversation, OPEN, now)
    return True


def bot_answers(conversation: Conversation, inbound_kind: str) -> bool:
    """Whether the bot handles an inbound message of this kind now.

    Commands and button taps always work: a tap answers a question the bot asked (confirming an
    erasure, choosing a language, the menu's own buttons), so it is the person's act, like a command,
    not words for the caseworker.
    """
    return conversation.mode != HUMAN or inbound_kind in ("command", "button")


def person_wrote(conversation: Conversation, now: datetime) -> bool:
    """A closed conversation opens again, with the bot, when the person writes; a snoozed one wakes.

    True when it woke from a snooze (the engine records that)."""
    if conversation.mode == CLOSED:
        conversation.mode = BOT
    return wake(conversation, now)


def request_human(conversation: Conversation, *, urgent: bool, now: datetime) -> None:
    """The person (or a safety rule) asks for a caseworker: into the human queue."""
    if not conversation.needs_human:
        conversation.handoff_at = now  # a new wait begins (reports and integrations count from here)
    conversation.mode = HUMAN
    conversation.needs_human = True
    conversation.urgent = conversation.urgent or urgent
    conversation.updated_at = now
    if urgent:
        wake(conversation, now)


def flag_danger(conversation: Conversation, now: datetime) -> None:
    """The person may be in danger: urgent, waiting for a caseworker, whoever owns the conversation, and
    never snoozed."""
    if not conversation.needs_human:
        conversation.handoff_at = now  # a new wait begins, as with a request
    conversation.urgent = True
    conversation.needs_human = True
    conversation.updated_at = now
    wake(conversation, now)


def take_over(conversation: Conversation, staff_id: int, now: datetime) -> None:
    """A caseworker owns the conversation from now on; the bot stays silent."""
    conversation.mode = HUMAN
    conversation.assignee_id = staff_id
    conversation.updated_at = now


def can_reply(conversation: Conversation, staff_id: int) -> bool:
    """Only the caseworker who owns a conversation writes in it."""
    return conversation.mode == HUMAN and conversation.assignee_id == staff_id


def replied(conversation: Conversation, now: datetime) -> None:
    conversation.needs_human = False
    conversation.updated_at = now
    conversation.last_message_at = now


def return_to_bot(conversation: Conversation, now: datetime) -> None:
    conversation.mode = BOT
    conversation.needs_human = False
    conversation.urgent = False
    conversation.updated_at = now


def close(conversation: Conversation, now: datetime) -> None:
    conversation.mode = CLOSED
    conversation.needs_human = False
    conversation.urgent = False
    set_status(conversation, OPEN, now)


def assign(conversation: Conversation, staff_id: int | None, now: datetime) -> None:
    """Who should answer, without taking the conversation from the bot yet."""
    conversation.assignee_id = staff_id
    conversation.updated_at = now
