"""Questions in people's own words get answers in their language and script, end to end."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import Homeward
from db.models import Conversation, KbQuestion, Message
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard, transcript


@pytest.mark.parametrize(
    ("locale", "question", "expected"),
    [
        ("sq", "ku me shku te doktori", "Te mjeku"),
        ("sr-Cyrl", "треба ми лекар где да идем", "Код лекара"),
        ("sr-Latn", "treba mi lekar gde da idem", "Kod lekara"),
    ],
)
async def test_a_question_gets_its_answer_in_the_persons_script(
    homeward: Homeward, fake: FakeBotApi, person: Person, locale: str, question: str, expected: str
) -> None:
    sent = await onboard(fake, person, locale)
    person.says(question)
    replies = await fake.wait_sent(sent + 1, person.id)
    answer = replies[-1]
    assert answer.startswith(expected)
    if locale == "sr-Latn":
        assert not any("\u0400" <= ch <= "\u04ff" for ch in answer)
    assert person.buttons()[-2:] == [b for b in person.buttons() if b.startswith("kb:fb:")]
    question_id = person.buttons()[-1].split(":")[2]

    person.presses(f"kb:more:{question_id}:1")
    more = await fake.wait_sent(sent + 2, person.id)
    assert more[-1] and more[-1] not in answer

    person.presses(f"kb:fb:{question_id}:y")
    await fake.wait_sent(sent + 3, person.id)
    await homeward.turns.wait_idle()
    async with homeward.db.sessions() as session:
        row = (await session.execute(select(KbQuestion))).scalar_one()
    assert row.topic == "health.doctor" and row.outcome == "answer" and row.helpful is True
    assert row.text == question


async def test_municipality_is_used_when_known(homeward: Homeward, fake: FakeBotApi, person: Person) -> None:
    sent = await onboard(fake, person, "sr-Cyrl")
    async with homeward.db.transaction() as session:
        from db.models import Beneficiary

        someone = (await session.execute(select(Beneficiary))).scalar_one()
        someone.municipality = "gracanice"
    person.says("треба ми лекар где да идем")
    replies = await fake.wait_sent(sent + 1, person.id)
    assert "Грачаница" in replies[-1]


async def test_an_unsure_question_offers_topics_that_work(homeward: Homeward, fake: FakeBotApi, person: Person) -> None:
    sent = await onboard(fake, person, "sq")
    person.says("dokumente")
    replies = await fake.wait_sent(sent + 1, person.id)
    assert "Mos e keni fjalën për njërën nga këto?" in replies[-1]
    topics = [b for b in person.buttons() if b.startswith("kb:t:")]
    assert 1 <= len(topics) <= 3
    person.presses(topics[0])
    replies = await fake.wait_sent(sent + 2, person.id)
    assert "A ju ndihmoi kjo?" in replies[-1]
    # Someone else's question id, or a topic that was not offered, is refused politely.
    person.presses("kb:t:health.doctor:999")
    replies = await fake.wait_sent(sent + 3, person.id)
    assert "nuk vlen më" in replies[-1]


async def test_nothing_close_is_said_honestly_and_kept_as_unanswered(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sr-Latn")
    person.says("koliko je sati na marsu")
    replies = await fake.wait_sent(sent + 2, person.id)
    assert "Nemam odgovor" in replies[sent]
    await homeward.turns.wait_idle()
    async with homeward.db.sessions() as session:
        row = (await session.execute(select(KbQuestion))).scalar_one()
    assert row.outcome == "none" and row.text == "koliko je sati na marsu"


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("sq", "burri me rrah dhe me kercenon"),
        ("sr-Cyrl", "муж ме туче и прети ми"),
        ("sr-Latn", "hoce da me ubije"),
    ],
)
async def test_an_emergency_gets_the_numbers_first_and_an_urgent_flag(
    homeward: Homeward, fake: FakeBotApi, person: Person, locale: str, text: str
) -> None:
    sent = await onboard(fake, person, locale)
    person.says(text)
    replies = await fake.wait_sent(sent + 1, person.id)
    assert all(n in replies[-1] for n in ("112", "192", "193", "194"))
    await homeward.turns.wait_idle()
    async with homeward.db.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalar_one()
        assert conversation.urgent and conversation.needs_human
        assert (await session.execute(select(KbQuestion.outcome))).scalar_one() == "emergency"


async def test_a_person_who_declined_gets_answers_and_nothing_is_kept(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sq", consent="no")
    person.says("ku me shku te doktori")
    replies = await fake.wait_sent(sent + 1, person.id)
    assert replies[-1].startswith("Te mjeku")
    question_id = person.buttons()[-1].split(":")[2]
    person.presses(f"kb:fb:{question_id}:n")
    await fake.wait_sent(sent + 3, person.id)
    assert await transcript(homeward) == []
    async with homeward.db.sessions() as session:
        row = (await session.execute(select(KbQuestion))).scalar_one()
        assert row.text is None and row.conversation_id is None and row.helpful is False
        assert (await session.execute(select(Message))).first() is None


async def test_the_person_can_give_their_municipality_for_a_local_answer(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sr-Latn")
    person.says("treba mi lekar gde da idem")
    await fake.wait_sent(sent + 1, person.id)
    where = next(b for b in person.buttons() if b.startswith("kb:where:"))
    person.presses(where)
    await fake.wait_sent(sent + 2, person.id)
    person.says("mitrovica")
    replies = await fake.wait_sent(sent + 3, person.id)
    assert "Na koju mislite?" in replies[-1]
    assert [b.rsplit(":", 1)[1] for b in person.buttons()] == ["mitrovice_jugut", "mitrovice_veriut"]
    person.presses(person.buttons()[1])
    replies = await fake.wait_sent(sent + 4, person.id)
    assert "Severna Mitrovica" in replies[-1]
    await homeward.turns.wait_idle()
    async with homeward.db.sessions() as session:
        from db.models import Beneficiary

        assert (await session.execute(select(Beneficiary.municipality))).scalar_one() == "mitrovice_veriut"
