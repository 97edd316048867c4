"""Youth sign-up end to end: a 17-year-old through a school's link with a guardian's consent, a 25-year-old
told kindly where else to look, dates of birth refused clearly, municipalities found by typing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from bot.app import Homeward
from bot.clock import FixedClock
from bot.config import Settings
from db.models import Beneficiary, Consent, Submission
from db.youth import Enrolment
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard
from tests.youth_steps import Chat, add_programme, answer_adult_form


def _labels(fake: FakeBotApi, person: Person) -> list[str]:
    """Button labels under the last message to `person`."""
    markup = fake.sent("sendMessage", person.id)[-1]["reply_markup"]
    return [b["text"] for row in markup["inline_keyboard"] for b in row]


async def _enrolments(app: Homeward) -> list[Enrolment]:
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        return list((await session.execute(select(Enrolment).order_by(Enrolment.id))).scalars())


async def test_a_17_year_old_signs_up_from_a_school_link_and_the_guardian_confirms(
    clocked: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, _clock = clocked
    await add_programme(settings, monkeypatch, capacity=10, municipality="prishtine")
    minor = Chat(fake, Person(fake, 7001, "Drita", "sq"))
    await minor.say("/start youth_school12")
    await minor.press("lang:sq", replies=2)
    texts = await minor.press("consent:yes", replies=3)
    assert "Ura mes nesh" in texts[1] and "15 deri në 24" in texts[1]
    await minor.choose("n")
    texts = await minor.choose("c0")
    assert "emrin dhe mbiemrin" in texts[-1]
    await minor.say("Drita Berisha")
    for bad, expected in (
        ("31.02.2009", "nuk ekziston"),
        ("dje", "DD.MM.VVVV"),
        ("10.10.2030", "nuk duket e saktë"),
    ):
        texts = await minor.say(bad)
        assert expected in texts[-1] and "data juaj e lindjes" in texts[-1]
    texts = await minor.say("11.05.2008")  # 17 today, 18 tomorrow
    assert "komunë" in texts[-1] and not [b for b in minor.person.buttons() if b.endswith(":c0")]
    texts = await minor.say("Prishtine")
    assert "gjuhë" in texts[-1]
    await minor.choose("c0")
    await minor.choose("t0")
    await minor.choose("d")
    await minor.choose("t2")
    await minor.choose("d")
    await minor.say("Gjimnazi Sami Frashëri")
    await minor.choose("s")  # the voluntary community question, skipped
    await minor.choose("c0")
    texts = await minor.choose("n")  # the note about the guardian
    assert "prindi ose kujdestari" in texts[-1].lower()
    await minor.say("Shpresa Berisha")
    await minor.say("+383 44 123 456")
    texts = await minor.choose("c0", replies=2)  # photos: yes
    summary = texts[0]
    assert "Drita Berisha" in summary and "11.5.2008" in summary and "Prishtinë" in summary
    assert "Vendi po ruhet për ju" in summary and "Shpresa Berisha" in summary
    link = re.search(r"https://t\.me/homeward_test_bot\?start=g_([A-Za-z0-9_-]+)", summary)
    assert link is not None
    token = link.group(1)
    [enrolment] = await _enrolments(app)
    assert (enrolment.status, enrolment.guardian_state, enrolment.source) == (
        "pending_guardian",
        "pending",
        "school12",
    )
    assert enrolment.guardian_token_hash is not None and token not in enrolment.guardian_token_hash

    # The young person opening the link themselves is told it is for the guardian.
    texts = await minor.say(f"/start g_{token}")
    assert "për prindin ose kujdestarin tuaj" in texts[-1]

    guardian = Chat(fake, Person(fake, 7002, "Shpresa", "sr"))
    await guardian.say(f"/start g_{token}")
    await guardian.press("lang:sr-Latn", replies=2)
    texts = await guardian.press("consent:yes", replies=2)
    assert "Drita Berisha" in texts[-1] and "11.5.2008" in texts[-1] and "Shpresa Berisha" in texts[-1]
    assert _labels(fake, guardian.person) == [
        "Da, za oboje",
        "Da, ali bez fotografija i snimaka",
        "Ne, ne slažem se",
    ]
    before_minor = minor.count()
    texts = await guardian.press(f"yo:g:{enrolment.id}:nomedia")
    assert "Drita Berisha" in texts[-1]
    minor_texts = await fake.wait_sent(before_minor + 1, minor.person.id)
    assert "Prindi ose kujdestari juaj është pajtuar" in minor_texts[-1]
    assert "Vendi juaj është konfirmuar" in minor_texts[-1]
    [enrolment] = await _enrolments(app)
    assert (enrolment.status, enrolment.guardian_state, enrolment.guardian_confirmed_by) == (
        "confirmed",
        "confirmed",
        "telegram",
    )
    assert enrolment.media_consent is False  # the guardian agreed to taking part, not to photos
    assert enrolment.guardian_token_hash is None
    async with app.db.sessions() as session:
        guardian_row = (
            await session.execute(select(Beneficiary).where(Beneficiary.id != enrolment.beneficiary_id))
        ).scalar_one()
        assert guardian_row.source is None  # a guardian's token is not "where they came from"
        purposes = {
            (c.beneficiary_id, c.purpose, c.granted) for c in (await session.execute(select(Consent))).scalars()
        }
    assert {
        (enrolment.beneficiary_id, "youth", True),
        (enrolment.beneficiary_id, "media", True),
        (guardian_row.id, "guardian", True),
    } <= purposes

    # The link works once.
    texts = await guardian.say(f"/start g_{token}")
    assert "nuk vlen më" in texts[-1] or "više ne važi" in texts[-1]


async def test_a_25_year_old_is_told_kindly_why_not_and_where_else_to_look(
    clocked: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, _clock = clocked
    await add_programme(settings, monkeypatch, capacity=10)
    person = Person(fake, 7100, "Bekim", "sq")
    await onboard(fake, person, "sq")
    chat = Chat(fake, person)
    await chat.press("menu:youth", replies=2)
    await chat.choose("n")
    await chat.choose("c0")
    await chat.say("Bekim Gashi")
    texts = await chat.say("03.02.2001")
    assert "keni 25 vjeç" in texts[-1] and "15 deri në 24" in texts[-1]
    assert "VOC-UP" in texts[-1] and "aftësimit profesional" in texts[-1] and "Komunitete dhe Kthim" in texts[-1]
    assert "menu:youth" in person.buttons()
    assert await _enrolments(app) == []
    async with app.db.sessions() as session:  # nothing of an ineligible person's answers is kept
        assert (await session.execute(select(func.count()).select_from(Submission))).scalar_one() == 0


async def test_municipalities_are_found_in_either_language_and_script(
    clocked: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, _clock = clocked
    await add_programme(settings, monkeypatch, capacity=10)
    person = Person(fake, 7200, "Milica", "sr")
    await onboard(fake, person, "sr-Cyrl")
    chat = Chat(fake, person)
    await chat.press("menu:youth", replies=2)
    await chat.choose("n")
    await chat.choose("c0")
    await chat.say("Милица Јовановић")
    texts = await chat.say("02.03.2004")
    assert "општини" in texts[-1]

    async def stored() -> str:
        await app.turns.wait_idle()
        async with app.db.sessions() as session:
            submission = (await session.execute(select(Submission))).scalar_one()
        return str(submission.state["values"]["municipality"])

    for typed, expected in (
        ("Prishtine", "prishtine"),
        ("pristina", "prishtine"),
        ("Приштина", "prishtine"),
        ("Gjilan", "gjilan"),
        ("Gnjilane", "gjilan"),
    ):
        texts = await chat.say(typed)
        assert "језику" in texts[-1], typed
        assert await stored() == expected, typed
        await chat.choose("b")  # back to the municipality, to try the next spelling
    texts = await chat.say("Mitrovica")
    assert "мислите" in texts[-1]
    assert _labels(fake, person) == ["Јужна Митровица", "Северна Митровица"]
    texts = await chat.press(person.buttons()[1])
    assert "језику" in texts[-1]
    assert await stored() == "mitrovice_veriut"
    await chat.choose("b")
    texts = await chat.say("Xyzzy")
    assert "Није пронађена ниједна општина" in texts[-1] and "општини живите" in texts[-1]


async def test_a_duplicate_sign_up_is_recognised(
    clocked: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, _clock = clocked
    await add_programme(settings, monkeypatch, capacity=10)
    person = Person(fake, 7300, "Arta", "sq")
    await onboard(fake, person, "sq")
    chat = Chat(fake, person)
    await chat.press("menu:youth", replies=2)
    await answer_adult_form(chat, "Arta Krasniqi", "01.01.2004", "Ferizaj")
    texts = await chat.say("/start youth_centre3", replies=2)
    assert "Jeni regjistruar tashmë" in texts[0] and "Arta Krasniqi" in texts[1]
    # The same name and date of birth from another phone is recognised too.
    other = Person(fake, 7301, "Arta", "sq")
    await onboard(fake, other, "sq")
    other_chat = Chat(fake, other)
    await other_chat.press("menu:youth", replies=2)
    texts = await answer_adult_form(other_chat, "arta  KRASNIQI", "01.01.2004", "Uroševac")
    assert "të njëjtin emër" in texts[0]
    statuses = [(e.status, e.source) for e in await _enrolments(app)]
    assert statuses == [("confirmed", "menu"), ("duplicate", "menu")]
