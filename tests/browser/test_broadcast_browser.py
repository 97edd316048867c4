"""Broadcasts in a browser: an admin in the English console composes a message, picks a segment and reads
the preview in Albanian and both Serbian scripts, then sends it; the pages pass axe-core (no serious or
critical violation) and fit a 390 px phone."""

from __future__ import annotations

from typing import Any

import pytest

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
    await expect(preview).to_contain_text("Zyra është e mbyllur të hënën.")
    await expect(preview).to_contain_text("Канцеларија је затворена у понедељак.")
    await expect(preview).to_contain_text("Kancelarija je zatvorena u ponedeljak.")
    await expect(page.locator("#broadcast-reach")).to_contain_text("It reaches 2 people.")
    await expect(preview).to_contain_text("Language: Serbian")
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
