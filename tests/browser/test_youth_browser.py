"""The youth page in a browser: a coordinator records a guardian's consent and sends an announcement after
its preview; the page with its forms passes axe-core and fits a 390 px phone."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import Homeward
from tests.browser.test_console_accessibility import PHONE, WIDEST, _violations
from tests.browser.test_console_browser import _sign_in
from tests.console_support import add_cohort, add_sign_up, add_staff, person_with_transcript

expect = pytest.importorskip("playwright.async_api", reason="playwright is not installed").expect


async def _a_group_with_sign_ups(app: Homeward) -> None:
    programme, cohort = await add_cohort(app, municipality="prizren", capacity=2)
    people = [("Arta Krasniqi", "sq"), ("Јована Јовановић", "sr-Cyrl"), ("Besa Hoxha", "sq")]
    cids = [
        await person_with_transcript(
            app, municipality="prizren", texts=["tung"], name=n, locale=loc, chat_id=str(7100 + i)
        )
        for i, (n, loc) in enumerate(people)
    ]
    await add_sign_up(app, cids[0], programme, cohort, "confirmed", full_name=people[0][0])
    await add_sign_up(
        app, cids[1], programme, cohort, "pending_guardian", full_name=people[1][0], guardian_state="pending"
    )
    await add_sign_up(app, cids[2], programme, cohort, "waiting", full_name=people[2][0], waiting_since=app.clock.now())


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["desk", "phone"])
async def test_a_coordinator_acts_on_the_youth_page_in_a_browser(
    homeward: Homeward, site: str, browser: Any, viewport: dict[str, int], tmp_path: Any
) -> None:
    await _a_group_with_sign_ups(homeward)
    await add_staff(homeward, "drita", "admin")
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    await _sign_in(page, site, "drita")
    await page.request.post(
        f"{site}/language",
        form={"locale": "sq", "next": "/", "csrf": await page.locator("input[name=csrf]").first.input_value()},
    )
    await page.goto(f"{site}/youth")
    await page.get_by_text("Njoftoni këtë grup").click()
    await page.get_by_label("Teksti në shqip").fill("Takimi i parë është nesër në ora 10.")
    await page.get_by_label("Teksti në serbisht (cirilik)").fill("Први састанак је сутра у 10 часова.")
    await page.get_by_role("button", name="Parapamje").click()
    preview = page.locator("#announcement-preview")
    await expect(preview).to_contain_text("Takimi i parë është nesër në ora 10.")
    await expect(preview).to_contain_text("Први састанак је сутра у 10 часова.")
    await expect(preview).to_contain_text("Prvi sastanak je sutra u 10 časova.")
    problems: list[object] = [("preview", v) for v in await _violations(page)]
    await page.screenshot(path=str(tmp_path / f"youth-preview-{viewport['width']}.png"), full_page=True)
    await page.get_by_role("button", name="Dërgojani të gjithëve që kanë vend").click()
    await expect(page.locator("#youth-result")).to_contain_text("2 mesazhe u vendosën në radhë.")

    await page.get_by_role("button", name="Regjistroni pëlqimin e kujdestarit të dhënë në letër").click()
    await expect(page.locator("#youth-result")).to_contain_text("Јована Јовановић")
    problems += [("result", v) for v in await _violations(page)]
    if viewport == PHONE:
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            problems.append(("wider than the phone", width, await page.evaluate(WIDEST)))
    await page.screenshot(path=str(tmp_path / f"youth-{viewport['width']}.png"), full_page=True)
    await context.close()
    assert problems == [], "\n".join(map(str, problems))
