"""What handlers and channels exchange: the inbound event, a reply and its buttons.

These types sit below both `handlers/` and `bot/channels/`: a channel decodes a platform's
request into an `Inbound`, a handler answers with `Reply` objects, and a channel renders those
within its platform's limits. Nothing here knows any platform, and nothing here imports handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.i18n import N_


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass
class Reply:
    """One outgoing message: text, and optional buttons (rows of buttons)."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    document: tuple[str, bytes] | None = None  # (file name, content) sent as a file


@dataclass
class Inbound:
    """What arrived, reduced to what handlers need; the same for every channel.

    kind: text | command | button | photo | voice | audio | video | video_note | document |
    location | contact | sticker | edit | other.
    """

    kind: str
    text: str | None = None
    command: str | None = None
    args: str = ""
    data: str | None = None
    file_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    channel_message_id: str | None = None
    update_id: int | None = None
    language_code: str | None = None
    display_name: str | None = None
    sent_at: datetime | None = None  # when the person sent it, as the channel says
    # The channel answered this event itself (Viber's welcome to someone not yet subscribed): the turn
    # runs, its replies are not sent.
    answered: bool = False


# What a line without words is, in words: the console and the person's copy of their data say the same.
KIND_LABELS = {
    "photo": N_("Photo"),
    "voice": N_("Voice message"),
    "audio": N_("Audio file"),
    "video": N_("Video"),
    "video_note": N_("Video message"),
    "document": N_("Document"),
    "sticker": N_("Sticker"),
    "location": N_("Location"),
    "contact": N_("Contact"),
    "other": N_("Other message"),
    "edit": N_("Edited message"),
    "button": N_("Button pressed"),
}
