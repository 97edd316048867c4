"""People control their data: /mydata, /delete (erasure that really erases), /stop, and re-consent."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, text

from bot import logs, privacy_text
from bot.app import Homeward
from bot.config import Settings
from bot.text import cyrillic_to_latin
from console.conversations import REASONS
from db.models import AuditEntry, Base, Beneficiary, Conversation, FollowupContact, KbQuestion, MediaFile, Message
from handlers import onboarding
from tests.console_support import add_cohort, add_followup, add_sign_up
from tests.fakebot import TOKEN, FakeBotApi, Person
from tests.steps import onboard, transcript

SECRET_NAME = "Zyrafete Kryeziu-Xhemajli"
SECRET_TEXT = "ku ta gjej mjekun per vajzen time Blerina"


async def _scripted(app: Homeward, fake: FakeBotApi, person: Person) -> int:
    n = await onboard(fake, person, "sq")
    person.says(SECRET_TEXT)
    await fake.wait_sent(n + 1, person.id)
    person.presses("menu:followup")
    await fake.wait_sent(n + 2, person.id)
    person.presses("fu:consent:yes")
    await fake.wait_sent(n + 3, person.id)
    person.says("02.10.2026")
    return len(await fake.wait_sent(n + 4, person.id))


async def _dump(app: Homeward) -> dict[str, str]:
    """Every row of every table (and of the search index's own tables), as text, by table."""
    tables: dict[str, str] = {}
    async with app.db.sessions() as session:
        names = [t.name for t in Base.metadata.sorted_tables]
        if app.db.is_sqlite:
            names += [
                n
                for n in (await session.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))).scalars()
                if n not in names and not n.startswith("sqlite")
            ]
        for name in names:
            rows = (await session.execute(text(f'SELECT * FROM "{name}"'))).all()
            tables[name] = json.dumps([list(r) for r in rows], default=str, ensure_ascii=False)
    return tables


async def test_mydata_sends_everything_kept_in_json_and_text(homeward: Homeward, fake: FakeBotApi) -> None:
    person = Person(fake, 777001, SECRET_NAME, "sq")
    await _scripted(homeward, fake, person)
    person.says("/mydata")
    await fake.wait_for(lambda: len(fake.sent("sendDocument", person.id)) == 2)
    files = [v for d in fake.sent("sendDocument") for v in d.values() if isinstance(v, dict) and "filename" in v]
    docs = {f["filename"]: f["content"].decode("utf-8") for f in files}
    data = json.loads(next(v for k, v in docs.items() if k.endswith(".json")))
    readable = next(v for k, v in docs.items() if k.endswith(".txt"))
    kept = [m for m in await transcript(homeward) if m.text and m.kind != "document"]
    inbound_before = [m.text for m in kept if m.direction == "in" and m.text != "/mydata"]
    texts_in_copy = [m["text"] for m in data["transcript"]]
    for line in inbound_before:
        assert line in texts_in_copy
    assert data["profile"]["name"] == SECRET_NAME and data["profile"]["return_date"] == "2026-10-02"
    assert [c["purpose"] for c in data["consents"]] == ["general", "followup"]
    assert data["questions"][0]["text"] == SECRET_TEXT
    assert len(data["follow_up_schedule"]) == 3
    assert SECRET_TEXT in readable and "BISEDA" in readable  # section titles in the person's language
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(AuditEntry.action))).scalars().all() == ["mydata"]
    await homeward.delivery.drain()
    await homeward.turns.wait_idle()
    assert SECRET_TEXT not in json.dumps(
        [  # the files themselves are not kept once sent
            p for p in (await _outbox_payloads(homeward)) if p
        ]
    )


async def _outbox_payloads(app: Homeward) -> list[dict[str, object]]:
    from db.models import OutboxItem

    async with app.db.sessions() as session:
        return [
            p
            for p in (
                await session.execute(select(OutboxItem.payload).where(OutboxItem.method == "sendDocument"))
            ).scalars()
        ]


