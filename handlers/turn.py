"""What a handler works with: the inbound event, the person, replies, and the turn's services.

The event, reply and button types live in `bot.events` (below handlers and channels alike) and are
re-exported here for handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.events import Button, Inbound, Reply

__all__ = ["Button", "Inbound", "Reply", "Turn"]

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.i18n import Translations, Translator
    from bot.services import Services
    from db.models import Beneficiary, Conversation


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
