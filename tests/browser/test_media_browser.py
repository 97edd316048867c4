"""Media in a browser: a person's photo shown in the conversation and their voice message playable, on a desk
and on a 390 px phone, with no serious accessibility problem; a web chat visitor sends a photo from the page,
and a file of the wrong type is refused in their language."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from bot.app import Homeward
from db.models import AuditEntry, MediaFile
from tests.browser.test_console_browser import _sign_in
from tests.console_support import add_staff
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

axe_playwright = pytest.importorskip(
    "axe_playwright_python.async_playwright", reason="axe-playwright-python is not installed"
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
VOICE = b"OggS\x00\x02" + bytes(range(256)) * 4


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour, for the browser to decode and draw."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


async def _photo_views(app: Homeward) -> int:
    async with app.db.sessions() as session:
        rows = (await session.execute(select(AuditEntry.detail).where(AuditEntry.action == "media.view"))).scalars()
        return sum(1 for detail in rows if (detail or {}).get("kind") == "photo")


async def _serious(page: Any) -> list[str]:
    results = await axe_playwright.Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def test_a_photo_is_shown_and_a_voice_message_plays_on_a_desk_and_a_phone(
    homeward: Homeward, fake: FakeBotApi, site: str, browser: Any
) -> None:
    person = Person(fake, 7401, "Arta", language_code="sq")
    await onboard(fake, person, "sq")
    fake.files["ph-b"] = png(320, 200, (31, 95, 168))
    fake.files["vo-b"] = VOICE
    person.sends(photo=[{"file_id": "ph-b", "file_unique_id": "uph", "width": 320, "height": 200}])
    person.sends(voice={"file_id": "vo-b", "file_unique_id": "uvo", "duration": 2})
    person.sends(location={"latitude": 42.6629, "longitude": 21.1655})
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    await homeward.turns.wait_idle()
    await homeward.media.run_once()
    fake.files.clear()  # what is shown is what Homeward kept
    async with homeward.db.sessions() as session:
        cid = (await session.execute(select(MediaFile.conversation_id))).scalars().first()
    await add_staff(homeward, "besa", "caseworker")
    problems: list[object] = []
    for viewport in (None, PHONE):
        context = await browser.new_context(viewport=viewport) if viewport else await browser.new_context()
        page = await context.new_page()
        await _sign_in(page, site, "besa")
        views = await _photo_views(homeward)
        await page.goto(f"{site}/conversations/{cid}")
        await page.reload()
        shown = page.locator("li.msg .media a.show-photo")
        await expect(shown).to_have_count(1)
        await expect(page.locator("li.msg .media img")).to_have_count(0)
        assert await _photo_views(homeward) == views  # opening the page twice showed no photo: nothing counted
        await shown.scroll_into_view_if_needed()
        await shown.click()
        photo = page.locator("li.msg .media img")
        await expect(photo).to_have_count(1)
        await photo.scroll_into_view_if_needed()
        await page.wait_for_function("() => document.querySelector('li.msg .media img').naturalWidth === 320")
        box = await photo.bounding_box()
        assert box is not None and 0 < box["width"] <= (PHONE["width"] if viewport else 1280)
        assert await _photo_views(homeward) == views + 1  # shown once: one view
        audio = page.locator("li.msg .media audio[controls]")
        await expect(audio).to_have_count(1)
        assert (await audio.get_attribute("src") or "").endswith("/file")
        assert await page.locator("a[href^='https://www.openstreetmap.org/']").count() == 1
        problems += [(bool(viewport), v) for v in await _serious(page)]
        if viewport:
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], width
            await audio.scroll_into_view_if_needed()
            await page.screenshot(path=str(SCREENSHOTS / "conversation-media-phone.png"))
        await context.close()
    assert not problems, problems


async def test_a_visitor_sends_a_photo_from_the_chat_page_and_a_wrong_file_is_refused(
    homeward: Homeward, site: str, browser: Any, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport=PHONE, locale="sq-AL")
    page = await context.new_page()
    await page.goto(f"{site}/chat")
    await page.click("#start")
    await page.locator("button.chip", has_text="Shqip").click()
    await page.locator("button.chip:enabled", has_text="Po").first.click()
    await expect(page.locator("#chat")).to_contain_text("Si mund t'ju ndihmoj?")
    picture = tmp_path / "letërnjoftimi.png"
    picture.write_bytes(png(64, 48, (200, 40, 40)))
    await page.set_input_files("#file", str(picture))
    await expect(page.locator("#chat li.msg.in").last).to_have_text("📎 letërnjoftimi.png")
    await expect(page.locator("#chat")).to_contain_text("Faleminderit, e morëm fotografinë tuaj.")
    wrong = tmp_path / "foto.jpg"
    wrong.write_bytes(b"<html><body>not a photo</body></html>")
    await page.set_input_files("#file", str(wrong))
    await expect(page.locator("#notice")).to_have_text(
        "Ky lloj skedari nuk mund të dërgohet këtu. Ju lutemi dërgoni një foto (JPEG, PNG ose WebP) ose një PDF."
    )
    assert await page.locator("#chat li.msg.in", has_text="foto.jpg").count() == 0
    assert not await _serious(page)
    await context.close()
    await homeward.turns.wait_idle()
    await homeward.media.run_once()
    async with homeward.db.sessions() as session:
        kept = (await session.execute(select(MediaFile.media_type, MediaFile.message_id))).all()
    assert [kind for kind, _ in kept] == ["image/png"] and all(line is not None for _, line in kept)


async def test_a_photo_opened_at_its_own_address_shows_as_an_image_with_no_console_error(
    homeward: Homeward, fake: FakeBotApi, site: str, browser: Any
) -> None:
    person = Person(fake, 7411, "Arta", language_code="sq")
    await onboard(fake, person, "sq")
    fake.files["ph-own"] = png(320, 200, (31, 95, 168))
    person.sends(photo=[{"file_id": "ph-own", "file_unique_id": "uown", "width": 320, "height": 200}])
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    await homeward.turns.wait_idle()
    await homeward.media.run_once()
    async with homeward.db.sessions() as session:
        cid, mid = (await session.execute(select(MediaFile.conversation_id, MediaFile.message_id))).one()
    await add_staff(homeward, "besa", "caseworker")
    context = await browser.new_context()
    page = await context.new_page()
    await _sign_in(page, site, "besa")
    await page.goto(f"{site}/conversations/{cid}")
    errors: list[str] = []  # whatever any page of the context reports, from the tab's first moment
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    context.on("weberror", lambda e: errors.append(str(e.error)))
    # The link opened in a tab of its own (as a middle click or Ctrl+click does): the browser's image view.
    async with context.expect_page() as opened:
        await page.locator("li.msg .media a.show-photo").click(modifiers=["ControlOrMeta"])
    tab = await opened.value
    await tab.wait_for_load_state("load")
    assert tab.url == f"{site}/conversations/{cid}/messages/{mid}/file"
    await tab.wait_for_function("() => document.images.length === 1 && document.images[0].naturalWidth === 320")
    assert errors == []  # the page's own, and the tab's first load
    # Drawn as Chromium draws an image on its own, centred on a dark ground: the viewer's own styles were allowed.
    ground = await tab.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert ground not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"), ground
    box = await tab.locator("img").bounding_box()
    width = await tab.evaluate("() => window.innerWidth")
    assert box is not None and abs(box["x"] - (width - 320) / 2) <= 1, (box, width)
    await tab.reload()
    await tab.wait_for_function("() => document.images.length === 1 && document.images[0].complete")
    assert errors == []
    await context.close()
