"""Every console screen, in each of the console's languages (Albanian, Serbian, English), on a desk and on a
390 px phone: it reads in that language, passes axe-core with no violation, and nothing runs off the phone.

One Homeward, one server and one Chromium serve the whole module; each language signs in once per screen size.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.app import Homeward
from bot.integrations import tokens, webhooks
from db.models import Conversation
from db.staff import Note
from tests.browser.conftest import chromium, serving
from tests.browser.test_console_browser import _sign_in
from tests.conftest import fresh_database, settings_for
from tests.console_support import (
    PASSWORD,
    a_broadcast,
    add_cohort,
    add_followup,
    add_question,
    add_sign_up,
    add_staff,
    person_with_transcript,
)
from tests.fakebot import FakeBotApi

axe_playwright = pytest.importorskip(
    "axe_playwright_python.async_playwright", reason="axe-playwright-python is not installed"
)
pytestmark = pytest.mark.asyncio(loop_scope="module")

LOCALES = ["sq", "sr-Cyrl", "en"]
ADMINS = {"sq": "drita", "sr-Cyrl": "dragana", "en": "dana"}  # the language is kept with the account
DESK = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"desk": DESK, "phone": PHONE}
# What sticks out: elements past the phone's right edge that no scrolling box of their own contains.
WIDEST = """Array.from(document.querySelectorAll('body *')).filter(e => {
  if (e.getBoundingClientRect().right <= 391) return false;
  for (let a = e.parentElement; a; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') return false;
  }
  return true;
}).slice(0, 3).map(e => e.tagName + '.' + e.className)"""
NOTE = "Thirri zyrën e gjendjes civile të hënën."


async def _violations(page: Any) -> list[str]:
    results = await axe_playwright.Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in results.response["violations"]
    ]


@dataclass
class Console:
    app: Homeward
    site: str
    browser: Any
    ids: dict[str, int]
    pages: dict[tuple[str, str], Any] = field(default_factory=dict)  # (language, screen size) → signed-in page

    def said(self, locale: str, message: str) -> str:
        return str(self.app.translations(locale).gettext(message))


async def _seed(app: Homeward) -> dict[str, int]:
    """Something on every screen: waiting and closed conversations with notes, follow-ups, a youth group with a
    sign-up, a broadcast, knowledge-base questions, an API token and a webhook, several staff accounts."""
    cid = await person_with_transcript(
        app,
        municipality="prishtine",
        texts=["Ku e marr letërnjoftimin?", "лична карта"] * 30,
        needs_human=True,
        chat_id="9101",
    )
    closed = await person_with_transcript(
        app, municipality="prizren", texts=["Хвала, то је све."], name="Јована", locale="sr-Cyrl", chat_id="9102"
    )
    await add_followup(app, cid, 1, "answered", scores={"score_composite": 0.7})
    programme, cohort = await add_cohort(app)
    await add_sign_up(app, closed, programme, cohort, "confirmed", full_name="Јована Петровић")
    await add_question(app, cid, "Ku e marr letërnjoftimin?", "unsure", topic="documents")
    await add_question(app, cid, "Kur hapet zyra?", "none")
    for admin in ADMINS.values():
        await add_staff(app, admin, "admin")
    await add_staff(app, "amra", "caseworker", ("prishtine",))
    await add_staff(app, "yll", "youth_coordinator")
    await add_staff(app, "vera", "viewer")
    bid = await a_broadcast(app, "drita")
    now = app.clock.now()
    async with app.db.transaction() as session:
        closing = await session.get(Conversation, closed)
        assert closing is not None
        closing.mode = "closed"
        session.add(Note(conversation_id=cid, author_id=None, author_name="drita", text=NOTE, created_at=now))
        await tokens.issue(session, name="registry", scopes=["people:read"], by="staff:drita", now=now)
        await webhooks.subscribe(
            session, name="crm", url="https://crm.example.org/hook", events=["handoff"], by="staff:drita", now=now
        )
    return {"cid": cid, "closed": closed, "bid": bid}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(migrated_template: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    directory: Path = tmp_path_factory.mktemp("screens")
    async with contextlib.AsyncExitStack() as stack:
        fake = await FakeBotApi().start()
        stack.push_async_callback(fake.stop)
        app = Homeward(settings_for(await fresh_database(migrated_template, directory), fake, directory))
        await app.start()
        stack.push_async_callback(app.stop)
        ids = await _seed(app)
        site = await stack.enter_async_context(serving(app))
        browser = await stack.enter_async_context(chromium())
        yield Console(app, site, browser, ids)


async def _signed_in(console: Console, locale: str, size: str) -> Any:
    """An admin's page in `locale` on a desk or a phone, signed in at the first use."""
    if (locale, size) not in console.pages:
        context = await console.browser.new_context(viewport=VIEWPORTS[size])
        page = await context.new_page()
        await _sign_in(page, console.site, ADMINS[locale])
        await page.request.post(
            f"{console.site}/language",
            form={"locale": locale, "next": "/", "csrf": await page.locator("input[name=csrf]").first.input_value()},
        )
        console.pages[locale, size] = page
    return console.pages[locale, size]


async def _preview(page: Any, size: str) -> None:
    await page.fill("textarea[name=text_sq]", "Zyra është e mbyllur të hënën.")
    await page.fill("textarea[name=text_sr]", "Канцеларија је затворена у понедељак.")
    await page.click("form.compose button")
    await page.wait_for_selector("#broadcast-preview")


