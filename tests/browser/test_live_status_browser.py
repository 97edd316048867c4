"""In a real browser: two caseworkers have the same conversation open; what one changes about it (its
status, its assignee) shows on the other's page without a reload, and so does a snooze that ends; a field
the other has changed and not saved yet is left as they set it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import expect
from sqlalchemy import update

from bot.app import Homeward
from db.models import Conversation
from db.staff import CannedReply
from tests.browser.test_console_browser import _sign_in
from tests.console_support import add_staff, person_with_transcript


async def _caseworker(browser: Any, site: str, name: str, locale: str) -> Any:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 860})).new_page()
    await _sign_in(page, site, name)
    await page.click(f"button[name=locale][value={locale}]")
    return page


async def test_a_status_and_an_assignment_made_by_one_caseworker_show_on_the_others_open_page(
    homeward: Homeward, site: str, browser: Any
) -> None:
    cid = await person_with_transcript(
        homeward, municipality="prishtine", texts=["Kur vjen përgjigja?"], name="Arta", needs_human=True
    )
    await add_staff(homeward, "amra", "caseworker")
    await add_staff(homeward, "besa", "caseworker")
    watching = await _caseworker(browser, site, "amra", "en")
    acting = await _caseworker(browser, site, "besa", "sr-Cyrl")
    await watching.goto(f"{site}/conversations/{cid}")
    await acting.goto(f"{site}/conversations/{cid}")
    await expect(watching.locator("#status")).to_have_count(0)  # open: no status badge
    await expect(watching.locator("#assignee")).to_have_count(0)

    await acting.select_option("#status-choice", "pending")
    await acting.click("#save-status")
    await expect(acting.locator("#status")).to_have_text("На чекању")
    await expect(watching.locator("#status")).to_have_text("Pending")  # no reload on this page
    await expect(watching.locator("#status-choice")).to_have_value("pending")

    await acting.select_option("#assignee-choice", label="amra")
    await acting.get_by_role("button", name="Додели", exact=True).click()
    await expect(watching.locator("#assignee")).to_have_text("Assigned to amra")
    await expect(watching.locator("#assignee-choice option:checked")).to_have_text("amra")

    # Snoozed until tomorrow by the other caseworker, then the time passes: the scheduler wakes it.
    await acting.select_option("#status-choice", "snoozed")
    await acting.click("#save-status")
    await expect(watching.locator("#status")).to_contain_text("Snoozed until")
    await expect(watching.locator("#status-choice")).to_have_value("snoozed")
    async with homeward.db.transaction() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == cid)
            .values(snoozed_until=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert await homeward.wake_snoozes() == [cid]
    await expect(watching.locator("#status")).to_have_count(0)
    await expect(watching.locator("#status-choice")).to_have_value("open")
    await expect(watching.locator("#assignee")).to_have_text("Assigned to amra")

    # The watching caseworker picks "snoozed" and a date, and has not saved yet: the other one's change of the
    # assignee shows in the head and in the untouched assignee field, and leaves the status and date as chosen.
    await watching.evaluate("() => { document.getElementById('conversation-state').kept = true; }")
    await watching.select_option("#status-choice", "snoozed")
    await watching.fill("#snooze-until", "2031-03-04T10:30")
    await watching.click("h1")  # nothing of the form in focus
    await acting.select_option("#assignee-choice", label="besa")
    await acting.get_by_role("button", name="Додели", exact=True).click()
    await expect(watching.locator("#assignee")).to_have_text("Assigned to besa")
    await expect(watching.locator("#assignee-choice option:checked")).to_have_text("besa")
    await expect(watching.locator("#status-choice")).to_have_value("snoozed")
    await expect(watching.locator("#snooze-until")).to_have_value("2031-03-04T10:30")
    # The live region is the same element throughout (screen readers follow it); only its content changed.
    region = "document.getElementById('conversation-state')"
    assert await watching.evaluate(f"() => {region}.kept === true && {region}.getAttribute('aria-live') === 'polite'")
    assert await watching.evaluate(f"() => {region}.querySelectorAll(':scope > .state-badges > #assignee').length") == 1


async def test_when_another_caseworker_takes_over_or_hands_back_the_open_pages_actions_follow(
    homeward: Homeward, site: str, browser: Any
) -> None:
    cid = await person_with_transcript(homeward, municipality="prishtine", texts=["Ku mund të pyes?"], name="Arta")
    async with homeward.db.transaction() as session:
        session.add(
            CannedReply(
                title="Office hours",
                text_sq="Zyra është e hapur 8-16.",
                text_sr="Канцеларија је отворена 8-16.",
                created_by="admin",
                created_at=homeward.clock.now(),
            )
        )
    await add_staff(homeward, "amra", "caseworker")
    await add_staff(homeward, "besa", "caseworker")
    amra = await _caseworker(browser, site, "amra", "en")
    besa = await _caseworker(browser, site, "besa", "en")
    await amra.goto(f"{site}/conversations/{cid}")
    await amra.click("#take-over")
    await expect(amra.locator("#return-to-bot")).to_be_visible()
    await amra.fill("#reply-text", "Half a reply")
    await besa.goto(f"{site}/conversations/{cid}")
    await expect(besa.locator("#reply-text")).to_have_count(0)

    # Besa takes it over: Amra's page, without a reload, offers to take it back and no longer sends her reply
    # (kept in view, greyed out), and says who has it.
    await besa.click("#take-over")
    await expect(besa.locator("#reply-text")).to_be_enabled()
    await expect(amra.locator("#assignee")).to_have_text("Assigned to besa")
    await expect(amra.locator("#take-over")).to_be_visible()
    await expect(amra.locator("#reply-text")).to_be_disabled()
    await expect(amra.locator("#send-reply")).to_be_disabled()
    await expect(amra.locator("#reply-text")).to_have_value("Half a reply")
    await expect(amra.locator("#reply-hint")).to_have_text(
        "besa has taken over the conversation. To reply, take it over yourself."
    )

    # Besa hands it back to the bot: Besa's reply box goes, and so does Amra's "Return to the bot".
    await besa.click("#return-to-bot")
    await expect(amra.locator("#mode")).to_have_text("With the bot")
    await expect(amra.locator("#return-to-bot")).to_have_count(0)
    await expect(amra.locator("#take-over")).to_be_visible()
    await expect(besa.locator("#reply-text")).to_have_count(0)

    # Amra takes it over from her updated page: allowed; Besa's page, untouched, follows without a reply box.
    await amra.click("#take-over")
    await expect(amra.locator("p.error")).to_have_count(0)
    await expect(amra.locator("#reply-text")).to_be_enabled()
    await amra.select_option("#canned", label="Office hours")
    await expect(amra.locator("#reply-text")).to_have_value("Zyra është e hapur 8-16.")
    await expect(besa.locator("#assignee")).to_have_text("Assigned to amra")
    await expect(besa.locator("#return-to-bot")).to_be_visible()
    await expect(besa.locator("#reply-hint")).to_have_text(
        "amra has taken over the conversation. To reply, take it over yourself."
    )

    # A page that has not heard yet (its live updates cut off) acts on what it saw: refused, with the reason.
    await besa.route("**/events?*", lambda route: route.abort())
    await besa.reload()
    await amra.click("#return-to-bot")
    await expect(amra.locator("#mode")).to_have_text("With the bot")
    await besa.click("#return-to-bot")
    await expect(besa.locator("p.error")).to_contain_text("Nothing was changed.")