async def test_delete_erases_everywhere_and_the_tombstone_blocks_follow_ups(
    homeward: Homeward, fake: FakeBotApi
) -> None:
    person = Person(fake, 777002, SECRET_NAME, "sq")
    sent = await _scripted(homeward, fake, person)
    before = "\n".join((await _dump(homeward)).values())
    assert SECRET_TEXT in before and SECRET_NAME in before and "777002" in before
    person.says("/delete")
    texts = await fake.wait_sent(sent + 1, person.id)
    assert "Ky veprim nuk mund të zhbëhet." in texts[-1]
    person.presses("del:yes")
    texts = await fake.wait_sent(sent + 2, person.id)
    assert "u fshinë" in texts[-1]
    await homeward.turns.wait_idle()
    await fake.wait_for(lambda: len(fake.sent("answerCallbackQuery")) >= 4)
    await homeward.delivery.drain()
    after = await _dump(homeward)
    for unique in (SECRET_TEXT, SECRET_NAME, "Blerina", "777002", "2026-10-02"):
        assert not [name for name, rows in after.items() if unique in rows], unique
    async with homeward.db.sessions() as session:
        tombstone = (await session.execute(select(Beneficiary))).scalar_one()
        assert tombstone.consent == "erased" and tombstone.opted_out
        audit = (await session.execute(select(AuditEntry.action))).scalars().all()
        assert audit == ["erase"]
        # A caseworker planning follow-ups for the tombstone gets nothing sent.
        from bot.followup.contacts import set_return_date

    async with homeward.db.transaction() as session:
        tombstone = (await session.execute(select(Beneficiary))).scalar_one()
        await set_return_date(session, tombstone, datetime(2025, 1, 1).date(), datetime(2025, 2, 1, tzinfo=UTC))
    await homeward.followups.run_once()
    async with homeward.db.sessions() as session:
        statuses = {(c.status, c.reason) for c in (await session.execute(select(FollowupContact))).scalars()}
    assert ("sent", None) not in statuses and statuses <= {
        ("skipped", "opted_out"),
        ("skipped", "expired"),
        ("expired", "expired"),
        ("planned", None),
    }


async def test_stop_ends_follow_ups_until_start(homeward: Homeward, fake: FakeBotApi) -> None:
    person = Person(fake, 777003, "Dren", "sq")
    sent = await _scripted(homeward, fake, person)
    person.says("/stop")
    texts = await fake.wait_sent(sent + 1, person.id)
    assert "Nuk do t'ju dërgojmë më" in texts[-1]
    await homeward.turns.wait_idle()
    async with homeward.db.sessions() as session:
        someone = (await session.execute(select(Beneficiary))).scalar_one()
        assert someone.opted_out and someone.followup_consent is False
        reasons = {c.reason for c in (await session.execute(select(FollowupContact))).scalars()}
        assert reasons == {"opted_out"}
    person.says("/start")
    await fake.wait_sent(sent + 2, person.id)
    await homeward.turns.wait_idle()
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(Beneficiary.opted_out))).scalar_one() is False


async def test_a_new_privacy_notice_is_asked_again_at_the_next_contact(
    homeward: Homeward, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = Person(fake, 777004, "Milica", "sr")
    sent = await onboard(fake, person, "sr-Cyrl")
    monkeypatch.setattr(onboarding, "CONSENT_VERSION", 2)
    person.says("где је дом здравља")
    texts = await fake.wait_sent(sent + 2, person.id)
    assert texts[-2].startswith("Како чувамо Ваше податке (верзија 2)")
    person.presses("consent:yes")
    await fake.wait_sent(sent + 4, person.id)
    await homeward.turns.wait_idle()
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(Beneficiary.consent_version))).scalar_one() == 2


async def test_logs_never_hold_the_token_message_text_or_names(settings: Settings, fake: FakeBotApi) -> None:
    output = io.StringIO()
    logs.configure("DEBUG", output)  # the most talkative setting an operator can choose
    logging.getLogger("bot.delivery").warning("a send to %s failed", f"{fake.base}/bot{TOKEN}/sendMessage")
    app = Homeward(settings)
    await app.start()
    try:
        person = Person(fake, 777005, SECRET_NAME, "sq")
        await _scripted(app, fake, person)
        person.says("/mydata")
        await fake.wait_for(lambda: len(fake.sent("sendDocument", person.id)) == 2)
        fake.injector = lambda method, params: (
            __import__("tests.fakebot", fromlist=["Fault"]).Fault(502, "Bad Gateway")
            if method == "sendMessage" and "mjek" in str(params)
            else None
        )
        person.says("mjeku ku eshte")
        await fake.wait_for(lambda: app.delivery.sent > 0)
        await app.turns.wait_idle()
    finally:
        await app.stop()
        logging.getLogger().handlers.clear()
    logged = output.getvalue()
    assert logged.count("\n") >= 3  # something was logged, so the scan means something
    for secret in (TOKEN, TOKEN.split(":")[1], SECRET_TEXT, SECRET_NAME, "Kryeziu", "mjeku ku eshte"):
        assert secret not in logged, secret


