"""Every bad input gets a clear answer in the person's language, and every inbound message is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.app import Homeward
from db.models import InboxUpdate, Message
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard, transcript

ODD_TEXTS = [
    "x" * 4096,
    "   \t  ",
    "🙂🙂🙂",
    "Где је општина? ku është komuna? gdje je",
    "null\x00byte and \x07bell \u202eright-to-left",
]


@pytest.mark.parametrize("text", ODD_TEXTS, ids=["4096", "whitespace", "emoji", "mixed-scripts", "control"])
async def test_odd_text_is_stored_and_answered(homeward: Homeward, fake: FakeBotApi, person: Person, text: str) -> None:
    sent = await onboard(fake, person, "sr-Latn")
    person.says(text)
    replies = await fake.wait_sent(sent + 1, person.id)
    assert replies[-1].strip() and "Traceback" not in replies[-1]
    assert any(ch in replies[-1] for ch in "čćšžđ") or "meni" in replies[-1]  # Serbian Latin, not another language
    inbound = [m for m in await transcript(homeward) if m.direction == "in"]
    assert inbound[-1].kind == "text"
    assert inbound[-1].text == text.replace("\x00", "\ufffd")


@pytest.mark.parametrize("data", ["lang:xx", "consent:maybe", "\x00\xff\u2603random", "menu:youth-old", "f:1:2:3"])
async def test_forged_or_stale_buttons_get_a_polite_answer(
    homeward: Homeward, fake: FakeBotApi, person: Person, data: str
) -> None:
    sent = await onboard(fake, person, "sq")
    person.presses(data)
    replies = await fake.wait_sent(sent + 1, person.id)
    assert any(
        word in replies[-1]
        for word in ("nuk vlen më", "nuk është në dispozicion", "zgjidhni gjuhën", "është regjistruar tashmë")
    )
    await fake.wait_for(lambda: len(fake.sent("answerCallbackQuery")) == 3)
    inbound = [m for m in await transcript(homeward) if m.direction == "in"]
    assert inbound[-1].kind == "button" and inbound[-1].text == data.replace("\x00", "\ufffd")


async def test_commands_with_junk_arguments_and_unknown_commands(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sr-Cyrl")
    person.says("/menu ;DROP TABLE messages; 🙂")
    person.says("/lang zz qq")
    person.says("/whatever@homeward_test_bot")
    person.says("/help extra words")
    replies = await fake.wait_sent(sent + 5, person.id)
    assert "Како могу да Вам помогнем?" in replies[sent]
    assert "Молимо Вас да изаберете језик" in replies[sent + 1]
    assert "Не препознајем команду /whatever" in replies[sent + 2]
    assert "Ја сам Homeward" in replies[sent + 3]
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Message))).scalar_one() > 0


async def test_a_flood_is_stored_in_full_and_answered_once(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sq")
    for i in range(200):
        person.says(f"message {i}")
    await fake.wait_for(lambda: fake.pending_updates() == 0, timeout=30)
    await homeward.turns.wait_idle()
    inbound = [m for m in await transcript(homeward) if m.direction == "in" and m.kind == "text"]
    assert [m.text for m in inbound] == [f"message {i}" for i in range(200)]
    await fake.wait_for(lambda: any("shumë mesazhe" in t for t in fake.texts(person.id)), timeout=15)
    replies = fake.texts(person.id)[sent:]
    assert sum("shumë mesazhe" in t for t in replies) == 1
    assert len(replies) <= 60  # the first messages get answers, the rest only the one notice


async def test_media_is_stored_with_its_file_id_and_acknowledged(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sq")
    size = {"file_id": "PHOTO-BIG", "file_unique_id": "u1", "width": 800, "height": 600}
    person.sends(photo=[{"file_id": "PHOTO-SMALL", "file_unique_id": "u0", "width": 90, "height": 90}, size])
    person.sends(voice={"file_id": "VOICE-1", "file_unique_id": "u2", "duration": 3})
    person.sends(document={"file_id": "DOC-1", "file_unique_id": "u3", "file_name": "pasaporta.pdf"})
    person.sends(location={"latitude": 42.66, "longitude": 21.16})
    person.sends(contact={"phone_number": "+38344000000", "first_name": "Drita"})
    person.sends(
        sticker={
            "file_id": "STICKER-1",
            "file_unique_id": "u4",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    )
    replies = await fake.wait_sent(sent + 12, person.id)
    assert "fotografinë" in replies[sent] and "menaxheri i rastit" in replies[sent]
    inbound = [m for m in await transcript(homeward) if m.direction == "in"][-6:]
    assert [(m.kind, m.file_id) for m in inbound] == [
        ("photo", "PHOTO-BIG"),
        ("voice", "VOICE-1"),
        ("document", "DOC-1"),
        ("location", None),
        ("contact", None),
        ("sticker", "STICKER-1"),
    ]
    assert inbound[3].payload == {"latitude": 42.66, "longitude": 21.16}
    assert inbound[4].payload == {"phone_number": "+38344000000"}


async def test_an_edit_is_stored_as_an_edit_of_the_original(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sq")
    original = person.says("ku eshte komuna")
    await fake.wait_sent(sent + 1, person.id)
    person.edits(original["message"]["message_id"], "ku është komuna?")
    person.says("faleminderit")
    await fake.wait_sent(sent + 2, person.id)
    messages = [m for m in await transcript(homeward) if m.direction == "in"]
    edit = next(m for m in messages if m.kind == "edit")
    first = next(m for m in messages if m.text == "ku eshte komuna")
    assert edit.edit_of == first.id and edit.text == "ku është komuna?"
    assert len(fake.texts(person.id)) == sent + 2  # the edit itself asks nothing new


async def test_groups_and_channels_get_one_line_and_no_transcript(homeward: Homeward, fake: FakeBotApi) -> None:
    group = {"id": -100200, "type": "supergroup", "title": "Youth centre"}
    user = {"id": 9001, "is_bot": False, "first_name": "Ana"}
    for text in ("/start", "hello", "/menu"):
        fake.push({"message": {"message_id": 1, "date": 0, "chat": group, "from": user, "text": text}})
    fake.push(
        {
            "channel_post": {
                "message_id": 2,
                "date": 0,
                "chat": {"id": -100300, "type": "channel"},
                "text": "x",
            }
        }
    )
    await fake.wait_sent(1, -100200)
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    await homeward.turns.wait_idle()
    assert len(fake.texts(-100200)) == 1 and "chats only" not in fake.texts(-100200)[0]
    assert "biseda private" in fake.texts(-100200)[0] and "приватним" in fake.texts(-100200)[0]
    assert fake.texts(-100300) == []
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Message))).scalar_one() == 0
        assert all(r is None for r in (await session.execute(select(InboxUpdate.raw))).scalars())
