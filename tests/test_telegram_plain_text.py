"""A private text message is read from its JSON directly; it must read exactly as aiogram's types read it.

`decode` takes the short way only for the plainest shape (a person's text in their private chat,
every field of the type the Bot API gives it); everything else, and anything with one field more
or of another type, goes through aiogram's `Update` as before. Each case here is read both ways.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aiogram.types import Update

from bot.channels import telegram

CORPUS = json.loads((Path(__file__).parent / "telegram_updates.json").read_text("utf-8"))["updates"]

PLAIN: dict[str, Any] = {
    "update_id": 5,
    "message": {
        "message_id": 9,
        "date": 1_700_000_000,
        "chat": {"id": 7000001, "type": "private", "first_name": "Drita", "last_name": "K", "username": "dk"},
        "from": {
            "id": 7000001,
            "is_bot": False,
            "first_name": "Drita",
            "last_name": "K",
            "username": "dk",
            "language_code": "sq",
        },
        "text": "menu",
    },
}


def _variant(path: str, value: Any) -> dict[str, Any]:
    update = copy.deepcopy(PLAIN)
    *parents, key = path.split(".")
    part = update
    for name in parents:
        part = part[name]
    if value is _DROP:
        del part[key]
    else:
        part[key] = value
    return update


_DROP = object()
VARIANTS = [
    PLAIN,
    _variant("message.text", "/start abc"),
    _variant("message.text", "/Menu@homeward_bot now"),
    _variant("message.text", "  "),
    _variant("message.text", "Мени ë \ufffd"),
    _variant("message.text", 5),
    _variant("message.text", _DROP),
    _variant("message.from.last_name", _DROP),
    _variant("message.from.last_name", ""),
    _variant("message.from.first_name", ""),
    _variant("message.from.first_name", _DROP),
    _variant("message.from.language_code", _DROP),
    _variant("message.from.language_code", None),
    _variant("message.from.is_bot", "no"),
    _variant("message.from.is_premium", True),
    _variant("message.from.id", "7000001"),
    _variant("message.from", _DROP),
    _variant("message.chat.type", "group"),
    _variant("message.chat.id", 7.0),
    _variant("message.chat.title", "x"),
    _variant("message.message_id", "9"),
    _variant("message.message_id", True),
    _variant("message.date", 1.5),
    _variant("message.date", 30_000_000_000),
    _variant("message.date", -5),
    _variant("message.entities", [{"type": "bot_command", "offset": 0, "length": 6}]),
    _variant("message.media_group_id", "12"),
    _variant("message.reply_to_message", {"message_id": 3, "date": 1, "chat": {"id": 1, "type": "private"}}),
    _variant("edited_message", {}),
    _variant("update_id", True),
]


def _through_aiogram(raw: str) -> Any:
    try:
        update = Update.model_validate_json(raw)
    except Exception:
        return "unreadable"
    return telegram._read(update)


@pytest.mark.parametrize("update", VARIANTS + [entry["update"] for entry in CORPUS])
def test_the_short_way_reads_as_aiogram_reads(update: dict[str, Any]) -> None:
    raw = telegram.as_stored(update)
    short = telegram._plain_text(raw)
    if short is None:
        return  # not the plain shape: read by aiogram's types only
    assert short == _through_aiogram(raw)
    assert short.inbound.sent_at is not None and short.inbound.sent_at.utcoffset() is not None
    assert telegram.decode(raw) == short


def test_the_plain_shape_takes_the_short_way() -> None:
    taken = [u for u in VARIANTS if telegram._plain_text(telegram.as_stored(u)) is not None]
    assert PLAIN in taken and len(taken) >= 8