async def test_the_console_says_plainly_that_a_person_erased_their_data(homeward: Homeward, fake: FakeBotApi) -> None:
    from db.models import Conversation
    from tests.console_support import add_staff, client, csrf, shown, sign_in

    person = Person(fake, 777005, SECRET_NAME, "sq")
    sent = await onboard(fake, person, "sq")
    person.says("/delete")
    await fake.wait_sent(sent + 1, person.id)
    person.presses("del:yes")
    await fake.wait_sent(sent + 2, person.id)
    await homeward.turns.wait_idle()
    await homeward.delivery.drain()
    async with homeward.db.sessions() as session:
        conversation_id = (await session.execute(select(Conversation.id))).scalar_one()
        erased_at = (await session.execute(select(AuditEntry.at).where(AuditEntry.action == "erase"))).scalar_one()
    when = homeward.translations("sq").datetime(erased_at)  # Kosovo time
    await add_staff(homeward, "drita", "caseworker")
    async with client(homeward) as http:
        await sign_in(http, "drita")
        page = (await http.get(f"/conversations/{conversation_id}")).text
        token = await csrf(http)
        taken = await http.post(f"/conversations/{conversation_id}/take", data={"csrf": token})
        replied = await http.post(
            f"/conversations/{conversation_id}/reply", data={"csrf": token, "text": "Tungjatjeta"}
        )
        urgent = await http.post(f"/conversations/{conversation_id}/urgent", data={"csrf": token, "urgent": "1"})
        refused = (await http.get(replied.headers["location"])).text
    assert shown(homeward, "This person erased their data on {when} (Kosovo time).", when=when) in page
    assert shown(homeward, "data erased on {when}", when=when) in page
    assert shown(homeward, "not answered yet") not in page
    for action in ('id="take-over"', 'id="reply-text"', "/urgent", "/return-date"):
        assert action not in page, action
    for answer in (taken, replied, urgent):
        assert answer.headers["location"].endswith("error=erased"), answer.headers["location"]
    assert shown(homeward, REASONS["erased"]) in refused
    assert shown(homeward, REASONS["unreachable"]) not in refused
    async with homeward.db.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.mode == "bot" and not conversation.urgent
    # Writing again starts afresh: once they agree again, the conversation works like any other.
    await onboard(fake, person, "sq")
    await homeward.turns.wait_idle()
    async with client(homeward) as http:
        await sign_in(http, "drita")
        fresh = (await http.get(f"/conversations/{conversation_id}")).text
    assert 'id="take-over"' in fresh and 'id="erased"' not in fresh


CYRILLIC = re.compile("[\u0400-\u04ff]")
SNAKE_CASE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
PYTHON_VALUES = re.compile(r"\b(?:True|False|None)\b")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# What each readable copy must say, in the person's language and script (sr-Latn is derived from sr-Cyrl).
READABLE = {
    "sq": [
        "PROFILI",
        "PËLQIMET",
        "BISEDA",
        "PËRGJIGJET NË PYETËSORË",
        "ORARI I PYETËSORËVE",
        "PYETJET QË KENI BËRË",
        "REGJISTRIMET NË PROGRAMIN PËR TË RINJ",
        "FOTOT DHE DOKUMENTET QË KENI DËRGUAR",
        "Aplikacioni: Telegram",
        "Komuna: Prizren",
        "Data e kthimit: 2.10.2026",
        "Pranuat pyetësorët: Po",
        "I ndalët pyetësorët dhe njoftimet: Jo",
        "Pranuat: Po",
        "Kush shkroi: Ju",
        "Kush shkroi: Menaxheri i rastit Amra",
        "Pyetësori: Pyetësori pas kthimit",
        "Punë me pagë të rregullt",
        "Statusi: përgjigjur",
        "Programi: Klubi i kodimit",
        "Grupi: Grupi i pranverës",
        "Statusi: keni një vend",
        "Lloji i skedarit: Fotografi",
        "Madhësia: 2 KB",
    ],
    "sr-Cyrl": [
        "ПРОФИЛ",
        "САГЛАСНОСТИ",
        "РАЗГОВОР",
        "ОДГОВОРИ У УПИТНИЦИМА",
        "РАСПОРЕД УПИТНИКА",
        "ПИТАЊА КОЈА СТЕ ПОСТАВИЛИ",
        "ПРИЈАВЕ ЗА ПРОГРАМ ЗА МЛАДЕ",
        "ФОТОГРАФИЈЕ И ДОКУМЕНТИ КОЈЕ СТЕ ПОСЛАЛИ",
        "Апликација: Telegram",
        "Општина: Призрен",
        "Датум повратка: 2.10.2026",
        "Пристали сте на упитнике: Да",
        "Пристали сте: Да",
        "Ко је писао: Ви",
        "Ко је писао: Водитељ случаја Amra",
        "Посао са редовном платом",
        "Статус: одговорено",
        "Статус: имате место",
        "Величина: 2 KB",
        "Програм: Клуб програмирања",
        "Група: Пролећна група",
        "Врста датотеке: Фотографија",
    ],
}
READABLE["sr-Latn"] = [cyrillic_to_latin(line) for line in READABLE["sr-Cyrl"]]


