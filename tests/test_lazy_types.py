"""aiogram's types and methods are built when first used, with the schemas aiogram's own import builds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCHEMAS = """
import json, sys
{prelude}
import aiogram
from aiogram.methods import SendMessage
from aiogram.methods.base import Response
from aiogram.types import Message, Update

built_at_import = [cls.__name__ for cls in (Update, Message, SendMessage) if cls.__pydantic_complete__]
raw = json.dumps({{"update_id": 7, "callback_query": {{"id": "q", "data": "lang:sq", "chat_instance": "c",
    "from": {{"id": 5, "is_bot": False, "first_name": "Ana"}},
    "message": {{"message_id": 3, "date": 1700000000, "chat": {{"id": 5, "type": "private"}}}}}}}})
update = Update.model_validate_json(raw)
answer = Response[Message].model_validate(
    {{"ok": True, "result": {{"message_id": 9, "date": 1700000000, "chat": {{"id": 5, "type": "private"}}}}}}
)
json.dump({{
    "built_at_import": built_at_import,
    "read": [update.callback_query.data, update.callback_query.message.chat.id, answer.result.message_id],
    "update": Update.model_json_schema(),
    "send": SendMessage.model_json_schema(),
}}, sys.stdout, sort_keys=True, default=str)
"""


def _schemas(prelude: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SCHEMAS.format(prelude=prelude)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_aiogram_models_are_built_on_first_use_with_aiogram_own_schemas() -> None:
    eager = _schemas("")  # aiogram as it comes: every type and method built at import
    lazy = _schemas("import bot")  # Homeward's package defers them
    assert eager["built_at_import"] == ["Update", "Message", "SendMessage"]
    assert lazy["built_at_import"] == []
    assert lazy["read"] == eager["read"] == ["lang:sq", 5, 9]
    # Update's schema holds nearly every type (messages, chats, media, members, keyboards).
    assert lazy["update"] == eager["update"]
    assert lazy["send"] == eager["send"]
