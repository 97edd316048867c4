"""The services a turn may use, built once by the composition root and passed to every turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.clock import Clock

if TYPE_CHECKING:
    from bot.config import Settings


@dataclass
class Services:
    """Capabilities present in this deployment; a menu item is shown only when its capability is."""

    settings: Settings
    clock: Clock
    pseudonym_key: bytes
    previous_keys: tuple[bytes, ...] = ()
    kb: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