@pytest.mark.parametrize("locale", ["sq", "sr-Cyrl", "sr-Latn"])
async def test_the_text_copy_reads_entirely_in_the_persons_language(
    homeward: Homeward, fake: FakeBotApi, locale: str
) -> None:
    person = Person(fake, 777010, "Arta", "sq")
    n = await onboard(fake, person, locale)
    person.says(SECRET_TEXT)
    await fake.wait_sent(n + 1, person.id)
    person.presses("menu:followup")
    await fake.wait_sent(n + 2, person.id)
    person.presses("fu:consent:yes")
    await fake.wait_sent(n + 3, person.id)
    person.says("02.10.2026")
    await fake.wait_sent(n + 4, person.id)
    await homeward.turns.wait_idle()
    now = homeward.clock.now()
    async with homeward.db.transaction() as session:
        someone = (await session.execute(select(Beneficiary))).scalar_one()
        someone.municipality, someone.source = "prizren", "flyer-2026"
        conversation = (await session.execute(select(Conversation))).scalar_one()
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="out",
                author="staff:Amra",
                kind="text",
                text="Mirëdita, si mund t'ju ndihmoj?",
                status="sent",
                created_at=now,
            )
        )
        session.add(
            MediaFile(
                conversation_id=conversation.id,
                channel="telegram",
                file_ref="photo-1",
                status="stored",
                media_type="image/jpeg",
                file_name="pasaporta.jpg",
                size=2000,
                created_at=now,
            )
        )
        for question in (await session.execute(select(KbQuestion))).scalars():
            question.helpful, question.topic = True, "health.doctor"
        await session.execute(delete(FollowupContact).where(FollowupContact.wave == 1))  # answered below
    await add_followup(
        homeward,
        conversation.id,
        1,
        "answered",
        scores={"score_economic": 0.75, "score_composite": 0.5},
        values={"household_size": 4, "e_income_source": "salary"},
    )
    programme, cohort = await add_cohort(homeward)
    await add_sign_up(homeward, conversation.id, programme, cohort, "confirmed", full_name="Arta Krasniqi")
    person.says("/mydata")
    await fake.wait_for(lambda: len(fake.sent("sendDocument", person.id)) == 2)
    files = [v for d in fake.sent("sendDocument") for v in d.values() if isinstance(v, dict) and "filename" in v]
    docs = {f["filename"]: f["content"].decode("utf-8") for f in files}
    data = json.loads(next(v for k, v in docs.items() if k.endswith(".json")))
    readable = next(v for k, v in docs.items() if k.endswith(".txt"))

    # Every section the registry collects has data, and the JSON keeps its machine keys.
    assert all(data[section] for section in data), [section for section in data if not data[section]]
    assert {"profile", "youth_signups", "files", "follow_up_schedule"} <= set(data)
    assert data["profile"]["opted_out"] is False and data["youth_signups"][0]["status"] == "confirmed"
    # Every section and field has words of its own (a field added without them would show its key).
    assert set(data) <= set(privacy_text.TITLES)
    for section, items in data.items():
        for item in items if isinstance(items, list) else [items]:
            assert set(item) <= set(privacy_text.FIELDS[section]), (section, set(item))
    for expected in READABLE[locale]:
        assert expected in readable, expected
    assert SECRET_TEXT in readable and "Arta Krasniqi" in readable
    assert homeward.services.kb.topic("health.doctor").title(locale) in readable
    assert not SNAKE_CASE.findall(readable)
    assert not PYTHON_VALUES.findall(readable)
    assert not ISO_MOMENT.findall(readable) and "+00:00" not in readable
    labels = [line.split(":")[0] for line in readable.splitlines() if ":" in line and not line.startswith(" ")]
    if locale == "sr-Latn":
        assert not CYRILLIC.findall(readable)
    elif locale == "sr-Cyrl":
        assert labels and all(CYRILLIC.search(label) for label in labels), labels
    # Times are Kosovo's: the moment the copy was asked for, as the clock on the wall showed it.
    assert homeward.translations(locale).datetime(now)[:-3] in readable


def test_an_unknown_section_or_field_still_shows_readably(homeward: Homeward) -> None:
    t = homeward.translations("sr-Latn")
    text = privacy_text.as_text(
        {
            "profile": {"opted_out": True, "new_field": None, "favourite_app": "viber", "since": "2026-05-01"},
            "new_section": [{"when_it_was": "2026-05-10T11:00:00+00:00", "count": 3, "ok": False, "list": [None]}],
            "empty_section": None,
        },
        t,
    )
    assert "Favourite app: viber" in text and "Since: 1.5.2026" in text
    assert "NEW SECTION" in text and "When it was: 10.5.2026 13:00" in text and "Ok: Ne" in text
    assert "Zaustavili ste upitnike i obaveštenja: Da" in text and not CYRILLIC.findall(text)
    assert "EMPTY SECTION" in text and "Ništa se ne čuva." in text
    assert not SNAKE_CASE.findall(text) and not PYTHON_VALUES.findall(text)
