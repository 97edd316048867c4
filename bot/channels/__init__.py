"""Channels: the places people write from (Telegram, WhatsApp, Viber, the web chat page) and how we reach them back.

Every channel is the same small interface (`Channel`): decode a stored inbound request into the
platform-neutral event, send an outbox row (rendering it within the platform's limits) and say
what a failed send means (`SendError` and its kinds). Handlers never see a platform; nothing here
imports `handlers/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

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


class Decoder(Protocol):
    def __call__(self, raw: str) -> Decoded: ...


@dataclass(frozen=True)
class Channel:
    """One platform behind the boundary: its name, how its stored events decode, and its sender."""

    name: str
    decode: Decoder
    sender: Sender
