"""What a handler works with: the inbound event, the person, replies, and the turn's services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.i18n import Translations, Translator
    from bot.services import Services
    from db.models import Beneficiary, Conversation


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass
class Reply:
    """One outgoing message: text, and optional inline buttons (rows of buttons)."""

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


@dataclass
class Turn:
    """One turn of a conversation: everything a handler may read, and where its replies go."""

    inbound: Inbound
    person: Beneficiary
    conversation: Conversation
    session: AsyncSession
    translations: Translations
    services: Services
    now: datetime
    replies: list[Reply] = field(default_factory=list)
    flooded: bool = False

    @property
    def t(self) -> Translator:
        """The translator for the person's locale (Albanian until they choose, only for the picker)."""
        return self.translations(self.person.locale or "sq")

    @property
    def state(self) -> dict[str, Any]:
        return self.conversation.state

    def set_state(self, **values: Any) -> None:
        """Replace the handler state (the engine's own `_` keys stay); stored with the rest of the turn."""
        kept = {k: v for k, v in self.conversation.state.items() if k.startswith("_")}
        self.conversation.state = {**kept, **values}

    def say(self, text: str, buttons: list[list[Button]] | None = None) -> None:
        self.replies.append(Reply(text=text, buttons=buttons or []))
