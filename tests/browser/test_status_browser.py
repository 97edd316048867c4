"""In a real browser: a caseworker snoozes a conversation until a time in Kosovo, in English and in Serbian;
it leaves the views of waiting conversations and shows in the snoozed view with its time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from bot.app import Homeward
from db.models import AuditEntry, Conversation
from tests.browser.test_console_browser import _sign_in
from tests.console_support import add_staff, person_with_transcript

KOSOVO = ZoneInfo("Europe/Belgrade")


@pytest.mark.parametrize(
    ("locale", "button", "snoozed_until", "snoozed_view"),
    [
        ("en", "Save status", "Snoozed until", "Snoozed"),
        ("sr-Cyrl", "Сачувај статус", "Одложен до", "Одложени"),
    ],
)
async def test_a_caseworker_snoozes_a_conversation_until_tomorrow_morning(
    homeward: Homeward,
    site: str,
    browser: Any,
    locale: str,
    button: str,
    snoozed_until: str,
    snoozed_view: str,
) -> None:
    cid = await person_with_transcript(
        homeward, municipality="prishtine", texts=["Kur vjen përgjigja?"], name="Arta", needs_human=True
    )
    await add_staff(homeward, "amra", "caseworker")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 860})).new_page()
    await _sign_in(page, site, "amra")
    await page.click(f"button[name=locale][value={locale}]")
    await page.goto(f"{site}/conversations/{cid}")

    tomorrow = (datetime.now(UTC).astimezone(KOSOVO) + timedelta(days=1)).date()
    typed = f"{tomorrow.isoformat()}T08:30"
    await page.select_option("#status-choice", "snoozed")
    await page.fill("#snooze-until", typed)
    await page.click(f"#save-status:has-text('{button}')")

    shown = f"{tomorrow.day}.{tomorrow.month}.{tomorrow.year} 08:30"  # Kosovo time, as typed
    await expect(page.locator("#status")).to_have_text(f"{snoozed_until} {shown}")
    await expect(page.locator("#status-choice")).to_have_value("snoozed")
    await expect(page.locator("#snooze-until")).to_have_value(typed)
    async with homeward.db.sessions() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None
        assert conversation.status == "snoozed"
        assert conversation.snoozed_until == datetime.combine(
            tomorrow, datetime.min.time().replace(hour=8, minute=30), KOSOVO
        ).astimezone(UTC)
        actions = list((await session.execute(select(AuditEntry.action))).scalars())
    assert "conversation.status" in actions

    await page.goto(f"{site}/inbox?view=needs_human")
    await expect(page.locator("ol.conversations li")).to_have_count(0)
    await page.goto(f"{site}/inbox?view=snoozed")
    await expect(page.locator("ol.conversations li")).to_have_count(1)
    await expect(page.locator("ol.conversations li")).to_contain_text(f"{snoozed_until} {shown}")
    await expect(page.locator("#inbox-filters")).to_contain_text(snoozed_view)
