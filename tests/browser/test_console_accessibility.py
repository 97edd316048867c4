"""Every console page passes axe-core with no violation, on a desk and on a 390 px phone, in the console's languages."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import Homeward
from tests.browser.test_console_browser import _sign_in
from tests.console_support import add_cohort, add_followup, add_staff, person_with_transcript

axe_playwright = pytest.importorskip(
    "axe_playwright_python.async_playwright", reason="axe-playwright-python is not installed"
)
PAGES = [
    "/inbox?view=all",
    "/conversations/{cid}",
    "/search?q=karta",
    "/dashboard",
    "/followups",
    "/youth",
    "/broadcasts",
    "/knowledge",
    "/audit",
    "/staff",
    "/exports",
    "/canned",
    "/integrations",
    "/reports",
]
PHONE = {"width": 390, "height": 844}
# What sticks out: elements past the phone's right edge that no scrolling box of their own contains.
WIDEST = """Array.from(document.querySelectorAll('body *')).filter(e => {
  if (e.getBoundingClientRect().right <= 391) return false;
  for (let a = e.parentElement; a; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') return false;
  }
  return true;
}).slice(0, 3).map(e => e.tagName + '.' + e.className)"""


async def _violations(page: Any) -> list[str]:
    results = await axe_playwright.Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in results.response["violations"]
    ]


@pytest.mark.parametrize("locale", ["sq", "sr-Cyrl", "en"])
async def test_every_console_page_is_accessible_and_fits_a_phone(
    homeward: Homeward, site: str, browser: Any, locale: str
) -> None:
    cid = await person_with_transcript(
        homeward, municipality="prishtine", texts=["Ku e marr letërnjoftimin?", "лична карта"] * 30, needs_human=True
    )
    await add_followup(homeward, cid, 1, "answered", scores={"score_composite": 0.7})
    await add_cohort(homeward)
    await add_staff(homeward, "drita", "admin")
    problems: list[object] = []
    for viewport in (None, PHONE):
        context = await browser.new_context(viewport=viewport) if viewport else await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{site}/login")
        problems += [("login", v) for v in await _violations(page)]
        await _sign_in(page, site, "drita")
        await page.request.post(
            f"{site}/language",
            form={"locale": locale, "next": "/", "csrf": await page.locator("input[name=csrf]").first.input_value()},
        )
        for path in PAGES:
            await page.goto(site + path.format(cid=cid))
            problems += [(path, bool(viewport), v) for v in await _violations(page)]
            if viewport:
                width = await page.evaluate("document.documentElement.scrollWidth")
                if width > PHONE["width"]:  # nothing may run off the side of the phone
                    wide = await page.evaluate(WIDEST)
                    problems.append((path, "wider than the phone", width, wide))
                if path.startswith("/conversations/"):
                    # Sixty messages scroll in their own box; the page stays a few screens long, whatever the length.
                    box = await page.evaluate("[transcript.clientHeight, transcript.scrollHeight]")
                    tall = await page.evaluate("document.documentElement.scrollHeight")
                    if not (box[0] <= 0.7 * PHONE["height"] < box[1] and tall < 3 * PHONE["height"]):
                        problems.append((path, "too tall on a phone", box, tall))
        await context.close()
    assert problems == [], "\n".join(map(str, problems))
