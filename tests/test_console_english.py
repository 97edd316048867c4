"""The console in English, for international staff; the chat stays in Albanian and Serbian."""

from __future__ import annotations

from pathlib import Path

from bot.app import Homeward
from bot.i18n import LOCALES, Translations
from tests.console_support import a_broadcast, add_staff, client, csrf, person_with_transcript, sign_in
from tests.test_console_access import GUARDED


async def test_a_staff_member_reads_every_console_page_in_english(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="mitrovice-veriore", texts=["Где је дом здравља?"])
    await add_staff(homeward, "anna", "admin")
    bid = await a_broadcast(homeward, "anna")
    async with client(homeward) as http:
        await sign_in(http, "anna")
        assert "Sign out" not in (await http.get("/dashboard")).text  # Albanian and Serbian until chosen
        await http.post("/language", data={"csrf": await csrf(http), "locale": "en", "next": "/inbox"})
        inbox = (await http.get("/inbox?view=all")).text
        assert "Sign out" in inbox and "Inbox" in inbox and "Dilni" not in inbox
        for method, path, _ in GUARDED:
            if (
                method != "GET"
                or path == "/"
                or "export" in path
                or "events" in path
                or path.endswith((".csv", ".svg", ".png", "/file", "/events", "/counts"))
            ):
                continue  # redirects, downloads, streams and JSON have no page
            url = path.format(cid=cid, mid=1, rid=1, ctid=1, nm="x", table="activity", bid=bid)
            page = await http.get(url)
            assert page.status_code == 200, (url, page.status_code)
            assert 'lang="en"' in page.text, url
        conversation = (await http.get(f"/conversations/{cid}")).text
        assert "Где је дом здравља?" in conversation  # what the person wrote is never translated


def test_english_exists_for_the_console_only() -> None:
    translations = Translations(Path(__file__).resolve().parents[1] / "locales")
    english = translations("en")
    assert english.gettext("Sign out") == "Sign out"
    assert (
        english.ngettext("{n} answer, mean {mean}", "{n} answers, mean {mean}", 2, mean="0.5") == "2 answers, mean 0.5"
    )
    assert "en" not in LOCALES  # a person chooses Albanian or Serbian; English is never offered in the chat


async def test_the_language_chosen_on_the_sign_in_page_stays_after_signing_in(homeward: Homeward) -> None:
    await add_staff(homeward, "ines", "caseworker")
    async with client(homeward) as http:
        await sign_in(http, "ines")
        await http.post("/language", data={"csrf": await csrf(http), "locale": "sq", "next": "/inbox"})
    async with client(homeward) as http:
        chosen = await http.get("/login?lang=en&next=/inbox")
        assert chosen.status_code in (302, 303)
        assert 'lang="en"' in (await http.get("/login")).text
        await sign_in(http, "ines")
        assert 'lang="en"' in (await http.get("/inbox")).text  # not the Albanian saved on the account
    async with client(homeward) as http:
        await sign_in(http, "ines")  # elsewhere, later, without choosing: the choice was kept
        assert 'lang="en"' in (await http.get("/inbox")).text
        await http.post("/language", data={"csrf": await csrf(http), "locale": "sr-Cyrl", "next": "/inbox"})
    async with client(homeward) as http:
        await http.get("/login?lang=en")
        await sign_in(http, "ines")
        await http.post("/language", data={"csrf": await csrf(http), "locale": "sr-Cyrl", "next": "/inbox"})
        await http.post("/logout", data={"csrf": await csrf(http)})
        await sign_in(http, "ines")  # a choice counts for the sign-in it was made for, not every later one
        assert 'lang="sr-Cyrl"' in (await http.get("/inbox")).text
