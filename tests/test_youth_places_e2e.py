"""Youth cohorts end to end: a full group makes a waiting list, a freed place moves it (an offer that lapses,
then one accepted), the day-before reminder, the sign-up export, and an announcement that
skips an opted-out person."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import Homeward
from bot.cli import main
from bot.clock import FixedClock
from bot.config import Settings
from db.models import Beneficiary, Message
from db.youth import Enrolment
from tests.fakebot import FakeBotApi
from tests.youth_steps import add_programme, programme_and_cohort, signed_up

START = datetime(2026, 5, 10, 11, 0, tzinfo=UTC)  # 13:00 in Prishtina
COHORT_STARTS = date(2026, 6, 1)


async def _statuses(app: Homeward) -> list[str]:
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        return [e.status for e in (await session.execute(select(Enrolment).order_by(Enrolment.id))).scalars()]


async def _export(fmt: str, tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / f"signups.{fmt}"
    assert await asyncio.to_thread(main, ["export", "signups", "--format", fmt, "--output", str(out), *extra]) == 0
    return out


async def test_a_full_cohort_keeps_a_waiting_list_and_a_freed_place_moves_along_it(
    clocked: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    app, clock = clocked
    await add_programme(settings, monkeypatch, capacity=1, starts=COHORT_STARTS)
    first, texts = await signed_up(fake, 8001, "Arta Krasniqi", "sq", "01.01.2003")
    assert "Vendi juaj është konfirmuar" in texts[0]
    second, texts = await signed_up(fake, 8002, "Марко Петровић", "sr-Cyrl", "05.06.2005")
    assert "листи чекања, на месту 1" in texts[0] and "Први сте на реду" in texts[0]
    third, texts = await signed_up(fake, 8003, "Blerim Hoxha", "sq", "07.08.2006")
    assert "në vendin 2" in texts[0] and "Para jush është 1 person" in texts[0]
    assert await _statuses(app) == ["confirmed", "waiting", "waiting"]

    # The first cancels from the menu; the place is not given away at night, but in the morning it is.
    await first.press("menu:youth")
    await first.choose("yo:cancel:")
    texts = await first.choose("yo:cancelyes:")
    assert "është anuluar" in texts[-1]
    clock.set(datetime(2026, 5, 10, 21, 0, tzinfo=UTC))  # 23:00 in Prishtina
    assert (await app.youth.run_once())["offered"] == 0
    clock.set(datetime(2026, 5, 11, 8, 30, tzinfo=UTC))  # 10:30
    before = second.count()
    assert (await app.youth.run_once())["offered"] == 1
    texts = await fake.wait_sent(before + 1, second.person.id)
    assert "ослободило се место" in texts[-1] and "до 13.5.2026 10:30" in texts[-1]
    offer_button = second.person.buttons()[0]
    assert offer_button.startswith("yo:accept:")
    assert await _statuses(app) == ["cancelled", "offered", "waiting"]

    # Unanswered, the offer lapses after its deadline and moves to the next in line, who accepts.
    clock.set(datetime(2026, 5, 13, 9, 0, tzinfo=UTC))
    before_third = third.count()
    counts = await app.youth.run_once()
    assert (counts["expired"], counts["offered"]) == (1, 1)
    texts = await fake.wait_sent(before_third + 1, third.person.id)
    assert "është liruar një vend" in texts[-1]
    lapsed = await fake.wait_sent(before + 2, second.person.id)
    assert "Рок за прихватање" in lapsed[-1]
    texts = await third.choose("yo:accept:", replies=3)
    assert "Vendi është i juaji" in texts[0] and "Vendi juaj është konfirmuar" in texts[1]
    assert await _statuses(app) == ["cancelled", "lapsed", "confirmed"]
    # The lapsed offer's button no longer gives a place.
    texts = await second.press(offer_button)
    assert "Ова пријава је отказана" in texts[-1] or "Рок за прихватање" in texts[-1]
    assert await _statuses(app) == ["cancelled", "lapsed", "confirmed"]

    # The day before the start: one reminder, in the daytime.
    clock.set(datetime(2026, 5, 31, 5, 0, tzinfo=UTC))  # 07:00, before the window
    assert (await app.youth.run_once())["reminded"] == 0
    clock.set(datetime(2026, 5, 31, 9, 0, tzinfo=UTC))
    before_third = third.count()
    assert (await app.youth.run_once())["reminded"] == 1
    texts = await fake.wait_sent(before_third + 1, third.person.id)
    assert "fillon nesër" in texts[-1] and "1.6.2026" in texts[-1]
    assert (await app.youth.run_once())["reminded"] == 0

    _programme, cohort = await programme_and_cohort(app)
    rows = list(
        csv.DictReader(
            io.StringIO((await _export("csv", tmp_path, "--cohort", str(cohort.id))).read_text(encoding="utf-8"))
        )
    )
    assert [(r["status"], r["waiting_position"], r["guardian_consent"], r["source"]) for r in rows] == [
        ("cancelled", "", "not_needed", "menu"),
        ("lapsed", "", "not_needed", "menu"),
        ("confirmed", "", "not_needed", "menu"),
    ]
    assert rows[2]["full_name"] == "Blerim Hoxha" and rows[2]["municipality"] == "peje"
    assert rows[2]["interests"] == "languages" and rows[2]["age_at_signup"] == "19"
    assert "community" not in rows[0]  # the voluntary, sensitive answer stays out of the export


async def test_waiting_positions_and_sources_are_exported_and_announcements_skip_opted_out_people(
    clocked: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    app, clock = clocked
    await add_programme(settings, monkeypatch, capacity=2, starts=COHORT_STARTS)
    first, _ = await signed_up(fake, 8101, "Arta Krasniqi", "sq", "01.01.2003")
    second, _ = await signed_up(fake, 8102, "Марко Петровић", "sr-Latn", "05.06.2005")
    third, texts = await signed_up(fake, 8103, "Blerim Hoxha", "sq", "07.08.2006")
    assert "në vendin 1" in texts[0]
    async with app.db.transaction() as session:
        marko = (await session.execute(select(Beneficiary).where(Beneficiary.channel_user_id == "8102"))).scalar_one()
        marko.opted_out = True  # sent /stop

    _programme, cohort = await programme_and_cohort(app)
    records = [
        json.loads(line)
        for line in (await _export("jsonl", tmp_path, "--programme", "bridges"))
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    assert [(r["status"], r["waiting_position"]) for r in records] == [
        ("confirmed", None),
        ("confirmed", None),
        ("waiting", 1),
    ]
    sheet = load_workbook(await _export("xlsx", tmp_path, "--cohort", str(cohort.id))).active
    assert sheet is not None and sheet.max_row == 4

    before = first.count()
    assert (
        await asyncio.to_thread(
            main,
            [
                "youth",
                "announce",
                "--cohort",
                str(cohort.id),
                "--by",
                "mira",
                "--sq",
                "Takimi i parë është në Qendrën Rinore.",
                "--sr",
                "Први састанак је у Омладинском центру.",
            ],
        )
        == 0
    )
    clock.set(datetime.now(UTC))  # the command line stamps the outbox with the wall clock
    app.delivery.wake()
    texts = await fake.wait_sent(before + 1, first.person.id)
    assert "Takimi i parë është në Qendrën Rinore." in texts[-1] and "Grupi i verës" in texts[-1]
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        announced = (await session.execute(select(Message).where(Message.author == "staff:mira"))).scalars().all()
    assert len(announced) == 1  # recorded in the transcript of the one person it went to
    assert not any("Omladinskom" in t for t in fake.texts(second.person.id))
    assert not any("Qendrën Rinore" in t for t in fake.texts(third.person.id))  # on the waiting list
