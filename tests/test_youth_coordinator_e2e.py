"""What coordinators do on the command line, and a change of details in the chat, end to end: a guardian's
consent recorded by a coordinator (the young person is told in their language), a cancelled place that
moves to the next in line, and a sign-up whose details change while its place stays."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bot.app import Homeward
from bot.cli import main
from bot.clock import FixedClock
from bot.config import Settings
from db.models import AuditEntry, Submission
from db.youth import Enrolment
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard
from tests.youth_steps import Chat, add_programme, programme_and_cohort, signed_up

START = datetime(2026, 5, 10, 11, 0, tzinfo=UTC)  # 13:00 in Prishtina
COHORT_STARTS = date(2026, 6, 1)


async def _enrolments(app: Homeward) -> list[Enrolment]:
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        return list((await session.execute(select(Enrolment).order_by(Enrolment.id))).scalars())


async def _audit(app: Homeward, action: str) -> list[AuditEntry]:
    async with app.db.sessions() as session:
        found = await session.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return list(found.scalars())


async def _youth(*args: str) -> int:
    """`homeward youth …`, as a coordinator runs it (the environment points it at the test's database)."""
    return await asyncio.to_thread(main, ["youth", *args])


async def test_a_coordinator_records_a_guardians_consent_and_the_young_person_is_told(
    clocked: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app, clock = clocked
    await add_programme(settings, monkeypatch, capacity=5, starts=COHORT_STARTS)
    minor = Chat(fake, Person(fake, 9301, "Јована", "sr"))
    await onboard(fake, minor.person, "sr-Cyrl")
    await minor.press("menu:youth", replies=2)
    await minor.choose("n")  # the introduction
    await minor.choose("c0")  # programme consent: yes
    await minor.say("Јована Јовановић")
    await minor.say("03.03.2010")  # 16
    await minor.say("Пећ")
    await minor.choose("c0")  # preferred language
    await minor.choose("t0")
    await minor.choose("d")  # interests
    await minor.choose("t2")
    await minor.choose("d")  # availability
    await minor.choose("s")  # school or work: skipped
    await minor.choose("s")  # community: skipped
    await minor.choose("c0")  # contact: Telegram
    texts = await minor.choose("n")  # the note about the guardian
    assert "родитељ или старатељ" in texts[-1]
    await minor.say("Драгана Јовановић")
    await minor.say("+383 44 765 432")
    texts = await minor.choose("c0", replies=2)  # photos: yes → summary, menu
    assert "Место се чува за Вас" in texts[0] and "start=g_" in texts[0]
    [enrolment] = await _enrolments(app)
    assert (enrolment.status, enrolment.guardian_state, enrolment.media_consent) == (
        "pending_guardian",
        "pending",
        True,
    )

    # The guardian came to the office and agreed, but not to photos or videos.
    capsys.readouterr()
    before = minor.count()
    assert await _youth("guardian-confirm", str(enrolment.id), "--media", "no", "--by", "mira") == 0
    assert "guardian consent recorded; status confirmed" in capsys.readouterr().out
    clock.set(datetime.now(UTC))  # the command line stamps the outbox with the wall clock
    app.delivery.wake()
    texts = await fake.wait_sent(before + 1, minor.person.id)
    assert "Ваш родитељ или старатељ се сагласио." in texts[-1] and "Ваше место је потврђено." in texts[-1]
    [enrolment] = await _enrolments(app)
    assert (enrolment.status, enrolment.guardian_state, enrolment.guardian_confirmed_by) == (
        "confirmed",
        "confirmed",
        "staff:mira",
    )
    assert enrolment.media_consent is False and enrolment.guardian_token_hash is None
    [entry] = await _audit(app, "youth.guardian_confirm")
    assert (entry.actor, entry.target, entry.detail) == ("staff:mira", f"signup:{enrolment.id}", {"media": "no"})

    # A sign-up that does not exist is refused clearly, and nothing is recorded.
    assert await _youth("guardian-confirm", str(enrolment.id + 100), "--media", "yes", "--by", "mira") != 0
    assert f"no active sign-up {enrolment.id + 100}" in capsys.readouterr().err
    assert len(await _audit(app, "youth.guardian_confirm")) == 1


async def test_a_coordinator_cancels_a_place_and_it_is_offered_to_the_next_in_line(
    clocked: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app, _clock = clocked
    await add_programme(settings, monkeypatch, capacity=1, starts=COHORT_STARTS)
    await signed_up(fake, 9401, "Arta Krasniqi", "sq", "01.01.2003")
    second, texts = await signed_up(fake, 9402, "Марко Петровић", "sr-Cyrl", "05.06.2005")
    assert "листи чекања, на месту 1" in texts[0]
    third, texts = await signed_up(fake, 9403, "Blerim Hoxha", "sq", "07.08.2006")
    assert "në vendin 2" in texts[0]
    first_id = (await _enrolments(app))[0].id
    assert [e.status for e in await _enrolments(app)] == ["confirmed", "waiting", "waiting"]

    capsys.readouterr()
    assert await _youth("cancel", str(first_id), "--by", "mira") == 0
    assert "its place goes to the next in line" in capsys.readouterr().out
    enrolments = await _enrolments(app)
    assert [e.status for e in enrolments] == ["cancelled", "waiting", "waiting"]
    assert enrolments[0].cancel_reason == "coordinator"
    [entry] = await _audit(app, "youth.cancel")
    assert (entry.actor, entry.target) == ("staff:mira", f"signup:{first_id}")

    before = second.count()
    counts = await app.youth.run_once()
    assert (counts["offered"], counts["skipped"]) == (1, 0)
    texts = await fake.wait_sent(before + 1, second.person.id)
    assert "ослободило се место" in texts[-1]
    assert second.person.buttons()[0] == f"yo:accept:{enrolments[1].id}"
    assert [e.status for e in await _enrolments(app)] == ["cancelled", "offered", "waiting"]
    texts = await second.choose("yo:accept:", replies=3)
    assert "Ваше место је потврђено" in texts[1]
    assert [e.status for e in await _enrolments(app)] == ["cancelled", "confirmed", "waiting"]
    assert not any("është liruar një vend" in t for t in fake.texts(third.person.id))  # still waiting

    # A sign-up already cancelled cannot be cancelled again.
    assert await _youth("cancel", str(first_id), "--by", "mira") != 0
    assert f"no active sign-up {first_id}" in capsys.readouterr().err
    assert len(await _audit(app, "youth.cancel")) == 1


async def test_changing_ones_details_keeps_the_place_and_stores_the_new_values(
    clocked: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, _clock = clocked
    await add_programme(settings, monkeypatch, capacity=1, starts=COHORT_STARTS)
    first, _ = await signed_up(fake, 9501, "Arta Krasniqi", "sq", "01.01.2003")
    await signed_up(fake, 9502, "Марко Петровић", "sr-Cyrl", "05.06.2005")
    _programme, cohort = await programme_and_cohort(app)
    before = await _enrolments(app)
    assert [(e.status, e.cohort_id) for e in before] == [("confirmed", cohort.id), ("waiting", cohort.id)]

    texts = await first.press("menu:youth")
    assert "Arta Krasniqi" in texts[-1]
    texts = await first.choose("yo:change:", replies=2)
    assert "Vendi juaj mbetet siç është" in texts[0]
    await first.choose("n")  # the introduction
    await first.choose("c0")  # programme consent: still yes
    await first.say("Arta Gashi")  # married: a new surname
    await first.say("01.01.2003")
    await first.say("Gjakova")  # moved
    await first.choose("c0")  # preferred language
    await first.choose("d")  # interests as they were
    await first.choose("d")  # availability as it was
    await first.choose("s")  # school or work
    await first.choose("s")  # community
    await first.choose("c0")  # contact: Telegram
    texts = await first.choose("c0", replies=3)  # photos: yes → updated, summary, menu
    assert "Të dhënat tuaja janë përditësuar" in texts[0]
    assert "Arta Gashi" in texts[1] and "Gjakovë" in texts[1] and "Vendi juaj është konfirmuar" in texts[1]

    after = await _enrolments(app)
    assert [(e.status, e.cohort_id) for e in after] == [("confirmed", cohort.id), ("waiting", cohort.id)]
    changed = after[0]
    assert (changed.full_name, changed.municipality) == ("Arta Gashi", "gjakove")
    assert changed.birth_date == date(2003, 1, 1) and changed.waiting_since is None
    assert after[1].waiting_since == before[1].waiting_since  # the one waiting keeps their turn
    async with app.db.sessions() as session:
        submission = await session.get(Submission, changed.submission_id)
        assert submission is not None and submission.status == "completed"
        assert (submission.state["values"]["full_name"], submission.state["values"]["municipality"]) == (
            "Arta Gashi",
            "gjakove",
        )
