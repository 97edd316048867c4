"""Broadcasts in a browser: an admin in the English console composes a message, picks a segment and reads
the preview in Albanian and both Serbian scripts, then sends it; the pages pass axe-core (no serious or
critical violation) and fit a 390 px phone."""

from __future__ import annotations

from typing import Any

import pytest

from bot import broadcasts
from bot.app import Homeward
from tests.browser.test_console_accessibility import PHONE, WIDEST, _violations
from tests.browser.test_console_browser import _sign_in
from tests.console_support import add_staff, person_with_transcript

expect = pytest.importorskip("playwright.async_api", reason="playwright is not installed").expect


async def _serious(page: Any) -> list[str]:
    return [v for v in await _violations(page) if "(serious)" in v or "(critical)" in v]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["desk", "phone"])
async def test_an_admin_composes_previews_and_sends_a_broadcast_in_a_browser(
    homeward: Homeward, site: str, browser: Any, viewport: dict[str, int], tmp_path: Any
) -> None:
    people = [("Arta", "sq", "prizren"), ("Јована", "sr-Cyrl", "prizren"), ("Marko", "sr-Latn", "gjilan")]
    for i, (name, locale, place) in enumerate(people):
        await person_with_transcript(
            homeward, municipality=place, texts=["tung"], name=name, locale=locale, chat_id=str(8100 + i)
        )
    await add_staff(homeward, "anna", "admin")
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    await _sign_in(page, site, "anna")
    await page.request.post(
        f"{site}/language",
        form={"locale": "en", "next": "/", "csrf": await page.locator("input[name=csrf]").first.input_value()},
    )
    await page.goto(f"{site}/broadcasts")
    await expect(page.get_by_role("heading", name="Broadcasts", exact=True)).to_be_visible()
    problems: list[object] = [("compose", v) for v in await _serious(page)]
    await page.get_by_label("Text in Albanian").fill("Zyra është e mbyllur të hënën.")
    await page.get_by_label("Text in Serbian (Cyrillic)").fill("Канцеларија је затворена у понедељак.")
    await page.locator("select[name=language]").select_option("sr")
    await page.get_by_role("button", name="Preview").click()
    preview = page.locator("#broadcast-preview")
    await expect(preview).to_contain_text("Канцеларија је затворена у понедељак.")
    await expect(preview).to_contain_text("Kancelarija je zatvorena u ponedeljak.")
    await expect(page.locator("#broadcast-reach")).to_contain_text("It reaches 2 people.")
    await expect(preview).to_contain_text("Language: Serbian (both scripts)")
    await expect(preview).not_to_contain_text("Zyra është e mbyllur të hënën.")  # no Albanian reader in it
    problems += [("preview", v) for v in await _serious(page)]
    if viewport == PHONE:
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            problems.append(("preview wider than the phone", width, await page.evaluate(WIDEST)))
    await page.screenshot(path=str(tmp_path / f"broadcast-preview-{viewport['width']}.png"), full_page=True)
    await page.get_by_role("button", name="Send to 2 people").click()
    await expect(page.locator("#broadcast-counts")).to_be_visible()
    await expect(page.locator("dd[data-count=sent]")).to_have_text("2", timeout=10_000)
    problems += [("counts", v) for v in await _serious(page)]
    await page.screenshot(path=str(tmp_path / f"broadcast-{viewport['width']}.png"), full_page=True)
    if viewport == PHONE:
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            problems.append(("counts wider than the phone", width, await page.evaluate(WIDEST)))
    await context.close()
    assert problems == [], "\n".join(map(str, problems))


async def test_the_counts_page_follows_the_queuing_and_the_sending_without_a_reload(
    homeward: Homeward, site: str, browser: Any
) -> None:
    for i, (name, locale) in enumerate([("Arta", "sq"), ("Јована", "sr-Cyrl"), ("Besa", "sq")]):
        await person_with_transcript(
            homeward, municipality="prizren", texts=["tung"], name=name, locale=locale, chat_id=str(8200 + i)
        )
    await add_staff(homeward, "anna", "admin")
    held: list[int] = []
    homeward.broadcasts.queue = held.append  # type: ignore[method-assign,assignment]  # queued below, by the test
    page = await (await browser.new_context(viewport=PHONE)).new_page()
    await _sign_in(page, site, "anna")
    await page.request.post(
        f"{site}/language",
        form={"locale": "en", "next": "/", "csrf": await page.locator("input[name=csrf]").first.input_value()},
    )
    await page.goto(f"{site}/broadcasts")
    await page.get_by_label("Text in Albanian").fill("Zyra është e mbyllur të hënën.")
    await page.get_by_label("Text in Serbian (Cyrillic)").fill("Канцеларија је затворена у понедељак.")
    await page.get_by_role("button", name="Preview").click()
    await page.get_by_role("button", name="Send to 3 people").click()
    await expect(page.locator("#broadcast-progress")).to_have_text(
        "Preparing the messages. Of 3 people in the segment: 0 sent, 0 not delivered, 0 skipped, 3 still to send."
    )
    await expect(page.locator("dd[data-count=left]")).to_have_text("3")
    await expect(page.locator("dd[data-count=sent]")).to_have_text("0")
    await page.evaluate("window.stillHere = true")  # gone if the page reloads
    assert len(held) == 1
    await broadcasts.Queue(homeward.db, homeward.clock, {}, on_queued=homeward.delivery.wake).run(held[0])
    await expect(page.locator("dd[data-count=sent]")).to_have_text("3", timeout=10_000)
    await expect(page.locator("#broadcast-progress")).to_have_text(
        "Of 3 people in the segment: 3 sent, 0 not delivered, 0 skipped, 0 still to send."
    )
    await expect(page.locator("dd[data-count=left]")).to_have_text("0")
    await expect(page.locator("#broadcast-sending")).to_be_hidden()
    assert await page.evaluate("window.stillHere === true")
    assert await page.locator("meta[http-equiv=refresh]").count() == 0
