"""In a real browser: a caseworker finds a conversation by search, takes it over, answers, hands it back;
a person chats on the web page; what returnees typed never runs as code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect
from sqlalchemy import select

from bot.app import Homeward
from db.models import Beneficiary, Conversation, Message
from tests.console_support import PASSWORD, add_staff
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
HOSTILE = [
    "<script>window.pwned = 1; document.title = 'pwned'</script>",
    "<img src=x onerror=\"window.pwned = 1; document.title = 'pwned'\">",
]


async def _sign_in(page: Any, site: str, name: str) -> None:
    await page.goto(f"{site}/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(f"{site}/inbox")


async def test_caseworker_finds_takes_over_replies_and_returns(
    homeward: Homeward, fake: FakeBotApi, site: str, browser: Any
) -> None:
    arta = Person(fake, 7301, "Arta", language_code="sq")
    sent = await onboard(fake, arta, "sq")
    arta.says("/human")
    await fake.wait_sent(sent + 1, arta.id)
    arta.says("Më është vjedhur лична карта, çfarë të bëj?")
    milan = Person(fake, 7302, "Milan", language_code="sr")
    await onboard(fake, milan, "sr-Cyrl")
    for text in HOSTILE:
        milan.says(text)
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    await homeward.turns.wait_idle()
    await add_staff(homeward, "amra", "caseworker")

    page = await (await browser.new_context(viewport={"width": 1280, "height": 860})).new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await _sign_in(page, site, "amra")
    await page.click("button[name=locale][value=sq]")
    await page.goto(f"{site}/inbox?view=open")
    await expect(page.locator("ol.conversations li")).to_have_count(2)
    await expect(page).to_have_title(re.compile(r"^\(1\) "))  # Arta waits, unread
    await expect(page.locator("ol.conversations li.unread")).to_have_count(2)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "inbox.png"), full_page=True)

    await page.fill("header input[name=q]", "licna karta")
    await page.press("header input[name=q]", "Enter")
    await page.click("ol.hits a")
    await expect(page.locator("#transcript")).to_contain_text("лична карта")
    await page.click("#take-over")
    await fake.wait_for(lambda: "Një menaxher rasti iu bashkua bisedës" in fake.texts(arta.id)[-1])  # told at once
    await page.fill("#reply-text", "Mirëdita Arta. Ejani nesër në zyrë në orën 10.")
    await page.press("#reply-text", "Control+Enter")  # sends, as the button does
    await fake.wait_for(lambda: "Mirëdita Arta. Ejani nesër në zyrë në orën 10." in fake.texts(arta.id))
    reply = page.locator("#transcript li.staff").last
    await expect(reply).to_contain_text("amra")
    await expect(reply.locator(".status")).to_have_attribute("data-status", "sent")
    arta.says("Faleminderit!")  # arrives on the open page by itself
    await expect(page.locator("#transcript li.in").last).to_contain_text("Faleminderit!")
    await page.screenshot(path=str(SCREENSHOTS / "conversation.png"), full_page=True)
    vesna = Person(fake, 7303, "Vesna", language_code="sr")  # someone else asks for a caseworker meanwhile
    await onboard(fake, vesna, "sr-Cyrl")
    vesna.says("/human")
    await expect(page).to_have_title(re.compile(r"^\(1\) "))  # Arta's is read now; Vesna's is new, live
    await page.click("#return-to-bot")
    await fake.wait_sent(sent + 4, arta.id)
    async with homeward.db.sessions() as session:
        modes = sorted((await session.execute(select(Conversation.mode))).scalars())
    assert modes == ["bot", "bot", "human"]  # Arta's is back with the bot; Vesna still waits

    await page.goto(f"{site}/inbox?view=open")
    await page.click("text=Milan")
    for text in HOSTILE:
        await expect(page.locator("#transcript")).to_contain_text(text)
    assert await page.evaluate("window.pwned") is None
    assert await page.title() != "pwned" and dialogs == []


async def test_a_person_chats_on_the_web_page_and_a_caseworker_answers(
    homeward: Homeward, site: str, browser: Any
) -> None:
    await add_staff(homeward, "amra", "caseworker")
    person = await (await browser.new_context(locale="sq-AL")).new_page()
    await person.goto(f"{site}/chat")
    await person.click("#start")
    await person.click("button.chip:has-text('Shqip')")
    await person.locator("button.chip").filter(has_text="Po").last.click()
    await expect(person.locator("#chat")).to_contain_text("Si mund t'ju ndihmoj?")
    await person.fill("#text", "/human")
    await person.click("#send")
    await expect(person.locator("#chat")).to_contain_text("menaxher")

    caseworker = await (await browser.new_context()).new_page()
    await _sign_in(caseworker, site, "amra")
    await caseworker.click("ol.conversations a")
    await expect(caseworker.locator("#transcript")).to_contain_text("/human")
    await caseworker.click("#take-over")
    await caseworker.fill("#reply-text", "Përshëndetje, jam Amra. Si mund t'ju ndihmoj?")
    await caseworker.click("#send-reply")
    await expect(person.locator("#chat")).to_contain_text("Përshëndetje, jam Amra.")
    async with homeward.db.sessions() as session:
        channel = (await session.execute(select(Beneficiary.channel))).scalar_one()
        authors = (
            (await session.execute(select(Message.author).where(Message.direction == "out").order_by(Message.id)))
            .scalars()
            .all()
        )
    assert channel == "web" and authors[-1] == "staff:amra" and "bot" in authors


async def test_an_admin_adds_an_account_who_signs_in_with_the_passphrase_shown_once(
    homeward: Homeward, site: str, browser: Any
) -> None:
    await add_staff(homeward, "ada", "admin")
    await add_staff(homeward, "amra", "caseworker", ("prizren",))
    admin = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await admin.goto(f"{site}/login")
    await admin.fill("input[name=name]", "ada")
    await admin.fill("input[name=password]", PASSWORD)
    await admin.click("button[type=submit]")
    await admin.click("button[name=locale][value=sq]")
    await admin.click("header a[href='/staff']")
    await admin.fill(".new-account input[name=name]", "besa")
    await admin.select_option(".new-account select[name=role]", "caseworker")
    await admin.check(".new-account input[name=municipality][value=gjakove]")
    await admin.click(".new-account button")
    passphrase = (await admin.locator("#generated-passphrase").inner_text()).strip()
    await expect(admin.locator("table.accounts")).to_contain_text("besa")
    await admin.locator("table.accounts tr", has_text="amra").locator("summary").click()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await admin.screenshot(path=str(SCREENSHOTS / "staff.png"), full_page=True)

    besa = await (await browser.new_context()).new_page()
    await besa.goto(f"{site}/login")
    await besa.fill("input[name=name]", "besa")
    await besa.fill("input[name=password]", passphrase)
    await besa.click("button[type=submit]")
    await expect(besa).to_have_url(f"{site}/inbox")

    await admin.locator("table.accounts tr", has_text="besa").locator("summary").click()
    await admin.locator("table.accounts tr", has_text="besa").locator("button.danger").click()
    await expect(admin.locator("p.done")).to_contain_text("besa")
    await besa.reload()
    await expect(besa).to_have_url(f"{site}/login?next=/inbox")
