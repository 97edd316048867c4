"""On a 390 px phone a conversation opens at its newest messages, with the reply box on the screen."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from bot.app import Homeward
from tests.console_support import PASSWORD, add_staff, person_with_transcript

PHONE = {"width": 390, "height": 844}


# Both wholly on the screen as it is scrolled now: the reply box and the newest line of the transcript.
IN_REACH = """() => [document.getElementById("reply-text"), document.querySelector("#transcript > li:last-child")]
  .every((e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; })"""


async def test_a_conversation_opens_at_its_newest_messages_with_the_reply_box_in_reach(
    homeward: Homeward, site: str, browser: Any
) -> None:
    texts = [f"Mesazhi numër {i}: kur mund të vij në zyrë për dokumentet?" for i in range(1, 41)]
    cid = await person_with_transcript(homeward, municipality="prishtine", texts=texts, needs_human=True)
    await add_staff(homeward, "amra", "caseworker")
    page = await (await browser.new_context(viewport=PHONE)).new_page()
    await page.goto(f"{site}/login")
    await page.fill("input[name=name]", "amra")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.goto(f"{site}/conversations/{cid}")
    await page.click("#take-over")
    await expect(page.locator("#reply-text")).to_be_visible()
    for opened in range(2):  # after taking over, and opened afresh
        if opened:
            await page.goto(f"{site}/conversations/{cid}")
        await expect(page.locator("#transcript")).to_contain_text("Mesazhi numër 40")
        try:
            await page.wait_for_function(IN_REACH, timeout=5000)
        except Exception as exc:
            raise AssertionError(f"scrolled to {await page.evaluate('window.scrollY')}") from exc
