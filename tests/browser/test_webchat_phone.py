"""The web chat page on a 390×844 phone screen, and with the keyboard alone: the newest options and the
message box stay on screen, answered questions are marked and closed, a multiple choice is answered in
place, and the message box is a few key presses away."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from bot.app import Homeward
from bot.config import Settings
from tests.youth_steps import add_programme

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}


async def _focus_by_keys(page: Any, key: str, matches: str, limit: int = 60) -> int:
    """Press `key` until the focused element satisfies the JavaScript condition `matches` (on `el`)."""
    for presses in range(1, limit + 1):
        await page.keyboard.press(key)
        if await page.evaluate(f"(() => {{ const el = document.activeElement; return !!({matches}); }})()"):
            return presses
    raise AssertionError(f"{matches} not reached with {limit} × {key}")


async def _on_screen(page: Any, selector: str) -> bool:
    """Whether the (last) element comes to be wholly inside the screen, not under the message box."""
    script = """(selector) => {
        const found = document.querySelectorAll(selector);
        const el = found[found.length - 1];
        if (!el) return false;
        const box = el.getBoundingClientRect();
        const compose = document.getElementById("compose");
        const bottom = compose.contains(el) ? window.innerHeight : compose.getBoundingClientRect().top;
        return box.height > 0 && box.top >= 0 && box.bottom <= bottom;
    }"""
    try:
        await page.wait_for_function(script, arg=selector, timeout=3000)
    except Exception:
        return False
    return True


async def _chip(page: Any, key: str, label: str) -> None:
    """Reach the live button `label` with `key` (Tab or Shift+Tab) and press it with Enter."""
    await _focus_by_keys(page, key, f"el.matches('button.chip:not(:disabled)') && el.textContent.includes({label!r})")
    await page.keyboard.press("Enter")


async def test_a_person_on_a_phone_answers_with_the_keyboard_alone(homeward: Homeward, site: str, browser: Any) -> None:
    context = await browser.new_context(viewport=PHONE, locale="sq-AL")
    page = await context.new_page()
    await page.goto(f"{site}/chat")
    assert await _focus_by_keys(page, "Tab", "el.id === 'start'") <= 2  # the skip link, then the start button
    await page.keyboard.press("Enter")
    await expect(page.locator("#text")).to_be_focused()
    await _chip(page, "Shift+Tab", "Shqip")
    await expect(page.locator("#chat")).to_contain_text("Si kujdesemi për të dhënat tuaja")
    await expect(page.locator("#text")).to_be_focused()
    await _chip(page, "Shift+Tab", "Po")
    menu = page.locator("#chat li.msg.out").filter(has_text="Si mund t'ju ndihmoj?").last
    await expect(menu.locator("button.chip").first).to_be_enabled()

    # Answered questions are closed and show what was chosen.
    language = page.locator("#chat li.msg.out").filter(has_text="Ju lutemi zgjidhni gjuhën")
    await expect(language.locator("button.chip.chosen")).to_contain_text("Shqip")
    await expect(language.locator("button.chip.chosen")).to_have_attribute("aria-pressed", "true")
    assert await language.locator("button.chip:enabled").count() == 0
    consent = page.locator("#chat li.msg.out").filter(has_text="A pranoni")
    await expect(consent.locator("button.chip.chosen")).to_contain_text("Po")
    assert await consent.locator("button.chip:enabled").count() == 0

    # The newest options and the message box are on screen, after the buttons were drawn.
    assert await _on_screen(page, "#text")
    assert await _on_screen(page, "#chat li.msg:last-child button.chip")

    # After a reload: the whole conversation, answered questions closed, the newest options on screen.
    await page.reload()
    await expect(menu.locator("button.chip").first).to_be_enabled()
    assert await page.locator("#chat li.msg.out").filter(has_text="A pranoni").locator("button.chip.chosen").count()
    assert await _on_screen(page, "#text")
    assert await _on_screen(page, "#chat li.msg:last-child button.chip")
    # From the top of the page, the message box is one skip link away, or a few live buttons.
    assert await _focus_by_keys(page, "Tab", "el.classList.contains('skip')") == 1
    await page.keyboard.press("Enter")
    await expect(page.locator("#text")).to_be_focused()
    await page.goto(f"{site}/chat")
    await expect(menu.locator("button.chip").first).to_be_enabled()
    live = await page.locator("button.chip:enabled").count()
    assert await _focus_by_keys(page, "Tab", "el.id === 'text'") <= live + 2

    # Typing and Enter sends; the box keeps the focus; the answer's options are on screen again.
    before = await page.locator("#chat li.msg").count()
    await page.keyboard.type("/help")
    await page.keyboard.press("Enter")
    await expect(page.locator("#text")).to_be_focused()
    await expect(page.locator("#text")).to_have_value("")
    await expect(page.locator("#chat li.msg.in").last).to_have_text("/help")
    await page.wait_for_function("n => document.querySelectorAll('#chat li.msg').length > n + 1", arg=before)
    questions = page.locator("#chat li.msg").filter(has=page.locator("button.chip:enabled"))
    assert await questions.count() <= 1  # the menu answered by typing is closed; only the newest is live
    assert await _on_screen(page, "#text")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "chat-phone.png"))
    await context.close()


async def test_a_multiple_choice_is_answered_in_place_on_a_phone(
    homeward: Homeward, settings: Settings, site: str, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_programme(settings, monkeypatch, capacity=10)
    context = await browser.new_context(viewport=PHONE, locale="sq-AL")
    page = await context.new_page()
    await page.goto(f"{site}/chat")
    await page.click("#start")
    await page.click("button.chip:has-text('Shqip')")
    await page.locator("button.chip:enabled").filter(has_text="Po").last.click()
    await page.locator("button.chip:enabled").filter(has_text="Programi për të rinj").click()
    await page.locator("button.chip:enabled").filter(has_text="Vazhdoni").click()
    await page.locator("button.chip:enabled").filter(has_text="Po").first.click()
    for asked, answer in (
        ("Si quheni?", "Arta Krasniqi"),
        ("data juaj e lindjes", "12.03.2006"),
        ("komunë", "Prishtinë"),
    ):
        await expect(page.locator("#chat li.msg.out").last).to_contain_text(asked)
        await page.fill("#text", answer)
        await page.keyboard.press("Enter")
    await expect(page.locator("#chat li.msg.out").last).to_contain_text("gjuhë")
    await page.locator("#chat li.msg.out").last.locator("button.chip:enabled").first.click()
    question = page.locator("#chat li.msg.out").filter(has_text="Për çfarë interesoheni?")
    await expect(question).to_have_count(1)
    bubbles = await page.locator("#chat li.msg").count()

    for k in (0, 1):
        await question.locator("button.chip:enabled").nth(k).click()
        await expect(question.locator("button.chip:enabled").nth(k)).to_contain_text("✓")
    await expect(question).to_have_count(1)  # each tap changed the question in place
    assert await page.locator("#chat li.msg").count() == bubbles
    assert await _on_screen(page, "#text")
    await page.screenshot(path=str(SCREENSHOTS / "chat-phone-choices.png"))

    await question.locator("button.chip:enabled").filter(has_text="Gati").click()
    await expect(page.locator("#chat li.msg.out").last).to_contain_text("Kur keni kohë")
    await expect(question.locator("button.chip.chosen")).to_have_text("Gati")
    assert await question.locator("button.chip:enabled").count() == 0
    assert await _on_screen(page, "#text")
    assert await _on_screen(page, "#chat li.msg:last-child button.chip")
    await context.close()
