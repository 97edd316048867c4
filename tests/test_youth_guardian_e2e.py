"""A guardian's consent comes from another person than the young one, and says where it came from.

A 16-year-old opening their guardian's link in a second web-chat session (a session anyone can
open, the young person included) is refused: nothing is confirmed, the link stays unclaimed and the
sign-up waits. The guardian's own Telegram account confirms it, and the record says "telegram".
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.app import Homeward
from bot.channels import webchat
from bot.clock import FixedClock
from bot.config import Settings
from console import chat
from db.youth import Enrolment
from tests.fakebot import FakeBotApi, Person
from tests.youth_steps import Chat, add_programme


async def _enrolment(app: Homeward) -> Enrolment:
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        return (await session.execute(select(Enrolment))).scalar_one()


async def _web(
    app: Homeward,
    visitor: str,
    ref: str,
    cursor: int,
    replies: int,
    *,
    text: str | None = None,
    data: str | None = None,
) -> tuple[list[str], int]:
    """What a web-chat visitor does, and the `replies` bubbles the bot answers with."""
    await chat.submit(app, visitor, ref, text=text, data=data, language_code="sq")
    await app.turns.wait_idle()
    texts: list[str] = []
    for _ in range(50):
        app.delivery.wake()
        lines, cursor = await chat.lines_after(app, visitor, cursor)
        texts += [line.text for line in lines if not line.mine]
        if len(texts) >= replies:
            return texts, cursor
        await app.webchat.doorbell.wait(0.2)
    raise AssertionError(f"{len(texts)} of {replies} replies: {texts}")


async def _minor_signs_up(fake: FakeBotApi) -> tuple[Chat, str]:
    """A 16-year-old signs up on Telegram; returns their chat and the guardian's one-time token."""
    minor = Chat(fake, Person(fake, 7401, "Era", "sq"))
    await minor.say("/start youth_school12")
    await minor.press("lang:sq", replies=2)
    await minor.press("consent:yes", replies=3)
    await minor.choose("n")
    await minor.choose("c0")
    await minor.say("Era Gashi")
    await minor.say("01.03.2010")  # 16
    await minor.say("Prishtine")
    await minor.choose("c0")
    await minor.choose("t0")
    await minor.choose("d")
    await minor.choose("t2")
    await minor.choose("d")
    await minor.say("Gjimnazi Xhevdet Doda")
    await minor.choose("s")
    await minor.choose("c0")
    await minor.choose("n")  # the note about the guardian
    await minor.say("Mimoza Gashi")
    await minor.say("+383 44 555 666")
    texts = await minor.choose("c0", replies=2)  # photos: yes
    link = re.search(r"start=g_([A-Za-z0-9_-]+)", texts[0])
    assert link is not None, texts[0]
    return minor, link.group(1)


async def test_a_minor_cannot_give_their_own_guardians_consent_from_a_second_web_session(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _clock = clocked
    await add_programme(settings, monkeypatch, capacity=10, municipality="prishtine")
    minor, token = await _minor_signs_up(fake)
    enrolment = await _enrolment(app)
    assert (enrolment.status, enrolment.guardian_state, enrolment.media_consent) == (
        "pending_guardian",
        "pending",
        True,
    )

    # The young person opens the link in a new web-chat session and tries to agree as the guardian.
    visitor = webchat.new_visitor()
    _, cursor = await _web(app, visitor, "g1", 0, 1, text=f"/start g_{token}")
    _, cursor = await _web(app, visitor, "g2", cursor, 2, data="lang:sq")
    texts, cursor = await _web(app, visitor, "g3", cursor, 2, data="consent:yes")
    assert any(
        "aplikacionin e mesazheve" in text and "(Telegram)" in text and "koordinatorin" in text for text in texts
    ), texts
    assert not any("Era Gashi" in text for text in texts)  # the sign-up is not shown to a session anyone can open
    await _web(app, visitor, "g4", cursor, 1, data=f"yo:g:{enrolment.id}:all")  # the guardian's button, forged
    enrolment = await _enrolment(app)
    assert (enrolment.status, enrolment.guardian_state, enrolment.guardian_confirmed_by) == (
        "pending_guardian",
        "pending",
        None,
    )
    assert enrolment.guardian_claimed_by is None and enrolment.guardian_token_hash is not None
    assert enrolment.media_consent is True

    # The guardian, in their own Telegram account, agrees: recorded as coming from Telegram.
    guardian = Chat(fake, Person(fake, 7402, "Mimoza", "sq"))
    await guardian.say(f"/start g_{token}")
    await guardian.press("lang:sq", replies=2)
    texts = await guardian.press("consent:yes", replies=2)
    assert "Era Gashi" in texts[-1]
    before = minor.count()
    await guardian.press(f"yo:g:{enrolment.id}:all")
    await fake.wait_sent(before + 1, minor.person.id)
    enrolment = await _enrolment(app)
    assert (enrolment.status, enrolment.guardian_state, enrolment.guardian_confirmed_by) == (
        "confirmed",
        "confirmed",
        "telegram",
    )