async def _new_token(page: Any, size: str) -> None:
    form = page.locator('form[action="/integrations/tokens"]')
    await form.locator("input[name=name]").fill(f"reports-{size}")
    await form.locator("input[name=scope]").first.check()
    await form.locator("button").click()
    await page.wait_for_selector("code", state="attached")


Act = Callable[[Any, str], Awaitable[None]]


@dataclass(frozen=True)
class Screen:
    path: str
    title: str | None  # what the tab's title starts with (English; read in the page's language)
    shows: tuple[str, ...] = ()  # headings or labels the page shows (English, likewise)
    act: Act | None = None  # done on the page once it is open (a preview, a new token)
    text: str | None = None  # shown as written, in any language


SCREENS = {
    "inbox": Screen("/inbox?view=all", "Inbox"),
    "conversation and notes": Screen(
        "/conversations/{cid}", None, ("Private notes", "Profile", "Assignment", "Follow-up scores"), text=NOTE
    ),
    "closed conversation": Screen("/conversations/{closed}", None, ("Conversation closed", "Youth sign-ups")),
    "search": Screen("/search?q=karta", "Search transcripts"),
    "overview": Screen("/dashboard", "Overview"),
    "follow-ups": Screen("/followups", "Follow-ups"),
    "youth": Screen("/youth", "Youth programmes"),
    "broadcasts": Screen("/broadcasts", "Broadcasts", ("New broadcast",)),
    "broadcast preview": Screen("/broadcasts", "Broadcasts", ("Preview of the broadcast",), _preview),
    "broadcast counts": Screen("/broadcasts/{bid}", "Broadcast", ("Sent", "The message")),
    "knowledge": Screen("/knowledge", "Knowledge base"),
    "audit log": Screen("/audit", "Audit log"),
    "held updates": Screen("/updates", "Held updates"),
    "staff accounts": Screen("/staff", "Staff"),
    "exports": Screen("/exports", "Exports"),
    "canned replies": Screen("/canned", "Canned replies"),
    "integrations and API tokens": Screen("/integrations", "Integrations", text="registry"),
    "a new API token": Screen("/integrations", "Integrations", act=_new_token),
    "reports": Screen("/reports", "Reports"),
    "not found": Screen("/conversations/999999", "404", ("Not found.",)),
}


async def _check(console: Console, page: Any, locale: str, size: str, screen: Screen | None = None) -> list[object]:
    problems: list[object] = []
    lang = await page.evaluate("document.documentElement.lang")
    if lang != locale:
        problems.append(("html lang", lang))
    title = re.sub(r"^\(\d+\) ", "", await page.title())  # the count of waiting conversations goes first
    if screen is not None and screen.title and not title.startswith(console.said(locale, screen.title)):
        problems.append(("title", title))
    for label in screen.shows if screen is not None else ():
        if await page.get_by_text(console.said(locale, label), exact=True).count() == 0:
            problems.append(("not shown", console.said(locale, label)))
    if screen is not None and screen.text and await page.get_by_text(screen.text).count() == 0:
        problems.append(("not shown", screen.text))
    problems += await _violations(page)
    if size == "phone":
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:  # nothing may run off the side of the phone
            problems.append(("wider than the phone", width, await page.evaluate(WIDEST)))
    return problems


@pytest.mark.parametrize("size", list(VIEWPORTS))
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", list(SCREENS))
async def test_a_console_screen_reads_in_the_language_passes_axe_and_fits_a_phone(
    console: Console, name: str, locale: str, size: str
) -> None:
    screen = SCREENS[name]
    page = await _signed_in(console, locale, size)
    await page.goto(console.site + screen.path.format(**console.ids))
    if screen.act is not None:
        await screen.act(page, size)
    problems = await _check(console, page, locale, size, screen)
    if size == "phone" and screen.path.startswith("/conversations/{cid}"):
        # Sixty messages scroll in their own box; the page stays a few screens long, whatever the length.
        box = await page.evaluate("[transcript.clientHeight, transcript.scrollHeight]")
        tall = await page.evaluate("document.documentElement.scrollHeight")
        if not (box[0] <= 0.7 * PHONE["height"] < box[1] and tall < 3 * PHONE["height"]):
            problems.append(("too tall on a phone", box, tall))
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("size", list(VIEWPORTS))
@pytest.mark.parametrize("locale", LOCALES)
async def test_the_sign_in_page_reads_in_the_language_chosen_and_says_when_a_password_is_wrong(
    console: Console, locale: str, size: str
) -> None:
    context = await console.browser.new_context(viewport=VIEWPORTS[size])
    page = await context.new_page()
    await page.goto(f"{console.site}/login?lang={locale}")
    problems = await _check(console, page, locale, size, Screen("/login", "Sign in", ("Name", "Password")))
    await page.fill("input[name=name]", f"{ADMINS[locale]}-{size}")  # one try for each name: none is held back
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("p.error[role=alert]")
    wrong = Screen("/login", "Sign in", ("The name or the password is not right.",))
    problems += [("wrong password", p) for p in await _check(console, page, locale, size, wrong)]
    await context.close()
    assert problems == [], "\n".join(map(str, problems))
