"""The channel boundary: what handlers and channels share lives below both, and no lower layer imports handlers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BELOW_HANDLERS = (
    "bot.events",
    "bot.outbox",
    "bot.delivery",
    "bot.channels",
    "bot.channels.telegram",
    "bot.channels.whatsapp",
    "bot.channels.webchat",
    "bot.channels.receipts",
    "bot.channels.labels",
    "bot.services",
    "bot.config",
)


def test_outbox_delivery_and_channels_import_nothing_from_handlers() -> None:
    probe = (
        f"import sys; import {', '.join(BELOW_HANDLERS)}; "
        "print(sorted(m for m in sys.modules if m.startswith('handlers')))"
    )
    found = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_handlers_still_find_the_shared_types_where_they_were() -> None:
    from bot.events import Button, Inbound, Reply
    from handlers import turn

    assert (turn.Button, turn.Inbound, turn.Reply) == (Button, Inbound, Reply)
