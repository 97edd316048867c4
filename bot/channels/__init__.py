"""Channels: the places people write from (Telegram, the web chat page) and how we reach them back."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.turn import Inbound


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


@dataclass(frozen=True)
class Sent:
    channel_message_id: str | None
