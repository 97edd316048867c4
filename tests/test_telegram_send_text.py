"""A reply sent without aiogram's models ends as aiogram's own call would: the same message, the same errors.

`JsonSession.send_text` posts sendMessage itself and reads a plain success as JSON; every other
answer goes through aiogram's `check_response`. Each answer the Bot API gives is tried both ways.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.channels import telegram
from tests.fakebot import TOKEN, FakeBotApi, Fault

FAULTS = [
    None,
    Fault(code=400, description="Bad Request: message text is empty"),
    Fault(code=403, description="Forbidden: bot was blocked by the user"),
    Fault(code=403, description="Forbidden: bot can't initiate conversation with a user"),
    Fault(code=429, description="Too Many Requests: retry after 3", retry_after=3),
    Fault(code=400, description="Bad Request: group chat was upgraded to a supergroup chat", migrate_to_chat_id=-100),
    Fault(code=500, description="Internal Server Error"),
    Fault(code=502, description="Bad Gateway: restart"),
    Fault(code=404, description="Not Found"),
]


def _outcome(result: Any) -> Any:
    if isinstance(result, BaseException):
        return (type(result).__name__, str(result), getattr(result, "retry_after", None))
    return result


@pytest.mark.parametrize("fault", FAULTS)
async def test_an_answer_ends_as_aiogram_ends_it(fake: FakeBotApi, fault: Fault | None) -> None:
    asked: list[dict[str, Any]] = []

    def answer(method: str, params: dict[str, Any]) -> Fault | None:
        asked.append(params)
        return fault

    fake.injector = answer
    bot = telegram.make_bot(TOKEN, fake.base)
    markup = {"inline_keyboard": [[{"text": "Menyja", "callback_data": "menu:show"}]]}
    session = bot.session
    assert isinstance(session, telegram.JsonSession)
    try:
        outcomes = []
        for call in (
            lambda: bot(telegram.SendText(chat_id=5300, text="Përshëndetje", reply_markup=markup)),
            lambda: session.send_text(bot, 5300, "Përshëndetje", markup),
        ):
            try:
                result: Any = await call()
            except Exception as exc:
                result = exc
            outcomes.append(_outcome(result))
        if fault is None:
            assert isinstance(outcomes[1], dict) and "message_id" in outcomes[1]
            outcomes = [{k: v for k, v in o.items() if k != "message_id"} for o in outcomes]
        assert outcomes[0] == outcomes[1]
        assert len(asked) == 2 and asked[0] == asked[1]  # the same call reached the Bot API
    finally:
        await bot.session.close()


async def test_a_sender_maps_the_short_way_as_before(fake: FakeBotApi) -> None:
    """Delivery's outcomes (sent, blocked, retry later) come from the same errors."""
    bot = telegram.make_bot(TOKEN, fake.base)
    sender = telegram.TelegramSender(bot)
    try:
        sent = await sender.send("sendMessage", "5300", {"text": "a", "buttons": [[{"text": "b", "data": "c"}]]})
        assert sent.channel_message_id
        fake.injector = lambda method, params: Fault(code=403, description="Forbidden: bot was blocked by the user")
        with pytest.raises(telegram.Blocked):
            await sender.send("sendMessage", "5300", {"text": "a"})
        fake.injector = lambda method, params: Fault(code=429, description="Too Many Requests", retry_after=2)
        with pytest.raises(telegram.RetryLater):
            await sender.send("sendMessage", "5300", {"text": "a"})
    finally:
        await bot.session.close()
