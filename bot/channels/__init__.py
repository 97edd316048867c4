"""Channels: the places people write from (Telegram, WhatsApp, Viber, the web chat page) and how we reach them back.

Every channel is the same small interface (`Channel`): decode a stored inbound request into the
platform-neutral event, send an outbox row (rendering it within the platform's limits) and say
what a failed send means (`SendError` and its kinds). Handlers never see a platform; nothing here
imports `handlers/`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bot.events import Inbound

# Apps where a person's own message makes the bot reachable again (Viber subscribes whoever writes,
# without a `subscribed` callback): a message from them lifts a block.
WRITING_SUBSCRIBES = frozenset({"viber"})


@dataclass(frozen=True)
class Identity:
    """Who wrote, as the channel knows them."""

    channel: str
    user_id: str
    chat_id: str
    chat_type: str = "private"


@dataclass(frozen=True)
class Incoming:
    """A decoded update that belongs to a person's conversation."""

    identity: Identity
    inbound: Inbound


@dataclass(frozen=True)
class GroupChat:
    """An update from a group or channel: the bot answers once that it works in private chats only."""

    channel: str
    chat_id: str
    can_reply: bool
    callback_query_id: str | None = None  # a button pressed in the group: answered, so its spinner stops


@dataclass(frozen=True)
class MembershipChange:
    """The person blocked (or unblocked) the bot."""

    channel: str
    user_id: str
    blocked: bool


@dataclass(frozen=True)
class Partly:
    """An update read only in part (a shape newer than our library): what could be read, and why not the rest.

    `problem` names types and field paths only, never values; it is kept on the stored update.
    """

    decoded: Incoming | GroupChat | MembershipChange | None
    problem: str


Decoded = Incoming | GroupChat | MembershipChange | Partly | None


class SendError(Exception):
    """A send that did not go through; subclasses say what to do about it."""


class RetryLater(SendError):
    """The channel asked us to slow down (429): pause all sending for `seconds`."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry after {seconds}s")
        self.seconds = seconds


class Transient(SendError):
    """A server error, timeout or dropped connection: try this message again later."""


class Permanent(SendError):
    """The channel refused the message for good (e.g. 400 Bad Request); the reason is recorded."""


class Blocked(Permanent):
    """The person blocked the bot (403): they are marked opted out and not messaged again."""


class Skipped(Permanent):
    """Not sent, by the platform's rules (e.g. `outside_window`: WhatsApp's 24 hours passed and no
    template fits); the line is marked `skipped` with the reason, for caseworkers to see."""


@dataclass(frozen=True)
class Sent:
    channel_message_id: str | None


class Sender(Protocol):
    """Sends one outbox row; raises a `SendError` saying what a failure means."""

    async def send(self, method: str, chat_id: str, payload: dict[str, Any]) -> Sent: ...


@dataclass(frozen=True)
class Parts:
    """Where a send of several messages stands (a long text in parts, a text and then its buttons).

    `done` messages were confirmed by the platform in earlier attempts; `confirmed(n)` records, durably,
    that the first `n` are. A retry after a failure part-way resumes after the last confirmed one, so
    the person gets each message once (only one in flight at a crash can go twice).
    """

    done: int
    confirmed: Callable[[int], Awaitable[None]]


class PartedSender(Protocol):
    """A sender whose one outbox row may become several messages: it resumes where `parts` says."""

    async def send(self, method: str, chat_id: str, payload: dict[str, Any], parts: Parts | None = None) -> Sent: ...


Message = TypeVar("Message")


async def send_parts(
    messages: Sequence[Message], send_one: Callable[[Message], Awaitable[str]], parts: Parts | None
) -> Sent:
    """Send `messages` in order, from the first not yet confirmed; each confirmation but the last is
    recorded (the last is the row's own `sent`). Returns the last message's id."""
    sent = ""
    for index in range(parts.done if parts is not None else 0, len(messages)):
        sent = await send_one(messages[index])
        if parts is not None and index + 1 < len(messages):
            await parts.confirmed(index + 1)
    return Sent(sent or None)


class Decoder(Protocol):
    def __call__(self, raw: str) -> Decoded: ...


@dataclass(frozen=True)
class Channel:
    """One platform behind the boundary: its name, how its stored events decode, and its sender."""

    name: str
    decode: Decoder
    sender: Sender
