"""The youth page does what `homeward youth …` does, end to end: the forms call the same code, the signed-in
person is the actor in the audit log and the records, the people concerned get the same chat messages
(through the fake Bot API), bad input is refused in the staff member's language, and a coordinator limited
to one municipality cannot act on another's groups."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import httpx
from sqlalchemy import func, select

from bot.app import Homeward
from bot.clock import FixedClock
from db.models import AuditEntry, Beneficiary, OutboxItem
from db.youth import Cohort, CohortAnnouncement, Enrolment, Programme
from tests.console_support import add_staff, client, csrf, shown, sign_in
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard
from tests.youth_steps import Chat, signed_up

COHORT_STARTS = date(2026, 6, 1)  # the clock stands at 10 May 2026, 13:00 in Prishtina


async def _coordinator(
    app: Homeward, http: httpx.AsyncClient, name: str, locale: str, places: tuple[str, ...] = ()
) -> str:
    await add_staff(app, name, "youth_coordinator", places)
    await sign_in(http, name)
    token = await csrf(http)
    await http.post("/language", data={"csrf": token, "locale": locale, "next": "/youth"})
    return token


async def _programme_and_group(
    http: httpx.AsyncClient, token: str, *, capacity: int, municipality: str = "any"
) -> None:
    made = await http.post(
        "/youth/programmes",
        data={"csrf": token, "code": "bridges", "name_sq": "Ura mes nesh", "name_sr": "Мостови међу нама"},
    )
    assert made.status_code == 200, made.text
    group = {
        "csrf": token,
        "programme": "bridges",
        "name_sq": "Grupi i verës",
        "name_sr": "Летња група",
        "municipality": municipality,
        "starts": COHORT_STARTS.isoformat(),
        "capacity": str(capacity),
    }
    assert (await http.post("/youth/cohorts", data=group)).status_code == 200


async def _audit(app: Homeward, action: str) -> list[AuditEntry]:
    async with app.db.sessions() as session:
        found = await session.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        return list(found.scalars())


async def _enrolments(app: Homeward) -> list[Enrolment]:
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        return list((await session.execute(select(Enrolment).order_by(Enrolment.id))).scalars())


def _result(html: str) -> str:
    found = re.search(r'id="youth-result"[^>]*>(.*?)</div>', html, re.S) or re.search(
        r'id="youth-error"[^>]*>(.*?)</p>', html, re.S
    )
    assert found is not None, html[:2000]
    return re.sub(r"<[^>]+>", " ", found.group(1))


async def test_programmes_and_groups_are_created_on_screen_and_bad_input_is_refused_in_ones_language(
    clocked: tuple[Homeward, FixedClock],
) -> None:
    app, _clock = clocked
    async with client(app) as http:
        token = await _coordinator(app, http, "mira", "sr-Cyrl")
        made = await http.post(
            "/youth/programmes",
            data={"csrf": token, "code": "bridges", "name_sq": "Ura mes nesh", "name_sr": "Мостови међу нама"},
        )
        assert made.status_code == 200
        assert shown(app, "Programme {code} created.", "sr-Cyrl", code="bridges") in _result(made.text)
        again = await http.post(
            "/youth/programmes", data={"csrf": token, "code": "bridges", "name_sq": "X", "name_sr": "Х"}
        )
        assert again.status_code == 400
        assert "Програм са шифром bridges већ постоји." in _result(again.text)
        ages = await http.post(
            "/youth/programmes",
            data={"csrf": token, "code": "other", "name_sq": "X", "name_sr": "Х", "min_age": "30", "max_age": "15"},
        )
        assert ages.status_code == 400 and "од 15 до 24" in _result(ages.text)

        group = {
            "csrf": token,
            "programme": "bridges",
            "name_sq": "Grupi i verës",
            "name_sr": "Летња група",
            "municipality": "peje",
            "starts": "2026-06-10",
            "ends": "2026-06-01",
            "capacity": "12",
        }
        refused = await http.post("/youth/cohorts", data=group)
        assert refused.status_code == 400
        assert "Група не може да се заврши пре него што почне." in _result(refused.text)
        assert 'value="Летња група"' in refused.text  # what was typed is kept
        refused = await http.post("/youth/cohorts", data=group | {"ends": "", "capacity": "0"})
        assert "Група мора имати најмање једно место." in _result(refused.text)
        refused = await http.post("/youth/cohorts", data=group | {"ends": "", "programme": "nothing"})
        assert "Нема програма са шифром nothing." in _result(refused.text)
        refused = await http.post("/youth/cohorts", data=group | {"ends": "", "starts": "10.06.2026"})
        assert "као дан, месец и годину" in _result(refused.text)
        refused = await http.post("/youth/cohorts/999/announce", data={"csrf": token, "text_sq": "a", "text_sr": "б"})
        assert refused.status_code == 400 and "Нема групе са бројем 999." in _result(refused.text)

        made = await http.post("/youth/cohorts", data=group | {"ends": "2026-07-10"})
        assert made.status_code == 200
        assert "Група Летња група је направљена, са 12 места." in _result(made.text)
        assert 'id="cohort-' in made.text and "Мостови међу нама" in made.text

    async with app.db.sessions() as session:
        [programme] = (await session.execute(select(Programme))).scalars().all()
        [cohort] = (await session.execute(select(Cohort))).scalars().all()
    assert (programme.code, programme.min_age, programme.max_age, programme.offer_hours) == ("bridges", 15, 24, 48)
    assert (cohort.municipality, cohort.starts_on, cohort.ends_on, cohort.capacity) == (
        "peje",
        date(2026, 6, 10),
        date(2026, 7, 10),
        12,
    )
    [added] = await _audit(app, "youth.programme_add")
    assert (added.actor, added.target, added.detail) == ("staff:mira", f"programme:{programme.id}", {"code": "bridges"})
    [added] = await _audit(app, "youth.cohort_add")
    assert (added.actor, added.target) == ("staff:mira", f"cohort:{cohort.id}")


async def test_a_guardians_consent_given_on_paper_is_recorded_and_the_young_person_is_told(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, _clock = clocked
    async with client(app) as http:
        token = await _coordinator(app, http, "mira", "sq")
        await _programme_and_group(http, token, capacity=5)
        minor = Chat(fake, Person(fake, 9601, "Јована", "sr"))
        await onboard(fake, minor.person, "sr-Cyrl")
        await minor.press("menu:youth", replies=2)
        for step in ("n", "c0"):
            await minor.choose(step)
        await minor.say("Јована Јовановић")
        await minor.say("03.03.2010")  # 16
        await minor.say("Пећ")
        for step in ("c0", "t0", "d", "t2", "d", "s", "s", "c0", "n"):
            await minor.choose(step)
        await minor.say("Драгана Јовановић")
        await minor.say("+383 44 765 432")
        await minor.choose("c0", replies=2)  # photos: yes
        [enrolment] = await _enrolments(app)
        assert (enrolment.status, enrolment.guardian_state) == ("pending_guardian", "pending")
        page = await http.get("/youth")
        assert f'action="/youth/signups/{enrolment.id}/guardian"' in page.text

        before = minor.count()
        done = await http.post(
            f"/youth/signups/{enrolment.id}/guardian", data={"csrf": token}
        )  # no tick: no photos or videos
        assert done.status_code == 200
        said = _result(done.text)
        assert "U regjistrua pëlqimi i prindit ose kujdestarit për Јована Јовановић: ka vend." in said
        assert "Personi njoftohet në bisedë." in said
        texts = await fake.wait_sent(before + 1, minor.person.id)
        assert "Ваш родитељ или старатељ се сагласио." in texts[-1] and "Ваше место је потврђено." in texts[-1]
        [enrolment] = await _enrolments(app)
        assert (enrolment.status, enrolment.guardian_state, enrolment.guardian_confirmed_by) == (
            "confirmed",
            "confirmed",
            "staff:mira",
        )
        assert enrolment.media_consent is False
        [entry] = await _audit(app, "youth.guardian_confirm")
        assert (entry.actor, entry.target, entry.detail) == ("staff:mira", f"signup:{enrolment.id}", {"media": "no"})

        # Once more: the consent is no longer awaited, but an adult's sign-up needs none and says so.
        again = await http.post(f"/youth/signups/{enrolment.id + 50}/guardian", data={"csrf": token})
        assert again.status_code == 400
        assert f"Nuk ka regjistrim aktiv me numrin {enrolment.id + 50}." in _result(again.text)
        assert len(await _audit(app, "youth.guardian_confirm")) == 1


async def test_a_cancelled_place_is_offered_to_the_next_in_line_at_once(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, _clock = clocked
    async with client(app) as http:
        token = await _coordinator(app, http, "mira", "sq")
        await _programme_and_group(http, token, capacity=1)
        await signed_up(fake, 9701, "Arta Krasniqi", "sq", "01.01.2003")
        second, _ = await signed_up(fake, 9702, "Марко Петровић", "sr-Cyrl", "05.06.2005")
        third, _ = await signed_up(fake, 9703, "Besa Hoxha", "sq", "07.08.2006")
        first_id, second_id, _third_id = (e.id for e in await _enrolments(app))
        assert [e.status for e in await _enrolments(app)] == ["confirmed", "waiting", "waiting"]

        before = second.count()
        done = await http.post(f"/youth/signups/{first_id}/cancel", data={"csrf": token})
        assert done.status_code == 200
        said = _result(done.text)
        assert "Regjistrimi u anulua: Arta Krasniqi." in said
        assert "Vendi iu ofrua: Марко Петровић." in said
        texts = await fake.wait_sent(before + 1, second.person.id)
        assert "ослободило се место" in texts[-1]  # the scheduler's offer, word for word
        assert second.person.buttons()[0] == f"yo:accept:{second_id}"
        assert [e.status for e in await _enrolments(app)] == ["cancelled", "offered", "waiting"]
        enrolments = await _enrolments(app)
        assert enrolments[0].cancel_reason == "coordinator"
        [entry] = await _audit(app, "youth.cancel")
        assert (entry.actor, entry.target) == ("staff:mira", f"signup:{first_id}")
        assert not any("është liruar një vend" in t for t in fake.texts(third.person.id))  # still waiting

        # More places: the one still waiting is offered one too; never fewer places than are taken.
        refused = await http.post(
            f"/youth/cohorts/{enrolments[0].cohort_id}/capacity", data={"csrf": token, "capacity": "0"}
        )
        assert refused.status_code == 400 and "Një grup duhet të ketë të paktën një vend." in _result(refused.text)
        more = await http.post(
            f"/youth/cohorts/{enrolments[0].cohort_id}/capacity", data={"csrf": token, "capacity": "2"}
        )
        assert "Grupi Grupi i verës tani ka 2 vende." in _result(more.text)
        assert "Vendi iu ofrua: Besa Hoxha." in _result(more.text)
        assert [e.status for e in await _enrolments(app)] == ["cancelled", "offered", "offered"]
        fewer = await http.post(
            f"/youth/cohorts/{enrolments[0].cohort_id}/capacity", data={"csrf": token, "capacity": "1"}
        )
        assert fewer.status_code == 400
        assert "Vende të zëna tashmë: 2. Grupi nuk mund të ketë më pak vende." in _result(fewer.text)

        # A sign-up already cancelled cannot be cancelled again.
        again = await http.post(f"/youth/signups/{first_id}/cancel", data={"csrf": token})
        assert again.status_code == 400 and f"Nuk ka regjistrim aktiv me numrin {first_id}." in _result(again.text)
        assert len(await _audit(app, "youth.cancel")) == 1


async def test_a_place_cancelled_at_night_is_offered_when_the_day_starts(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, clock = clocked
    async with client(app) as http:
        token = await _coordinator(app, http, "mira", "sq")
        await _programme_and_group(http, token, capacity=1)
        await signed_up(fake, 9751, "Arta Krasniqi", "sq", "01.01.2003")
        second, _ = await signed_up(fake, 9752, "Besa Hoxha", "sq", "05.06.2005")
        first_id = (await _enrolments(app))[0].id
        clock.set(datetime(2026, 5, 10, 21, 0, tzinfo=UTC))  # 23:00 in Prishtina
        await sign_in(http, "mira")  # the afternoon's session has ended
        token = await csrf(http)
        before = second.count()
        done = await http.post(f"/youth/signups/{first_id}/cancel", data={"csrf": token})
        assert done.status_code == 200, done.text[-3000:]
        said = _result(done.text)
        assert "Regjistrimi u anulua: Arta Krasniqi." in said
        assert "Vendet e lira u ofrohen të radhës në listë kur të fillojë dita." in said
        assert [e.status for e in await _enrolments(app)] == ["cancelled", "waiting"]
    clock.set(datetime(2026, 5, 11, 8, 0, tzinfo=UTC))  # 10:00 in Prishtina: the window opens
    counts = await app.youth.run_once()
    assert counts["offered"] == 1
    assert "është liruar një vend" in (await fake.wait_sent(before + 1, second.person.id))[-1]


async def test_an_announcement_is_previewed_in_both_languages_and_scripts_then_queued_with_counts(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, _clock = clocked
    async with client(app) as http:
        token = await _coordinator(app, http, "mira", "sr-Latn")
        await _programme_and_group(http, token, capacity=5)
        arta, _ = await signed_up(fake, 9801, "Arta Krasniqi", "sq", "01.01.2003")
        marko, _ = await signed_up(fake, 9802, "Марко Петровић", "sr-Cyrl", "05.06.2005")
        await signed_up(fake, 9803, "Besa Hoxha", "sq", "07.08.2006")
        async with app.db.transaction() as session:
            besa = (await session.execute(select(Beneficiary).where(Beneficiary.chat_id == "9803"))).scalar_one()
            besa.opted_out = True  # she sent /stop
        cohort_id = (await _enrolments(app))[0].cohort_id
        outbox = await _outbox(app)

        empty = await http.post(
            f"/youth/cohorts/{cohort_id}/announce", data={"csrf": token, "text_sq": "Nesër në ora 10.", "text_sr": " "}
        )
        assert empty.status_code == 400
        assert "Napišite obaveštenje na oba jezika: albanskom i srpskom." in _result(empty.text)
        assert "Nesër në ora 10." in empty.text  # the Albanian text is kept for the next try
        texts = {"csrf": token, "text_sq": "Nesër në ora 10.", "text_sr": "Сутра у 10 часова."}
        preview = await http.post(f"/youth/cohorts/{cohort_id}/announce", data=texts)
        assert preview.status_code == 200
        shown_preview = preview.text[preview.text.index('id="announcement-preview"') :]
        assert "Mesazh nga koordinatorët e Grupi i verës" in shown_preview or "Nesër në ora 10." in shown_preview
        assert "Сутра у 10 часова." in shown_preview and "Sutra u 10 časova." in shown_preview
        assert "Летња група" in shown_preview and "Letnja grupa" in shown_preview
        assert await _outbox(app) == outbox  # nothing has gone out yet

        before_arta, before_marko = arta.count(), marko.count()
        sent = await http.post(f"/youth/cohorts/{cohort_id}/announce", data=texts | {"send": "yes"})
        assert sent.status_code == 200
        said = _result(sent.text)
        assert "2 poruke su stavljene u red." in said and "1 osoba je preskočena." in said
        assert "poruke su isključene: 1 osoba" in said
        assert "Nesër në ora 10." in (await fake.wait_sent(before_arta + 1, arta.person.id))[-1]
        assert "Сутра у 10 часова." in (await fake.wait_sent(before_marko + 1, marko.person.id))[-1]
    async with app.db.sessions() as session:
        [announcement] = (await session.execute(select(CohortAnnouncement))).scalars().all()
        lanes = (await session.execute(select(OutboxItem.lane).order_by(OutboxItem.id.desc()).limit(2))).scalars()
        assert set(lanes) == {_announcement_lane()}
    assert (announcement.author, announcement.queued, announcement.skipped) == ("mira", 2, 1)
    [entry] = await _audit(app, "youth.announce")
    assert (entry.actor, entry.target, entry.detail) == (
        "staff:mira",
        f"cohort:{cohort_id}",
        {"queued": 2, "skipped": {"opted_out": 1}},
    )


def _announcement_lane() -> int:
    from bot.outbox import LANE_ANNOUNCEMENT

    return LANE_ANNOUNCEMENT


async def _outbox(app: Homeward) -> int:
    async with app.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(OutboxItem))).scalar_one())


async def test_a_coordinator_limited_to_another_municipality_is_refused_and_nothing_changes(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, _clock = clocked
    async with client(app) as admin_http:
        token = await _coordinator(app, admin_http, "mira", "sq")
        await _programme_and_group(admin_http, token, capacity=1, municipality="peje")
    await signed_up(fake, 9901, "Arta Krasniqi", "sq", "01.01.2003")
    await signed_up(fake, 9902, "Besa Hoxha", "sq", "07.08.2006")
    enrolments = await _enrolments(app)
    cohort_id, first_id = enrolments[0].cohort_id, enrolments[0].id
    sent = len(fake.texts())
    async with client(app) as http:
        token = await _coordinator(app, http, "drita", "sq", ("prizren",))
        tries = [
            (f"/youth/signups/{first_id}/cancel", {}),
            (f"/youth/signups/{first_id}/guardian", {}),
            (f"/youth/cohorts/{cohort_id}/capacity", {"capacity": "3"}),
            (f"/youth/cohorts/{cohort_id}/announce", {"text_sq": "a", "text_sr": "б"}),
            (f"/youth/cohorts/{cohort_id}/announce", {"text_sq": "a", "text_sr": "б", "send": "yes"}),
            ("/youth/programmes", {"code": "mine", "name_sq": "A", "name_sr": "А"}),
            (
                "/youth/cohorts",
                {
                    "programme": "bridges",
                    "name_sq": "A",
                    "name_sr": "А",
                    "municipality": "peje",
                    "starts": "2026-06-01",
                    "capacity": "3",
                },
            ),
            (
                "/youth/cohorts",
                {
                    "programme": "bridges",
                    "name_sq": "A",
                    "name_sr": "А",
                    "municipality": "any",
                    "starts": "2026-06-01",
                    "capacity": "3",
                },
            ),
        ]
        for url, data in tries:
            refused = await http.post(url, data={"csrf": token} | data)
            assert refused.status_code == 403, url
            assert "Kjo është jashtë komunave ku punoni ju." in _result(refused.text), url
            assert "Arta Krasniqi" not in refused.text  # their page shows no sign-up of another municipality
        page = (await http.get("/youth")).text
        assert "/cancel" not in page and "/announce" not in page and "/youth/programmes" not in page
        # Within their own municipality they act as anyone would.
        made = await http.post(
            "/youth/cohorts",
            data={
                "csrf": token,
                "programme": "bridges",
                "name_sq": "Grupi i Prizrenit",
                "name_sr": "Призренска група",
                "municipality": "prizren",
                "starts": "2026-06-01",
                "capacity": "3",
            },
        )
        assert made.status_code == 200 and "Grupi Grupi i Prizrenit u krijua, me 3 vende." in _result(made.text)
    assert [e.status for e in await _enrolments(app)] == ["confirmed", "waiting"]
    assert len(fake.texts()) == sent
    async with app.db.sessions() as session:
        capacities = (await session.execute(select(Cohort.capacity).order_by(Cohort.id))).scalars().all()
        actors = (await session.execute(select(AuditEntry.actor, AuditEntry.action))).all()
    assert capacities == [1, 3]
    assert [
        action
        for actor, action in actors
        if actor == "staff:drita" and action.startswith("youth.") and action != "youth.read"
    ] == ["youth.cohort_add"]
