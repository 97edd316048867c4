"""Every command an answer tells the person to type is also a button; typing it still works."""

from __future__ import annotations

from bot.app import Homeward
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard


async def test_commands_in_an_answer_come_with_buttons(homeward: Homeward, fake: FakeBotApi, person: Person) -> None:
    sent = await onboard(fake, person, "sq")
    person.says("kush i sheh mesazhet e mia, a mundem me i fshi te dhenat")
    replies = await fake.wait_sent(sent + 1, person.id)
    assert "/human" in replies[-1]
    buttons = person.buttons()
    assert "menu:human" in buttons
    question_id = next(b for b in buttons if b.startswith("kb:more:")).split(":")[2]

    person.presses(f"kb:more:{question_id}:1")
    more = await fake.wait_sent(sent + 2, person.id)
    assert "/mydata" in more[-1] and "/delete" in more[-1]
    assert {"priv:mydata", "priv:delete"} <= set(person.buttons())

    person.presses("priv:delete")
    confirm = await fake.wait_sent(sent + 3, person.id)
    assert "del:yes" in person.buttons() and confirm[-1]


async def test_the_menu_button_shows_the_menu(homeward: Homeward, fake: FakeBotApi, person: Person) -> None:
    sent = await onboard(fake, person, "sr-Latn")
    person.presses("kb:menu")
    await fake.wait_sent(sent + 1, person.id)
    assert any(b.startswith("menu:") for b in person.buttons())


async def test_an_answer_shows_its_source_as_a_link_and_when_it_was_checked(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sr-Cyrl")
    person.says("где да нађем посао")
    replies = await fake.wait_sent(sent + 1, person.id)
    assert "Извор: " in replies[-1] and "https://" in replies[-1] and "Проверено " in replies[-1]


def test_no_answer_opens_with_the_age_of_its_information() -> None:
    from bot.kb import KnowledgeBase
    from bot.kb.commands import DEFAULT_KB_DIR

    kb = KnowledgeBase.load(DEFAULT_KB_DIR)
    stale = ("sipas informatave", "sipas raporteve", "према подацима", "према извештајима")
    for topic_id in kb.topics:
        for locale in ("sq", "sr-Cyrl"):
            for part in kb.topic(topic_id).parts(locale, municipality="X"):
                assert not part.lower().startswith(stale), (topic_id, part[:60])
