"""The youth page: cohorts with places taken, sign-ups, the waiting list in order, and the export."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import select

from bot.app import Homeward
from bot.exports import SIGNUP_FORM
from bot.youth import export as signup_export
from console.cohorts import ENROLMENT_STATUS, GUARDIAN_STATES
from db.models import AuditEntry
from tests.console_support import (
    add_cohort,
    add_sign_up,
    add_staff,
    client,
    person_with_transcript,
    shown,
    sign_in,
)


async def a_full_cohort(app: Homeward) -> tuple[int, int]:
    """Two places, both taken, and two people waiting; the one who signed up later waits longer."""
    programme, cohort = await add_cohort(app, capacity=2)
    _, other = await add_cohort(app, name=("Grupi i vjeshtës", "Јесења група"), municipality=None, capacity=10)
    now = app.clock.now()
    names = ["Arta <b>A</b>", "Besa B", "Drita D", "Era E", "Fatos F"]
    cids = [
        await person_with_transcript(app, municipality="Prizren", texts=["tung"], name=n, chat_id=str(i))
        for i, n in enumerate(names)
    ]
    await add_sign_up(app, cids[0], programme, cohort, "confirmed", full_name=names[0], source="school12")
    await add_sign_up(app, cids[1], programme, cohort, "pending_guardian", full_name=names[1], guardian_state="pending")
    late = await add_sign_up(
        app, cids[2], programme, cohort, "waiting", full_name=names[2], waiting_since=now + timedelta(hours=2)
    )
    early = await add_sign_up(
        app, cids[3], programme, cohort, "waiting", full_name=names[3], waiting_since=now + timedelta(hours=1)
    )
    await add_sign_up(app, cids[4], programme, None, "interested", full_name=names[4])
    assert late < early  # the list follows the time people joined it, not the order of sign-ups
    return cohort, other


async def test_a_coordinator_sees_cohorts_places_sign_ups_and_the_waiting_list_in_order(
    homeward: Homeward,
) -> None:
    cohort, other = await a_full_cohort(homeward)
    await add_staff(homeward, "yll", "youth_coordinator")
    async with client(homeward) as http:
        await sign_in(http, "yll")
        landing = await http.get("/")
        assert landing.headers["location"] == "/youth"
        html = (await http.get("/youth")).text
        assert 'href="/youth"' in html and 'href="/followups"' not in html and 'href="/inbox"' not in html
    assert "Klubi i kodimit · Клуб програмирања" in html
    section = re.search(rf'id="cohort-{cohort}">(.*?)</section>', html, re.S)
    assert section is not None
    text = section.group(1)
    assert "Grupi i pranverës · Пролећна група" in text and "Prizren" in text
    assert shown(homeward, "{taken} of {capacity} taken, {free} free", taken=2, capacity=2, free=0) in text
    assert "Arta &lt;b&gt;A&lt;/b&gt;" in text and "<b>A</b>" not in html
    assert shown(homeward, ENROLMENT_STATUS["pending_guardian"]) in text
    assert shown(homeward, GUARDIAN_STATES["pending"]) in text and "school12" in text
    waiting = re.search(r'<ol class="waiting">(.*?)</ol>', text, re.S)
    assert waiting is not None
    assert re.findall(r"<li>([^·<]*?) ·", waiting.group(1)) == ["Era E", "Drita D"]
    assert shown(homeward, "Sign-ups without a group") in html and "Fatos F" in html
    free = re.search(rf'id="cohort-{other}">(.*?)</section>', html, re.S)
    assert free is not None and shown(homeward, "any") in free.group(1)
    assert shown(homeward, "{taken} of {capacity} taken, {free} free", taken=0, capacity=10, free=10) in (free.group(1))


async def test_the_sign_up_export_is_the_command_line_export_and_is_audited(homeward: Homeward) -> None:
    cohort, _ = await a_full_cohort(homeward)
    await add_staff(homeward, "yll", "youth_coordinator")
    questionnaire = homeward.services.extras["questionnaires"].items[SIGNUP_FORM]
    async with client(homeward) as http:
        await sign_in(http, "yll")
        everything = await http.get("/youth/export?format=csv")
        one = await http.get(f"/youth/export?format=csv&cohort={cohort}")
        assert (await http.get("/youth/export?format=csv&cohort=x")).status_code == 404
        workbook = await http.get("/youth/export?format=xlsx&programme=code-club")
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
    expected = io.StringIO(newline="")
    await signup_export.export(homeward.db, questionnaire, "csv", expected)
    assert everything.text == expected.getvalue()
    rows = list(csv.DictReader(io.StringIO(one.text)))
    assert [r["full_name"] for r in rows] == ["Arta <b>A</b>", "Besa B", "Drita D", "Era E"]
    assert {r["full_name"]: r["waiting_position"] for r in rows}["Era E"] == "1"
    async with homeward.db.sessions() as session:
        entries = (
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "export.signups"))).scalars().all()
        )
    assert [(e.actor, (e.detail or {}).get("records")) for e in entries] == [
        ("staff:yll", 5),
        ("staff:yll", 4),
        ("staff:yll", 5),
    ]


async def test_caseworkers_and_viewers_see_no_sign_up(homeward: Homeward) -> None:
    await a_full_cohort(homeward)
    for name, role in (("amra", "caseworker"), ("vera", "viewer")):
        await add_staff(homeward, name, role)
        async with client(homeward) as http:
            await sign_in(http, name)
            for url in ("/youth", "/youth/export?format=csv"):
                response = await http.get(url)
                assert response.status_code == 403 and "Drita" not in response.text, (role, url)
            assert 'href="/youth"' not in (await http.get("/dashboard")).text
