"""A follow-up wave, end to end: consent, return date, invitation on schedule, pause, resume, score, export."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import Homeward
from bot.cli import main
from bot.clock import FixedClock
from bot.config import Settings
from db.models import Beneficiary, FollowupContact, Submission
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

START = datetime(2026, 1, 10, 11, 0, tzinfo=UTC)  # 12:00 in Prishtina


@pytest.fixture
def start_at() -> datetime:
    return START


async def _next(fake: FakeBotApi, person: Person, count: int) -> list[str]:
    return await fake.wait_sent(count, person.id)


async def test_a_wave_arrives_is_paused_resumed_completed_scored_and_exported(
    clocked: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, clock = clocked
    person = Person(fake, 9100, "Arben", "sq")
    n = await onboard(fake, person, "sq")
    assert "menu:followup" in person.buttons()
    person.presses("menu:followup")
    texts = await _next(fake, person, n + 1)
    assert "3, 6 dhe 12 muaj" in texts[-1]
    person.presses("fu:consent:yes")
    texts = await _next(fake, person, n + 2)
    assert "15.03.2026" in texts[-1]
    for bad, expected in (
        ("31.02.2025", "nuk mund ta lexoj"),
        ("10.10.2030", "në të ardhmen"),
        ("hier", "nuk mund ta lexoj"),
    ):
        person.says(bad)
        n_before = len(fake.texts(person.id))
        texts = await _next(fake, person, n_before + 1)
        assert expected in texts[-1]
    person.says("15.12.2025")
    texts = await _next(fake, person, len(fake.texts(person.id)) + 1)
    assert "15.3.2026" in texts[-1]

    # Nothing happens before the wave is due, nor at night in Kosovo.
    assert (await app.followups.run_once())["invited"] == 0
    clock.set(datetime(2026, 3, 15, 6, 0, tzinfo=UTC))  # 07:00 local, before the window opens
    assert (await app.followups.run_once())["invited"] == 0
    clock.set(datetime(2026, 3, 15, 9, 30, tzinfo=UTC))  # 10:30 local
    assert (await app.followups.run_once())["invited"] == 1
    count = len(fake.texts(person.id))
    texts = await _next(fake, person, count + 1)
    assert "Kanë kaluar 3 muaj" in texts[-1]
    invitation_buttons = person.buttons()
    start_button = invitation_buttons[0]
    assert start_button.startswith("fu:start:")

    person.presses(start_button)
    texts = await _next(fake, person, count + 2)
    assert "(1/" in texts[-1]  # the introduction note
    intro_buttons = person.buttons()
    person.presses(next(b for b in intro_buttons if b.endswith(":n")))
    texts = await _next(fake, person, count + 3)
    assert "Sa veta jetoni" in texts[-1]
    person.says("0")  # out of range
    texts = await _next(fake, person, count + 4)
    assert "nga 1 deri në 30" in texts[-1]
    person.says("4")
    texts = await _next(fake, person, count + 5)
    assert "burimi kryesor" in texts[-1]
    person.says("qka po thua")  # text where a choice is expected
    texts = await _next(fake, person, count + 6)
    assert "burimi kryesor" in texts[-1] and texts[-1] != texts[-2]
    person.presses(person.buttons()[0])
    texts = await _next(fake, person, count + 7)
    # A stale button from an earlier question is recognised.
    person.presses(next(b for b in intro_buttons if b.endswith(":n")))
    texts = await _next(fake, person, count + 8)
    assert "pyetjeje të mëparshme" in texts[-1]
    current = texts[-1].split("\n\n", 1)[1]
    person.says("/menu")  # pause by any command
    await _next(fake, person, count + 9)

    # The next day: a reminder, then the person continues exactly where they stopped.
    clock.set(datetime(2026, 3, 16, 9, 45, tzinfo=UTC))
    assert (await app.followups.run_once())["reminded"] == 1
    texts = await _next(fake, person, count + 10)
    assert "kujtesë" in texts[-1]
    person.presses(person.buttons()[0])
    texts = await _next(fake, person, count + 11)
    assert texts[-1].startswith(current.split("\n")[0])

    for _ in range(60):
        await app.turns.wait_idle()
        async with app.db.sessions() as session:
            submission = (await session.execute(select(Submission))).scalar_one()
        if submission.status == "completed":
            break
        buttons = person.buttons()
        sent = len(fake.texts(person.id))
        last = fake.texts(person.id)[-1]
        choice = next((b for b in buttons if b.rsplit(":", 1)[1].startswith("c")), None)
        if choice is not None:
            person.presses(choice)
        elif any(b.endswith(":n") for b in buttons):
            person.presses(next(b for b in buttons if b.endswith(":n")))
        elif any(b.endswith(":d") for b in buttons):
            person.presses(next(b for b in buttons if b.rsplit(":", 1)[1].startswith("t")))
            await _next(fake, person, sent + 1)
            sent += 1
            person.presses(next(b for b in person.buttons() if b.endswith(":d")))
        else:
            person.says("2" if "numër" in last or "number" in last else "Asgjë")
        await _next(fake, person, sent + 1)
    assert submission.status == "completed"
    assert "Faleminderit për përgjigjet" in fake.texts(person.id)[-1]
    scores = submission.scores or {}
    assert set(scores) >= {"score_economic", "score_social", "score_psychosocial", "score_composite"}
    assert all(v is None or 0 <= v <= 1 for v in scores.values())
    async with app.db.sessions() as session:
        wave = (await session.execute(select(FollowupContact).where(FollowupContact.wave == 1))).scalar_one()
        assert wave.status == "answered" and wave.submission_id == submission.id

    monkeypatch.setenv("HOMEWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOMEWARD_SECRET_KEY", settings.secret_key or "")
    out = tmp_path / "followups.csv"
    assert await asyncio.to_thread(main, ["export", "followups", "--format", "csv", "--output", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["economic/e_income_source"] and row["household_size"] == "4"
    assert float(row["score_composite"]) == pytest.approx(scores["score_composite"])


async def test_a_skipped_wave_shows_its_reason(clocked: tuple[Homeward, FixedClock], fake: FakeBotApi) -> None:
    app, clock = clocked
    person = Person(fake, 9200, "Vesna", "sr")
    n = await onboard(fake, person, "sr-Cyrl")
    person.presses("menu:followup")
    await fake.wait_sent(n + 1, person.id)
    person.presses("fu:consent:yes")
    await fake.wait_sent(n + 2, person.id)
    person.says("01.11.2025")
    await fake.wait_sent(n + 3, person.id)
    await app.turns.wait_idle()
    async with app.db.transaction() as session:
        (await session.execute(select(Beneficiary))).scalar_one().blocked = True
    clock.set(datetime(2026, 2, 1, 10, 0, tzinfo=UTC))
    assert (await app.followups.run_once())["skipped"] == 1
    clock.advance(timedelta(days=200))
    await app.followups.run_once()
    async with app.db.sessions() as session:
        contacts = (await session.execute(select(FollowupContact).order_by(FollowupContact.wave))).scalars().all()
    assert (contacts[0].status, contacts[0].reason) == ("skipped", "blocked")
    assert all(c.reason for c in contacts if c.status != "planned")
