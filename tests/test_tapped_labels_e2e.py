"""Caseworkers read what a person tapped ("Health insurance"), not the button's data, in the transcript and exports."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import Homeward
from bot.transcripts import transcript_records
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard, transcript


async def test_a_tapped_topic_is_recorded_by_its_label(homeward: Homeward, fake: FakeBotApi, person: Person) -> None:
    sent = await onboard(fake, person, "sq")
    person.says("dokumente")
    await fake.wait_sent(sent + 1, person.id)
    markup = [p for p in fake.sent("sendMessage", person.id) if p.get("reply_markup")][-1]["reply_markup"]
    first = markup["inline_keyboard"][0][0]
    assert first["callback_data"].startswith("kb:t:")
    person.presses(first["callback_data"])
    await fake.wait_sent(sent + 2, person.id)

    lines = await transcript(homeward)
    tapped = [m for m in lines if m.direction == "in" and m.kind == "button"]
    assert tapped[-1].text == first["text"]
    assert "kb:" not in (tapped[-1].text or "")
    assert tapped[-1].payload and tapped[-1].payload["data"] == first["callback_data"]

    records = [r async for r in transcript_records(homeward.db, since=datetime(2000, 1, 1, tzinfo=UTC))]
    texts = [r["text"] for r in records]
    assert first["text"] in texts
    assert not any(t and t.startswith("kb:") for t in texts)


async def test_a_button_that_was_never_shown_keeps_its_data(
    homeward: Homeward, fake: FakeBotApi, person: Person
) -> None:
    sent = await onboard(fake, person, "sq")
    person.presses("kb:t:health.doctor:999")
    await fake.wait_sent(sent + 1, person.id)
    lines = await transcript(homeward)
    assert [m.text for m in lines if m.kind == "button"][-1] == "kb:t:health.doctor:999"
