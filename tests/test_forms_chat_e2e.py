"""A questionnaire in the chat, end to end through the bot: ten options a screen, a typed search,
a failing expression that never ends the turn, a computed default kept with one press, and clock time.

The follow-up wave plays whatever form ``content/forms/reintegration_followup.md`` holds; here a
copy of the content folder holds tests/forms/odk/chat_e2e.md in its place.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import Homeward
from bot.cli import main
from bot.clock import FixedClock
from bot.config import PROJECT_ROOT, Settings
from db.models import Submission
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

START = datetime(2026, 1, 10, 11, 0, tzinfo=UTC)
FORM = Path(__file__).parent / "forms" / "odk" / "chat_e2e.md"


@pytest.fixture
async def played(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[Homeward, FixedClock]]:
    content = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    shutil.copy(FORM, content / "forms" / "reintegration_followup.md")
    clock = FixedClock(START)
    app = Homeward(settings.model_copy(update={"content_dir": content}), clock=clock)
    await app.start()
    yield app, clock
    await app.stop()


async def _reply(fake: FakeBotApi, person: Person) -> str:
    return (await fake.wait_sent(len(fake.texts(person.id)) + 1, person.id))[-1]


def _actions(person: Person) -> list[str]:
    return [b.rsplit(":", 1)[1] for b in person.buttons()]


def _markup(fake: FakeBotApi, person: Person) -> list[list[dict[str, str]]]:
    with_buttons = [p for p in fake.sent("sendMessage", person.id) if p.get("reply_markup")]
    return with_buttons[-1]["reply_markup"]["inline_keyboard"]  # type: ignore[no-any-return]


def _press(person: Person, action: str) -> None:
    person.presses(next(b for b in person.buttons() if b.rsplit(":", 1)[1] == action))


async def test_long_list_search_failure_default_and_clock_in_the_chat(
    played: tuple[Homeward, FixedClock],
    fake: FakeBotApi,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app, clock = played
    person = Person(fake, 9300, "Drita", "sq")
    n = await onboard(fake, person, "sq")
    person.presses("menu:followup")
    await fake.wait_sent(n + 1, person.id)
    person.presses("fu:consent:yes")
    await fake.wait_sent(n + 2, person.id)
    person.says("15.12.2025")
    await fake.wait_sent(n + 3, person.id)
    clock.set(datetime(2026, 3, 15, 9, 30, tzinfo=UTC))  # 10:30 in Kosovo
    assert (await app.followups.run_once())["invited"] == 1
    await fake.wait_sent(n + 4, person.id)
    sent = len(fake.texts(person.id))
    person.presses(person.buttons()[0])
    first = (await fake.wait_sent(sent + 1, person.id))[-1]

    # Twenty-five towns: ten a screen, then the next ten.
    assert "Në cilin qytet?" in first and "shkruani disa shkronja" in first
    assert [a for a in _actions(person) if a.startswith("c")] == [f"c{k}" for k in range(10)]
    assert "g1" in _actions(person) and "g0" not in _actions(person)
    _press(person, "g1")
    await _reply(fake, person)
    assert [a for a in _actions(person) if a.startswith("c")] == [f"c{k}" for k in range(10, 20)]
    assert {"g0", "g2"} <= set(_actions(person))

    # Typed letters: several matches are offered as buttons, one match is the answer.
    person.says("eti 1")  # Qyteti 1 and 10 to 19: too many for one screen
    text = await _reply(fake, person)
    assert "Përputhen shumë përgjigje" in text
    person.says("eti 2")  # Qyteti 2 and 20 to 25
    text = await _reply(fake, person)
    assert "Përputhen disa përgjigje" in text
    assert [a for a in _actions(person) if a.startswith("c")] == [f"c{k}" for k in (1, 19, 20, 21, 22, 23, 24)]
    person.says("eti 17")
    text = await _reply(fake, person)

    # The next question's relevance fails: it is passed over, the turn goes on.
    assert "Sa veta?" in text
    person.says("3")
    text = await _reply(fake, person)
    assert "Sa shtretër?" in text and "k" in _actions(person)  # the computed default, 6, to keep
    labels = [b["text"] for row in _markup(fake, person) for b in row]
    assert "Mbajeni: 6" in labels
    _press(person, "k")
    text = await _reply(fake, person)
    assert "Ora: 10:30." in text and "Qyteti: Qyteti 17." in text

    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        submission = (await session.execute(select(Submission))).scalar_one()
    assert submission.state["values"]["beds"] == 6
    assert submission.state["start"] == "2026-03-15T10:30:00.000+01:00"
    assert {"field": "odd", "row": 5, "part": "relevant", "error": "EvaluationError"} in submission.state["problems"]

    # The form's owner sees the failure on the command line, by row, without any answer.
    monkeypatch.setenv("HOMEWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOMEWARD_SECRET_KEY", settings.secret_key or "")
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["forms", "problems", "--form", "reintegration_followup"]) == 0
    printed = capsys.readouterr().out
    assert (
        "reintegration_followup: survey row 5: the relevant of 'odd' failed (EvaluationError) in 1 submission"
        in printed
    )
    assert "Qyteti 17" not in printed and "t17" not in printed
