"""A returnee's first contact on Telegram, end to end through aiogram against the fake Bot API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.app import Homeward
from db.models import Beneficiary, Consent, InboxUpdate, Message
from tests.fakebot import FakeBotApi, Person

LOCALE_WORDS = {
    "sq": ("Si kujdesemi për të dhënat tuaja", "Si mund t'ju ndihmoj?"),
    "sr-Cyrl": ("Како чувамо Ваше податке", "Како могу да Вам помогнем?"),
    "sr-Latn": ("Kako čuvamo Vaše podatke", "Kako mogu da Vam pomognem?"),
}


@pytest.mark.parametrize("locale", ["sq", "sr-Cyrl", "sr-Latn"])
async def test_start_language_consent_menu_and_free_text(homeward: Homeward, fake: FakeBotApi, locale: str) -> None:
    person = Person(fake, 7001, "Arta", language_code="de")
    person.says("/start")
    texts = await fake.wait_sent(1, person.id)
    assert "Ju lutemi zgjidhni gjuhën" in texts[0] and "Молимо Вас да изаберете језик" in texts[0]
    assert person.buttons() == ["lang:sq", "lang:sr-Latn", "lang:sr-Cyrl"]

    person.presses(f"lang:{locale}")
    texts = await fake.wait_sent(3, person.id)
    notice, question = LOCALE_WORDS[locale][0], texts[2]
    assert texts[1].startswith(notice)
    assert person.buttons() == ["consent:yes", "consent:no"]
    assert question

    person.presses("consent:yes")
    texts = await fake.wait_sent(5, person.id)
    assert LOCALE_WORDS[locale][1] in texts[4]
    assert "menu:lang" in person.buttons() and "menu:privacy" in person.buttons()

    person.says("hello?")
    await fake.wait_sent(7, person.id)
    await homeward.turns.wait_idle()
    async with homeward.db.sessions() as session:
        someone = (await session.execute(select(Beneficiary))).scalar_one()
        assert someone.locale == locale and someone.consent == "given" and someone.consent_version == 1
        consent = (await session.execute(select(Consent))).scalar_one()
        assert consent.granted and consent.locale == locale and consent.purpose == "general"
        inbound = (
            (await session.execute(select(Message).where(Message.direction == "in").order_by(Message.id)))
            .scalars()
            .all()
        )
        assert [m.kind for m in inbound] == ["command", "button", "button", "text"]
        assert inbound[-1].text == "hello?"
        outbound = (await session.execute(select(Message).where(Message.direction == "out"))).scalars().all()
        await fake.wait_for(lambda: len(fake.sent("answerCallbackQuery")) == 2)
    assert len(outbound) == 7
    # Every button press is answered, so the person's client stops its spinner.
    assert len(fake.sent("answerCallbackQuery")) == 2


async def test_language_code_only_preselects(homeward: Homeward, fake: FakeBotApi) -> None:
    person = Person(fake, 7002, "Milan", language_code="sr")
    person.says("/start")
    await fake.wait_sent(1, person.id)
    assert person.buttons() == ["lang:sr-Cyrl", "lang:sq", "lang:sr-Latn"]
    markup = fake.sent("sendMessage", person.id)[0]["reply_markup"]["inline_keyboard"]
    assert markup[0][0]["text"].startswith("✓ ")
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(Beneficiary.locale))).scalar_one() is None


async def test_declined_consent_keeps_nothing_but_a_marker(homeward: Homeward, fake: FakeBotApi) -> None:
    person = Person(fake, 7003, "Besnik Krasniqi", language_code="sq")
    person.says("/start")
    await fake.wait_sent(1, person.id)
    person.presses("lang:sq")
    await fake.wait_sent(3, person.id)
    person.presses("consent:no")
    texts = await fake.wait_sent(5, person.id)
    assert "Nuk do ta ruajmë" in texts[3]
    person.says("my secret question about Besnik")
    await fake.wait_sent(6, person.id)
    await homeward.turns.wait_idle()
    await fake.wait_for(lambda: len(fake.sent("answerCallbackQuery")) == 2)
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Message))).scalar_one() == 0
        someone = (await session.execute(select(Beneficiary))).scalar_one()
        assert someone.consent == "declined"
        assert someone.channel_user_id is None and someone.chat_id is None and someone.display_name is None
        assert len(someone.channel_ref) == 40 and "7003" not in someone.channel_ref
        raws = (await session.execute(select(InboxUpdate.raw))).scalars().all()
        assert raws and all(raw is None for raw in raws)
    # The menu of a person who declined offers only what keeps no personal data.
    assert not any(b in person.buttons() for b in ("menu:followup", "menu:youth", "menu:human"))
