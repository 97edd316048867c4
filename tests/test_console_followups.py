"""Follow-ups in the console: the person's schedule and scores, the return date, the follow-ups page,
the "follow-up due" inbox filter and the follow-up export."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import Homeward
from bot.clock import FixedClock
from bot.followup import export as followup_export
from bot.followup.contacts import FORM_ID
from console import followups, inbox
from console.cohorts import ENROLMENT_STATUS, GUARDIAN_STATES
from db.models import AuditEntry, Beneficiary, Conversation, FollowupContact
from tests.console_support import (
    add_cohort,
    add_followup,
    add_sign_up,
    add_staff,
    client,
    csrf,
    person_of,
    person_with_transcript,
    shown,
    sign_in,
)
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

GOOD: dict[str, float | None] = {
    "score_economic": 0.9,
    "score_social": 0.85,
    "score_psychosocial": 0.95,
    "score_composite": 0.9,
}
LOW: dict[str, float | None] = {
    "score_economic": 0.1,
    "score_social": 0.3,
    "score_psychosocial": None,
    "score_composite": 0.2,
}


async def audit_actions(app: Homeward) -> list[str]:
    async with app.db.sessions() as session:
        return list((await session.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars())


async def people(app: Homeward, municipality: str, count: int, start: int, scores: dict[str, float | None]) -> None:
    """`count` people of one municipality who answered wave 1 with `scores`."""
    for i in range(count):
        cid = await person_with_transcript(
            app, municipality=municipality, texts=["tung"], name=f"{municipality}{i}", chat_id=str(start + i)
        )
        await add_followup(app, cid, 1, "answered", scores=scores)


async def test_the_profile_shows_the_schedule_with_reasons_the_scores_and_the_sign_ups(
    homeward: Homeward,
) -> None:
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=["tung"], name="Arta")
    other = await person_with_transcript(homeward, municipality="Prizren", texts=["tung"], name="Besa", chat_id="7")
    await add_followup(homeward, cid, 1, "answered", scores=LOW)
    await add_followup(homeward, cid, 2, "skipped", reason="handoff")
    await add_followup(homeward, cid, 3, "planned")
    programme, cohort = await add_cohort(homeward, capacity=1)
    await add_sign_up(homeward, other, programme, cohort, "confirmed", full_name="Besa B")
    now = homeward.clock.now()
    await add_sign_up(
        homeward,
        cid,
        programme,
        cohort,
        "waiting",
        full_name="Arta A",
        guardian_state="pending",
        waiting_since=now,
    )
    await add_staff(homeward, "amra", "caseworker", ("Prizren",))
    async with client(homeward) as http:
        await sign_in(http, "amra")
        html = (await http.get(f"/conversations/{cid}")).text
    assert shown(homeward, followups.SKIP_REASONS["handoff"]) in html
    assert shown(homeward, followups.CONTACT_STATUS["planned"]) in html
    assert shown(homeward, followups.CONTACT_STATUS["answered"]) in html
    assert shown(homeward, "From 0 to 1, with provisional weights.") in html
    scores = re.search(r'<table class="log scores">(.*?)</table>', html, re.S)
    assert scores is not None
    assert ["0,10", "0,30", "—", "0,20"] == re.findall(r'<td class="n">([^<]*)</td>', scores.group(1))
    assert "Klubi i kodimit" in html and "Grupi i pranverës" in html
    assert shown(homeward, ENROLMENT_STATUS["waiting"]) in html
    assert shown(homeward, "number {position} on the waiting list", position=1) in html
    assert shown(homeward, GUARDIAN_STATES["pending"]) in html


async def test_a_caseworker_sets_the_return_date_and_the_waves_are_planned_and_audited(
    homeward: Homeward,
) -> None:
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=["tung"])
    away = await person_with_transcript(homeward, municipality="Gjakovë", texts=["tung"], name="Besa", chat_id="8")
    await add_staff(homeward, "amra", "caseworker", ("Prizren",))
    returned = homeward.clock.now().date() - timedelta(days=20)
    async with client(homeward) as http:
        await sign_in(http, "amra")
        refused = await http.post(f"/conversations/{cid}/return-date", data={"return_date": returned.isoformat()})
        assert refused.status_code == 403
        token = await csrf(http)
        future = homeward.clock.now().date() + timedelta(days=40)
        response = await http.post(
            f"/conversations/{cid}/return-date", data={"csrf": token, "return_date": future.isoformat()}
        )
        assert response.headers["location"].endswith("?error=return_date")
        assert (
            shown(homeward, "Enter a return date that is a real date and not in the future.")
            in (await http.get(response.headers["location"])).text
        )
        response = await http.post(
            f"/conversations/{cid}/return-date", data={"csrf": token, "return_date": returned.isoformat()}
        )
        assert response.status_code == 303 and response.headers["location"] == f"/conversations/{cid}"
        elsewhere = await http.post(
            f"/conversations/{away}/return-date", data={"csrf": token, "return_date": returned.isoformat()}
        )
        assert elsewhere.status_code == 404
        page = (await http.get(f"/conversations/{cid}")).text
        assert f'value="{returned.isoformat()}"' in page
    person_id, away_id = await person_of(homeward, cid), await person_of(homeward, away)
    async with homeward.db.sessions() as session:
        person = await session.get(Beneficiary, person_id)
        assert person is not None and person.return_date == returned
        waves = (
            await session.execute(
                select(FollowupContact.wave, FollowupContact.status).where(FollowupContact.beneficiary_id == person.id)
            )
        ).all()
        assert sorted(waves) == [(1, "planned"), (2, "planned"), (3, "planned")]
        away_person = await session.get(Beneficiary, away_id)
        assert away_person is not None and away_person.return_date is None
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "person.return_date"))
        ).scalar_one()
    assert entry.actor == "staff:amra" and entry.target == f"conversation:{cid}"
    assert entry.detail == {"from": None, "to": returned.isoformat(), "waves": [1, 2, 3]}


async def test_the_followups_page_charts_response_rates_and_scores_per_wave_with_results(
    homeward: Homeward,
) -> None:
    await people(homeward, "Prizren", 3, 100, GOOD)
    await people(homeward, "Prizren", 1, 200, LOW)
    for i, (status, reason) in enumerate([("sent", None), ("expired", "expired"), ("skipped", "opted_out")]):
        cid = await person_with_transcript(
            homeward, municipality="Prizren", texts=["tung"], name=f"W{i}", chat_id=str(300 + i)
        )
        await add_followup(homeward, cid, 1, status, reason=reason)
    await add_staff(homeward, "ada", "admin")
    async with client(homeward) as http:
        await sign_in(http, "ada")
        html = (await http.get("/followups")).text
    wave = re.search(r'<section class="wave" id="wave-1">(.*?)</section>', html, re.S)
    assert wave is not None
    text = wave.group(1)
    # 4 answered of 6 invited (answered, still open, expired); the opted-out one was never asked.
    assert shown(homeward, "Response rate: {rate} of those invited answered.", rate="67%") in text
    assert shown(homeward, followups.SKIP_REASONS["opted_out"]) in text
    sq = homeward.translations("sq")
    economic = re.search(r"<caption>([^<]*)<span class=\"note\">([^<]*)</span>", text)
    assert economic is not None and economic.group(1).startswith(sq.gettext("Economic"))
    assert economic.group(2).startswith(
        sq.ngettext("{n} answer, mean {mean}", "{n} answers, mean {mean}", 4, mean="0,70")
    )
    assert text.count("<svg") == 5 + 1 + 5 * 4  # statuses, one skip reason, five bins for each dimension
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/console.js" defer>']  # no chart library
    results = re.search(r'<table class="log results">(.*?)</table>', html, re.S)
    assert results is not None
    assert results.group(1).count("/conversations/") == 4 and "Prizren0" in results.group(1)
    assert "followups.read" in await audit_actions(homeward)


async def test_a_viewer_sees_only_aggregates_and_no_group_smaller_than_five(homeward: Homeward) -> None:
    await people(homeward, "Prizren", 5, 100, GOOD)
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=["tung"], name="Lumturije", chat_id="9")
    await add_followup(homeward, cid, 2, "answered", scores=LOW)
    await add_staff(homeward, "vera", "viewer")
    async with client(homeward) as http:
        await sign_in(http, "vera")
        response = await http.get("/followups")
        assert (await http.get("/followups/export?format=csv")).status_code == 403
    html = response.text
    assert response.status_code == 200
    assert "Prizren0" not in html and "Lumturije" not in html and "/conversations/" not in html
    assert '<table class="log results">' not in html
    first = re.search(r'id="wave-1">(.*?)</section>', html, re.S)
    second = re.search(r'id="wave-2">(.*?)</section>', html, re.S)
    assert first is not None and second is not None
    assert first.group(1).count("<svg") == 5 + 5 * 4  # five answers: the distributions are shown
    assert "0,90" in first.group(1)
    assert "<svg" in second.group(1) and "0,10" not in second.group(1)  # one answer: no distribution, no mean
    assert shown(homeward, "fewer than {n}", n=5) in second.group(1)
    assert "followups.read" not in await audit_actions(homeward)


async def test_a_caseworker_limited_to_one_municipality_sees_nothing_of_another(homeward: Homeward) -> None:
    await people(homeward, "Prizren", 2, 100, GOOD)
    await people(homeward, "Gjakovë", 6, 200, LOW)
    await add_staff(homeward, "amra", "caseworker", ("Prizren",))
    async with client(homeward) as http:
        await sign_in(http, "amra")
        html = (await http.get("/followups")).text
    assert "Prizren0" in html and "Prizren1" in html
    assert "Gjakovë" not in html and "0,10" not in html
    wave = re.search(r'id="wave-1">(.*?)</section>', html, re.S)
    assert wave is not None
    statuses = re.search(r"<table class=\"chart\">(.*?)</table>", wave.group(1), re.S)
    assert statuses is not None and re.findall(r'<td class="n">(\d+)</td>', statuses.group(1))[0] == "2"


async def test_the_follow_up_due_filter_lists_people_invited_who_have_not_answered(
    homeward: Homeward,
) -> None:
    due = await person_with_transcript(homeward, municipality="Prizren", texts=["tung"], name="Arta", chat_id="1")
    answered = await person_with_transcript(homeward, municipality="Prizren", texts=["tung"], name="Besa", chat_id="2")
    finishing = await person_with_transcript(
        homeward, municipality="Prizren", texts=["tung"], name="Drita", chat_id="3"
    )
    elsewhere = await person_with_transcript(homeward, municipality="Gjakovë", texts=["tung"], name="Era", chat_id="4")
    await add_followup(homeward, due, 1, "sent")
    await add_followup(homeward, answered, 1, "answered", scores=GOOD)
    await add_followup(homeward, finishing, 1, "sent", scores=GOOD)  # completed; the scheduler has not seen it yet
    await add_followup(homeward, elsewhere, 1, "sent")
    assert list(inbox.FILTERS)[-2:] == ["followup_due", "closed"]
    await add_staff(homeward, "amra", "caseworker", ("Prizren",))
    async with client(homeward) as http:
        await sign_in(http, "amra")
        html = (await http.get("/inbox?view=followup_due")).text
    listed = re.findall(r'<span class="name">([^<]*)</span>', html)
    assert listed == ["Arta"]
    assert shown(homeward, "Follow-up due") in html
    assert re.search(r'view=followup_due[^"]*">[^<]*<span class="count">1</span>', html)


async def test_the_followup_export_is_the_command_line_export_with_a_redacted_option(
    homeward: Homeward, tmp_path: Path
) -> None:
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=["tung"], name="Arta")
    await add_followup(
        homeward,
        cid,
        1,
        "answered",
        scores=GOOD,
        values={"household_size": 4, "comment": "Arta, call me on 044 123 456"},
    )
    await add_staff(homeward, "ada", "admin")
    questionnaire = homeward.services.extras["questionnaires"].items[FORM_ID]
    async with client(homeward) as http:
        await sign_in(http, "ada")
        plain = await http.get("/followups/export?format=csv")
        redacted = await http.get("/followups/export?format=csv&redacted=1")
        workbook = await http.get("/followups/export?format=xlsx")
        assert (await http.get("/followups/export?format=exe")).status_code == 404
    for response, masked in ((plain, False), (redacted, True)):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        expected = io.StringIO(newline="")
        await followup_export.export(homeward.db, questionnaire, "csv", expected, redacted=masked)
        assert response.text == expected.getvalue()
    assert "044 123 456" in plain.text and "Arta" in plain.text
    assert "044 123 456" not in redacted.text and "[name]" in redacted.text and "[phone]" in redacted.text
    row = next(csv.DictReader(io.StringIO(plain.text)))
    assert float(row["score_composite"]) == GOOD["score_composite"]
    (tmp_path / "f.xlsx").write_bytes(workbook.content)
    sheet = load_workbook(tmp_path / "f.xlsx").active
    assert sheet is not None and sheet.max_row == 2
    async with homeward.db.sessions() as session:
        entries = (
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "export.followups"))).scalars().all()
        )
    assert [(e.detail or {}).get("redacted") for e in entries] == [False, True, False]
    assert all(e.actor == "staff:ada" and (e.detail or {}).get("records") == 1 for e in entries)


async def test_a_caseworker_starts_a_wave_early_and_sends_a_skipped_one_again(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, clock = clocked
    person = Person(fake, 9300, "Arben", "sq")
    n = await onboard(fake, person, "sq")
    person.presses("menu:followup")
    await fake.wait_sent(n + 1, person.id)
    person.presses("fu:consent:yes")
    await fake.wait_sent(n + 2, person.id)
    person.says("01.04.2026")
    await fake.wait_sent(n + 3, person.id)
    await app.turns.wait_idle()
    await add_staff(app, "amra", "caseworker")
    async with app.db.sessions() as session:
        cid = (await session.execute(select(Conversation.id))).scalar_one()
        first, second = (
            (await session.execute(select(FollowupContact).order_by(FollowupContact.wave).limit(2))).scalars().all()
        )
    assert first.status == "planned" and first.due_at > clock.now()
    async with client(app) as http:
        await sign_in(http, "amra")
        page = (await http.get(f"/conversations/{cid}")).text
        assert f"/conversations/{cid}/followups/{first.id}/send" in page
        token = await csrf(http)
        await http.post(f"/conversations/{cid}/followups/{first.id}/send", data={"csrf": token})
        texts = await fake.wait_sent(n + 4, person.id)
        assert "Kanë kaluar 3 muaj" in texts[-1]  # the invitation, months before it was due
        assert person.buttons()[0] == f"fu:start:{first.id}"
        async with app.db.transaction() as session:
            contact = await session.get(FollowupContact, second.id)
            assert contact is not None
            contact.status, contact.reason = "skipped", "blocked"
        await http.post(f"/conversations/{cid}/followups/{second.id}/send", data={"csrf": token})
        texts = await fake.wait_sent(n + 5, person.id)
        assert "Kanë kaluar 6 muaj" in texts[-1]
        again = await http.post(f"/conversations/{cid}/followups/{second.id}/send", data={"csrf": token})
        assert "error=wave_done" in again.headers["location"]
        missing = await http.post(f"/conversations/{cid}/followups/999999/send", data={"csrf": token})
        assert missing.status_code == 404
    async with app.db.sessions() as session:
        done = list(
            (await session.execute(select(AuditEntry.detail).where(AuditEntry.action == "followup.send_now"))).scalars()
        )
    assert [d["wave"] for d in done] == [1, 2] and done[1]["reason"] == "blocked"
