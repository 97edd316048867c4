"""Broadcasts in the console: who may send them, to whom (segments, municipalities), with CSRF and the audit
log; and that replies to people are not held behind a large broadcast."""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import broadcasts
from bot.app import Homeward
from bot.broadcasts import Queue, Segment
from bot.clock import Clock, FixedClock
from bot.config import Settings
from bot.delivery import Delivery
from bot.outbox import LANE_ANNOUNCEMENT, queue_reply
from bot.pacing import Pacer
from bot.ratelimit import LocalLimiter
from db.broadcasts import Broadcast, BroadcastRecipient
from db.encryption import Keyring
from db.models import AuditEntry, Beneficiary, Conversation, Message, OutboxItem
from db.session import Database, is_sqlite
from handlers.turn import Reply
from tests.console_support import (
    a_broadcast,
    add_cohort,
    add_followup,
    add_sign_up,
    add_staff,
    client,
    csrf,
    person_of,
    person_with_transcript,
    sign_in,
)
from tests.test_delivery_lanes import RecordingSender

TEXTS = {"text_sq": "Nesër zyra është e mbyllur.", "text_sr": "Сутра је канцеларија затворена."}
_TOKEN = re.compile(r'name="token" value="([0-9a-f]+)"')
_SEAL = re.compile(r'name="seal" value="([0-9a-f]+)"')
_REACH = re.compile(r'id="broadcast-reach"><strong>[^<]*?(\d+)')
_SHOWN = re.compile(r'<blockquote class="message" lang="([^"]+)">([^<]*)</blockquote>')


async def _people(app: Homeward) -> dict[str, int]:
    """Four people across municipalities, languages, apps, follow-up states and a youth group: name → person id."""
    arta = await person_with_transcript(app, municipality="prizren", texts=["tung"], name="Arta", chat_id="1")
    jovana = await person_with_transcript(
        app, municipality="prizren", texts=["здраво"], name="Jovana", locale="sr-Cyrl", chat_id="2"
    )
    marko = await person_with_transcript(
        app, municipality="gjilan", texts=["zdravo"], name="Marko", locale="sr-Latn", chat_id="3"
    )
    besa = await person_with_transcript(app, municipality="gjilan", texts=["tung"], name="Besa", chat_id="4")
    await add_followup(app, arta, 1, "sent")  # invited, open: due
    await add_followup(app, jovana, 1, "answered")
    await add_followup(app, marko, 1, "expired")  # not answered in time: overdue
    await add_followup(app, marko, 2, "sent")
    programme, cohort = await add_cohort(app, municipality="prizren")
    await add_sign_up(app, arta, programme, cohort, "confirmed", full_name="Arta")
    await add_sign_up(app, besa, programme, cohort, "cancelled", full_name="Besa")
    ids = {name: await person_of(app, cid) for name, cid in (("arta", arta), ("jovana", jovana))}
    ids |= {name: await person_of(app, cid) for name, cid in (("marko", marko), ("besa", besa))}
    ids["cohort"] = cohort
    now = app.clock.now()
    async with app.db.transaction() as session:
        await session.execute(update(Beneficiary).where(Beneficiary.id == ids["jovana"]).values(channel="viber"))
        await session.execute(
            update(Beneficiary).where(Beneficiary.id == ids["marko"]).values(channel="whatsapp", last_contact_at=now)
        )
    return ids


async def test_segments_pick_people_by_language_place_group_follow_up_and_app(homeward: Homeward) -> None:
    ids = await _people(homeward)
    names = {v: k for k, v in ids.items() if k != "cohort"}
    now = homeward.clock.now()

    async def who(segment: Segment, scope: tuple[str, ...] | None = None) -> list[str]:
        async with homeward.db.sessions() as session:
            found = await broadcasts.reach(session, segment, scope, {}, now)
        return sorted(names[person.id] for person, _, reason in found.people if reason is None)

    assert await who(Segment()) == ["arta", "besa", "jovana", "marko"]
    assert await who(Segment(language="sq")) == ["arta", "besa"]
    assert await who(Segment(language="sr")) == ["jovana", "marko"]  # both scripts
    assert await who(Segment(language="sr-Cyrl")) == ["jovana"]
    assert await who(Segment(language="sr-Latn")) == ["marko"]
    assert await who(Segment(language="sr-Latn", municipality="prizren")) == []
    assert await who(Segment(municipality="gjilan")) == ["besa", "marko"]
    assert await who(Segment(), scope=("prizren",)) == ["arta", "jovana"]
    assert await who(Segment(municipality="gjilan"), scope=("prizren",)) == []
    assert await who(Segment(cohort=ids["cohort"])) == ["arta"]  # a cancelled sign-up is no longer in the group
    assert await who(Segment(wave=1, followup="due")) == ["arta"]
    assert await who(Segment(wave=1, followup="overdue")) == ["marko"]
    assert await who(Segment(wave=1, followup="completed")) == ["jovana"]
    assert await who(Segment(wave=1, followup="none")) == ["besa"]
    assert await who(Segment(followup="due")) == ["arta", "marko"]  # any wave
    assert await who(Segment(wave=2, followup="none")) == ["arta", "besa", "jovana"]
    assert await who(Segment(channel="viber")) == ["jovana"]
    assert await who(Segment(channel="whatsapp", language="sr")) == ["marko"]
    # Past WhatsApp's 24 hours: skipped without an approved template for the person's language, sent with one.
    later = now + timedelta(hours=25)
    async with homeward.db.sessions() as session:
        without = await broadcasts.reach(session, Segment(channel="whatsapp"), None, {}, later)
        with_one = await broadcasts.reach(
            session, Segment(channel="whatsapp"), None, {"announcement:sr-Latn": "announcement_sr"}, later
        )
    assert without.reached == 0 and without.skipped == {"outside_window": 1}
    assert with_one.reached == 1 and not with_one.skipped


async def _preview_and_send(http: httpx.AsyncClient, **segment: str) -> tuple[httpx.Response, httpx.Response | None]:
    form = {"csrf": await csrf(http), **TEXTS, **segment}
    preview = await http.post("/broadcasts/preview", data=form)
    token, seal = _TOKEN.search(preview.text), _SEAL.search(preview.text)
    if token is None or seal is None:
        return preview, None
    return preview, await http.post("/broadcasts", data={**form, "token": token.group(1), "seal": seal.group(1)})


async def test_caseworkers_and_viewers_may_not_broadcast(homeward: Homeward) -> None:
    await _people(homeward)
    await add_staff(homeward, "drita", "admin")
    bid = await a_broadcast(homeward, "drita")
    for name, role in (("amra", "caseworker"), ("vera", "viewer")):
        await add_staff(homeward, name, role)
        async with client(homeward) as http:
            await sign_in(http, name)
            assert 'href="/broadcasts"' not in (await http.get("/dashboard")).text
            assert (await http.get("/broadcasts")).status_code == 403
            assert (await http.get(f"/broadcasts/{bid}")).status_code == 403
            preview, sent = await _preview_and_send(http)
            assert preview.status_code == 403 and sent is None
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Broadcast))).scalar_one() == 1


async def test_a_coordinator_reaches_only_their_municipalities(homeward: Homeward) -> None:
    ids = await _people(homeward)
    await add_staff(homeward, "drita", "admin")
    everyone = await a_broadcast(homeward, "drita")
    await add_staff(homeward, "yll", "youth_coordinator", ("prizren",))
    async with client(homeward) as http:
        await sign_in(http, "yll")
        assert 'href="/broadcasts"' in (await http.get("/youth")).text
        listing = await http.get("/broadcasts")
        assert listing.status_code == 200 and f'href="/broadcasts/{everyone}"' not in listing.text
        assert (await http.get(f"/broadcasts/{everyone}")).status_code == 403
        elsewhere, sent = await _preview_and_send(http, municipality="gjilan")
        assert elsewhere.status_code == 403 and sent is None
        preview, sent = await _preview_and_send(http)
        reach = _REACH.search(preview.text)
        assert reach is not None and reach.group(1) == "2"
        assert sent is not None and sent.status_code == 303
        await homeward.broadcasts.wait_idle()  # queued in the background
        own = await http.get(sent.headers["location"])
        shown = dict(re.findall(r'data-count="(\w+)">(\d+)<', own.text))
        assert own.status_code == 200 and int(shown["left"]) + int(shown["sent"]) == 2  # delivery may be quick
        assert f'href="{sent.headers["location"]}"' in (await http.get("/broadcasts")).text
    async with homeward.db.sessions() as session:
        broadcast = (await session.execute(select(Broadcast).where(Broadcast.author == "yll"))).scalar_one()
        got = (
            await session.execute(
                select(BroadcastRecipient.beneficiary_id).where(BroadcastRecipient.broadcast_id == broadcast.id)
            )
        ).scalars()
        entries = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.target)
                .where(AuditEntry.actor == "staff:yll")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert broadcast.scope == ["prizren"] and sorted(got) == sorted([ids["arta"], ids["jovana"]])
    assert [tuple(e) for e in entries if e[0].startswith("broadcast.")] == [
        ("broadcast.preview", None),
        ("broadcast.send", f"broadcast:{broadcast.id}"),
    ]


async def test_an_admin_reaches_every_municipality_and_forms_need_the_csrf_token(homeward: Homeward) -> None:
    await _people(homeward)
    await add_staff(homeward, "drita", "admin")
    async with client(homeward) as http:
        await sign_in(http, "drita")
        forged = await http.post("/broadcasts/preview", data={**TEXTS})
        assert forged.status_code == 403
        wrong = await http.post("/broadcasts", data={**TEXTS, "csrf": "x" * 43, "token": "a" * 32})
        assert wrong.status_code == 403
        empty = await http.post("/broadcasts/preview", data={"csrf": await csrf(http), "text_sq": "x", "text_sr": " "})
        assert empty.status_code == 400 and 'id="broadcast-error"' in empty.text
        unknown = await http.post("/broadcasts/preview", data={"csrf": await csrf(http), **TEXTS, "channel": "sms"})
        assert unknown.status_code == 400
        unpreviewed = await http.post("/broadcasts", data={"csrf": await csrf(http), **TEXTS})
        assert unpreviewed.status_code == 400
        preview, sent = await _preview_and_send(http, language="sr")
        reach = _REACH.search(preview.text)
        assert reach is not None and reach.group(1) == "2" and sent is not None and sent.status_code == 303
        await homeward.broadcasts.wait_idle()
        everyone = await http.post("/broadcasts/preview", data={"csrf": await csrf(http), **TEXTS})
        reach = _REACH.search(everyone.text)
        assert reach is not None and reach.group(1) == "4"
    async with homeward.db.sessions() as session:
        rows = (await session.execute(select(OutboxItem.payload, OutboxItem.lane))).all()
        actions = (
            await session.execute(
                select(AuditEntry.action).where(AuditEntry.action.startswith("broadcast")).order_by(AuditEntry.id)
            )
        ).all()
    assert sorted(p["text"] for p, lane in rows if lane == LANE_ANNOUNCEMENT) == sorted(
        [TEXTS["text_sr"], "Sutra je kancelarija zatvorena."]
    )
    assert [a for (a,) in actions] == ["broadcast.preview", "broadcast.send", "broadcast.queued", "broadcast.preview"]


async def test_a_coordinator_picks_one_serbian_script_and_the_preview_counts_and_page_follow(
    homeward: Homeward,
) -> None:
    ids = await _people(homeward)
    await add_staff(homeward, "drita", "admin")
    latin = "Sutra je kancelarija zatvorena."
    async with client(homeward) as http:
        await sign_in(http, "drita")
        await http.post("/language", data={"csrf": await csrf(http), "locale": "en", "next": "/broadcasts"})
        form = (await http.get("/broadcasts")).text
        offered = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', form.split('name="language"')[1])
        assert offered[:5] == [
            ("", "All"),
            ("sq", "Albanian"),
            ("sr-Cyrl", "Serbian (Cyrillic)"),
            ("sr-Latn", "Serbian (Latin)"),
            ("sr", "Serbian (both scripts)"),
        ]
        for language, reached, shown in (
            ("sr-Cyrl", "1", [("sr-Cyrl", TEXTS["text_sr"])]),
            ("sr", "2", [("sr-Cyrl", TEXTS["text_sr"]), ("sr-Latn", latin)]),
            ("sq", "2", [("sq", TEXTS["text_sq"])]),
            ("", "4", [("sq", TEXTS["text_sq"]), ("sr-Cyrl", TEXTS["text_sr"]), ("sr-Latn", latin)]),
        ):
            preview = await http.post(
                "/broadcasts/preview", data={"csrf": await csrf(http), **TEXTS, "language": language}
            )
            reach = _REACH.search(preview.text)
            assert reach is not None and reach.group(1) == reached, language
            assert _SHOWN.findall(preview.text) == shown, language
        preview, sent = await _preview_and_send(http, language="sr-Latn")
        reach = _REACH.search(preview.text)
        assert reach is not None and reach.group(1) == "1"
        assert "<li>Language: Serbian (Latin)</li>" in preview.text
        assert 'class="meta">Srpski: 1</span>' in preview.text and "Српски:" not in preview.text
        assert _SHOWN.findall(preview.text) == [("sr-Latn", latin)]
        assert sent is not None and sent.status_code == 303
        await homeward.broadcasts.wait_idle()
        page = (await http.get(sent.headers["location"])).text
        assert "<li>Language: Serbian (Latin)</li>" in page
        assert _SHOWN.findall(page) == [("sr-Latn", latin)]
    async with homeward.db.sessions() as session:
        recipients = (await session.execute(select(BroadcastRecipient.beneficiary_id))).scalars().all()
        lines = (await session.execute(select(OutboxItem.payload).where(OutboxItem.lane == LANE_ANNOUNCEMENT))).all()
    assert recipients == [ids["marko"]]
    assert [p["text"] for (p,) in lines] == [latin]


async def test_a_reply_is_not_held_behind_a_large_broadcast(database_url: str) -> None:
    """300 people get a broadcast at 50 messages a second; a reply to someone else goes out within about a second."""
    db = Database(database_url, keyring=Keyring(["k"]))
    sender = RecordingSender()
    delivery = Delivery(
        db,
        {"telegram": sender},
        Clock(),
        LocalLimiter(Pacer(global_rate=50, chat_rate=1, chat_burst=1)),
        worker_id="w1",
    )
    now = Clock().now()
    try:
        async with db.transaction() as session:
            for n in range(301):
                person = Beneficiary(
                    channel="telegram",
                    channel_ref=f"ref-{n}",
                    channel_user_id=str(5000 + n),
                    chat_id=str(5000 + n),
                    locale="sq" if n else "sr-Cyrl",
                    consent="given",
                    opted_out=False,
                    blocked=False,
                    created_at=now,
                )
                session.add(person)
                await session.flush()
                session.add(Conversation.opened(person.id, now))
        async with db.transaction() as session:
            _, found = await broadcasts.send(
                session,
                {},
                author="drita",
                token="t" * 32,
                segment=Segment(language="sq"),
                scope=None,
                now=now,
                **TEXTS,
            )
        assert found.reached == 300
        stop = asyncio.Event()
        task = asyncio.create_task(delivery.run(stop))
        while len(sender.sent) < 5:  # the broadcast is under way
            await asyncio.sleep(0.01)
        asked = time.monotonic()
        sent_when_asked = len(sender.sent)
        async with db.transaction() as session:
            person, conversation = (
                await session.execute(
                    select(Beneficiary, Conversation)
                    .join(Conversation, Conversation.beneficiary_id == Beneficiary.id)
                    .where(Beneficiary.chat_id == "5000")
                )
            ).one()
            await queue_reply(
                session, person=person, conversation=conversation, chat_id="5000", reply=Reply("reply"), now=now
            )
        delivery.wake()
        while not any(text == "reply" for _, _, text in sender.sent) and time.monotonic() - asked < 30:
            await asyncio.sleep(0.005)
        stop.set()
        await task
        texts = [text for _, _, text in sender.sent]
        # Counted in messages, not seconds: at most about one second's worth of the broadcast went first.
        assert texts.index("reply") - sent_when_asked <= 50
        assert texts.index("reply") < 300 and texts.count(TEXTS["text_sq"]) < 300
    finally:
        await db.dispose()


async def test_a_person_erased_after_a_broadcast_is_counted_as_erased_and_left_no_trace_in_it(
    homeward: Homeward,
) -> None:
    ids = await _people(homeward)
    await add_staff(homeward, "drita", "admin")
    bid = await a_broadcast(homeward, "drita")
    async with homeward.db.transaction() as session:
        before = await broadcasts.counts(session, bid)
        person = await session.get(Beneficiary, ids["marko"])
        assert person is not None
        await homeward.personal_data.erase(session, person, actor="person", chat_key=None, now=homeward.clock.now())
    async with homeward.db.sessions() as session:
        after = await broadcasts.counts(session, bid)
        rows = (
            await session.execute(
                select(BroadcastRecipient.beneficiary_id, BroadcastRecipient.channel, BroadcastRecipient.locale)
            )
        ).all()
    assert before.total == after.total == 4 and not before.skipped
    assert after.skipped == {"erased": 1} and after.queued + after.sent == 3
    assert (ids["marko"], "whatsapp", "sr-Latn") not in [tuple(r) for r in rows]
    assert sum(1 for r in rows if r.beneficiary_id is None and r.channel == "" and r.locale is None) == 1


async def test_the_counts_read_each_line_once_by_its_delivery_status(homeward: Homeward) -> None:
    """Sent (delivered and read too), waiting, skipped by WhatsApp's window at sending, refused by a person
    who blocked the bot (Viber: unsubscribed) meanwhile, and failed with the platform's reason."""
    ids = await _people(homeward)
    await homeward.stop()  # nothing is delivered while the lines are given their statuses by hand
    bid = await a_broadcast(homeward, "drita")
    outcomes = {
        "arta": ("read", None),
        "jovana": ("failed", "receiverNotSubscribed: the person unsubscribed"),
        "marko": ("skipped", "outside_window"),
        "besa": ("failed", "Bad Request: message text is empty"),
    }
    async with homeward.db.transaction() as session:
        lines = dict(
            (
                await session.execute(
                    select(BroadcastRecipient.beneficiary_id, BroadcastRecipient.message_id).where(
                        BroadcastRecipient.broadcast_id == bid
                    )
                )
            ).all()
        )
        assert (await broadcasts.counts(session, bid)).queued == 4
        for name, (status, error) in outcomes.items():
            await session.execute(
                update(Message).where(Message.id == lines[ids[name]]).values(status=status, error=error)
            )
        await session.execute(update(Beneficiary).where(Beneficiary.id == ids["jovana"]).values(blocked=True))
    async with homeward.db.sessions() as session:
        found = await broadcasts.counts(session, bid)
    assert (found.queued, found.sent, found.failed) == (0, 1, 1)
    assert found.skipped == {"unsubscribed": 1, "outside_window": 1}
    assert found.failures == {"Bad Request: message text is empty": 1}


async def test_serbian_is_written_in_cyrillic(homeward: Homeward) -> None:
    await add_staff(homeward, "drita", "admin")
    async with client(homeward) as http:
        await sign_in(http, "drita")
        latin = {"csrf": await csrf(http), "text_sq": "Takim nesër.", "text_sr": "Sastanak sutra."}
        refused = await http.post("/broadcasts/preview", data=latin)
    assert (
        refused.status_code == 400
        and 'id="broadcast-error"' in refused.text
        and "broadcast-preview" not in refused.text
    )


async def test_a_broadcast_is_sent_only_with_the_text_and_segment_previewed(homeward: Homeward) -> None:
    """The confirmation is sealed with what the preview showed: another text or segment under it is refused."""
    await _people(homeward)
    await add_staff(homeward, "drita", "admin")
    async with client(homeward) as http:
        await sign_in(http, "drita")
        await http.post("/language", data={"csrf": await csrf(http), "locale": "en", "next": "/broadcasts"})
        form = {"csrf": await csrf(http), **TEXTS, "language": "sr"}
        preview = await http.post("/broadcasts/preview", data=form)
        token, seal = _TOKEN.search(preview.text), _SEAL.search(preview.text)
        assert token is not None and seal is not None
        sealed = {**form, "token": token.group(1), "seal": seal.group(1)}
        other_text = await http.post("/broadcasts", data={**sealed, "text_sq": "Zyra është e hapur."})
        other_segment = await http.post("/broadcasts", data={**sealed, "language": ""})
        unsealed = await http.post("/broadcasts", data={**sealed, "seal": ""})
        for refused in (other_text, other_segment, unsealed):
            assert refused.status_code == 400
            assert "This is not the text or the segment you previewed, so nothing was sent." in refused.text
            assert 'id="broadcast-error"' in refused.text
        async with homeward.db.sessions() as session:
            assert (await session.execute(select(func.count()).select_from(Broadcast))).scalar_one() == 0
        sent = await http.post("/broadcasts", data=sealed)  # exactly as previewed
        assert sent.status_code == 303
    await homeward.broadcasts.wait_idle()
    async with homeward.db.sessions() as session:
        texts = sorted(
            (await session.execute(select(Message.text).where(Message.author == "broadcast:drita"))).scalars()
        )
    assert texts == sorted([TEXTS["text_sr"], "Sutra je kancelarija zatvorena."])


async def test_the_request_only_records_the_broadcast_and_its_page_follows_the_queuing(homeward: Homeward) -> None:
    """Sending answers before anyone is queued; the counts' JSON shows the preparation, then the lines."""
    await _people(homeward)
    await add_staff(homeward, "drita", "admin")
    started: list[int] = []
    homeward.broadcasts.queue = started.append  # type: ignore[method-assign,assignment]  # held, to look between
    async with client(homeward) as http:
        await sign_in(http, "drita")
        await http.post("/language", data={"csrf": await csrf(http), "locale": "en", "next": "/broadcasts"})
        _, sent = await _preview_and_send(http)
        assert sent is not None and sent.status_code == 303
        bid = int(sent.headers["location"].rsplit("/", 1)[1])
        assert started == [bid]
        before = (await http.get(f"/broadcasts/{bid}/counts")).json()
        page = await http.get(f"/broadcasts/{bid}")
        assert f'data-follow="/broadcasts/{bid}/counts"' in page.text and 'http-equiv="refresh"' not in page.text
        before_line = (
            "Preparing the messages. Of 4 people in the segment: 0 sent, 0 not delivered, 0 skipped, 4 still to send."
        )
        assert before_line in page.text
        await broadcasts.Queue(homeward.db, homeward.clock, {}, batch=3).run(bid)
        after = (await http.get(f"/broadcasts/{bid}/counts")).json()
    assert before["state"] == "queuing" and (before["handled"], before["recipients"]) == (0, 4)
    assert before["progress"] == before_line and before["done"] is False and before["left"] == 4
    assert after["state"] == "queued" and after["handled"] == 4
    assert after["progress"].startswith("Of 4 people in the segment: ")
    assert after["queued"] + after["sent"] + after["failed"] + after["skipped"] == 4
    assert after["left"] + after["sent"] + after["failed"] + after["skipped"] == 4 and after["left"] == after["queued"]


async def _crowd(app: Homeward, n: int) -> None:
    now = app.clock.now()
    async with app.db.transaction() as session:
        for i in range(n):
            person = Beneficiary(
                channel="telegram",
                channel_ref=f"crowd-{i}",
                channel_user_id=str(7000 + i),
                chat_id=str(7000 + i),
                locale=("sq", "sr-Cyrl", "sr-Latn")[i % 3],
                municipality="prizren",
                consent="given" if i % 7 else "declined",  # some are skipped, and must be recorded once too
                opted_out=False,
                blocked=False,
                created_at=now,
            )
            session.add(person)
            await session.flush()
            session.add(Conversation.opened(person.id, now))


async def _each_once(app: Homeward, bid: int, n: int) -> None:
    async with app.db.sessions() as session:
        people = list(
            (
                await session.execute(
                    select(BroadcastRecipient.beneficiary_id).where(BroadcastRecipient.broadcast_id == bid)
                )
            ).scalars()
        )
        lines = (
            await session.execute(
                select(Message.conversation_id, func.count())
                .where(Message.author == "broadcast:drita")
                .group_by(Message.conversation_id)
            )
        ).all()
        broadcast = await session.get(Broadcast, bid)
    assert len(people) == len(set(people)) == n  # everyone recorded, once
    assert lines and all(count == 1 for _, count in lines)  # no line twice
    assert len(lines) == sum(1 for i in range(n) if i % 7)  # and everyone who may get it has theirs
    assert broadcast is not None and broadcast.state == "queued" and broadcast.through == broadcast.upto


async def test_a_broadcast_stopped_mid_queue_resumes_where_it_stopped(homeward: Homeward) -> None:
    """Two batches committed, the third lost with its process: the next start queues everyone else, once."""
    await homeward.stop()  # this test is the only one queuing
    await _crowd(homeward, 25)
    now = homeward.clock.now()
    async with homeward.db.transaction() as session:
        broadcast = await broadcasts.start(
            session, author="drita", token="r" * 32, segment=Segment(), scope=None, now=now, **TEXTS
        )
        bid = broadcast.id
    assert broadcast.recipients == 25
    for _ in range(2):
        async with homeward.db.transaction() as session:
            assert await broadcasts.queue_batch(session, bid, {}, now, size=10) is not None

    class Crash(Exception):
        pass

    try:
        async with homeward.db.transaction() as session:
            batch = await broadcasts.queue_batch(session, bid, {}, now, size=10)
            assert batch is not None and len(batch.people) == 5
            raise Crash  # the process ends before the last batch commits
    except Crash:
        pass
    async with homeward.db.sessions() as session:
        stopped = await session.get(Broadcast, bid)
        assert stopped is not None
        handled = await broadcasts.progress(session, stopped)
    assert (handled.state, handled.handled, handled.recipients) == ("queuing", 20, 25)

    later = Queue(homeward.db, FixedClock(now + timedelta(minutes=1)), {}, batch=10)  # the next process
    assert await later.resume(stale=timedelta(minutes=5)) == []  # still recent: perhaps another process works on it
    assert await later.resume() == [bid]
    await later.wait_idle()
    await _each_once(homeward, bid, 25)


async def _started(app: Homeward, token: str) -> int:
    async with app.db.transaction() as session:
        return (
            await broadcasts.start(
                session, author="drita", token=token * 32, segment=Segment(), scope=None, now=app.clock.now(), **TEXTS
            )
        ).id


async def test_two_processes_queuing_the_same_broadcast_send_it_once(
    homeward: Homeward, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes (each its own database connections) read where the queuing stands; the first queues the
    batch and commits, then the second tries to claim it with what it read: it finds the batch taken."""
    await homeward.stop()
    await _crowd(homeward, 40)
    bid = await _started(homeward, "c")
    one, two = homeward.settings.database(), homeward.settings.database()
    read, taken = asyncio.Event(), asyncio.Event()
    position = broadcasts._position

    async def held(session: AsyncSession, broadcast_id: int) -> Any:
        found = await position(session, broadcast_id)
        if session.bind is two.engine and not taken.is_set():
            read.set()
            await taken.wait()  # the other process queues this batch meanwhile
        return found

    monkeypatch.setattr(broadcasts, "_position", held)

    async def first() -> None:
        await read.wait()
        async with one.transaction() as session:
            assert await broadcasts.queue_batch(session, bid, {}, homeward.clock.now(), size=6) is not None
        taken.set()

    async def second() -> broadcasts.Reach | None:
        async with two.transaction() as session:
            return await broadcasts.queue_batch(session, bid, {}, homeward.clock.now(), size=6)

    try:
        _, lost = await asyncio.gather(first(), second())
        assert lost is None  # the batch was claimed by the first
        queues = [Queue(db, homeward.clock, {}, batch=6) for db in (one, two)]
        await asyncio.gather(*(q.run(bid) for q in queues))
    finally:
        await one.dispose()
        await two.dispose()
    await _each_once(homeward, bid, 40)


async def test_a_second_process_waits_for_the_batch_being_queued_and_finds_it_taken(
    homeward: Homeward, database_url: str
) -> None:
    """On PostgreSQL the claim waits for the first process's open transaction, then finds the batch taken."""
    if is_sqlite(database_url):
        pytest.skip("SQLite has one writer at a time: a second process cannot begin its claim meanwhile")
    await homeward.stop()
    await _crowd(homeward, 20)
    bid = await _started(homeward, "w")
    one, two = homeward.settings.database(), homeward.settings.database()
    try:
        async with one.transaction() as session:
            assert await broadcasts.queue_batch(session, bid, {}, homeward.clock.now(), size=6) is not None

            async def second() -> broadcasts.Reach | None:
                async with two.transaction() as other:
                    return await broadcasts.queue_batch(other, bid, {}, homeward.clock.now(), size=6)

            waiting = asyncio.create_task(second())
            blocked = (
                select(func.count())
                .select_from(text("pg_stat_activity"))
                .where(text("wait_event_type = 'Lock' AND datname = current_database()"))
            )
            while not waiting.done():
                async with homeward.db.sessions() as watch:  # the activity is read once per transaction
                    if (await watch.execute(blocked)).scalar_one():
                        break
                await asyncio.sleep(0.01)
            assert not waiting.done()  # held behind the open batch
        assert await waiting is None
        await Queue(one, homeward.clock, {}, batch=6).run(bid)
    finally:
        await one.dispose()
        await two.dispose()
    await _each_once(homeward, bid, 20)


async def test_a_batch_queued_late_keeps_the_segment_of_when_it_was_sent(homeward: Homeward) -> None:
    """Resumed three weeks later, a broadcast to those whose follow-up is due still reaches whom it reached when
    sent (their follow-up is overdue by then); WhatsApp's 24 hours are read when the line is queued."""
    ids = await _people(homeward)
    await homeward.stop()
    now = homeward.clock.now()
    later = now + timedelta(days=21)
    async with homeward.db.transaction() as session:
        due = await broadcasts.start(
            session,
            author="drita",
            token="d" * 32,
            segment=Segment(wave=1, followup="due"),
            scope=None,
            now=now,
            **TEXTS,
        )
        window = await broadcasts.start(
            session, author="drita", token="e" * 32, segment=Segment(channel="whatsapp"), scope=None, now=now, **TEXTS
        )
    assert (due.recipients, window.recipients) == (1, 1)
    async with homeward.db.transaction() as session:
        late = await broadcasts.queue_batch(session, due.id, {}, later)
        closed = await broadcasts.queue_batch(session, window.id, {}, later)
    assert late is not None and [(p.id, reason) for p, _, reason in late.people] == [(ids["arta"], None)]
    assert closed is not None and [(p.id, reason) for p, _, reason in closed.people] == [
        (ids["marko"], "outside_window")
    ]


async def test_queuing_that_finishes_is_audited_with_whom_it_reached_and_why_others_were_skipped(
    homeward: Homeward,
) -> None:
    await homeward.stop()
    await _crowd(homeward, 14)  # two of them declined consent
    await add_staff(homeward, "drita", "admin")
    bid = await _started(homeward, "q")
    await Queue(homeward.db, homeward.clock, {}, batch=5).run(bid)
    async with homeward.db.sessions() as session:
        entries = (await session.execute(select(AuditEntry).where(AuditEntry.action == "broadcast.queued"))).scalars()
        (entry,) = entries
    assert (entry.actor, entry.target) == ("broadcasts", f"broadcast:{bid}")
    assert entry.detail == {"reached": 12, "skipped": {"no_consent": 2}}
    async with client(homeward) as http:
        await sign_in(http, "drita")
        for locale in ("en", "sq", "sr-Cyrl"):
            await http.post("/language", data={"csrf": await csrf(http), "locale": locale, "next": "/audit"})
            table = (await http.get("/audit?action=broadcast")).text
            words = homeward.translations(locale)
            for said in (
                "Broadcast prepared for everyone it reaches",
                "the preparation of broadcasts",
                "People it reaches",
                "no consent or no chat on record",
            ):
                assert html.escape(words.gettext(said), quote=False) in table, (locale, said)
            assert html.escape(words.gettext("broadcast no. {id}").format(id=bid), quote=False) in table
            assert "no_consent" not in table and "broadcast.queued" not in table


async def test_a_batch_that_keeps_failing_marks_the_broadcast_failed_instead_of_retrying_for_ever(
    homeward: Homeward, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _people(homeward)
    await homeward.stop()
    await add_staff(homeward, "drita", "admin")
    bid = await _started(homeward, "f")
    queue_reply_ = broadcasts.queue_reply

    async def broken(session: AsyncSession, **given: Any) -> list[int]:
        if given["person"].id == ids["marko"]:
            raise ValueError("this person's line cannot be written")
        return await queue_reply_(session, **given)

    monkeypatch.setattr(broadcasts, "queue_reply", broken)
    queue = Queue(homeward.db, homeward.clock, {}, batch=2)  # arta and jovana first, then marko's batch
    for attempt in range(1, broadcasts.ATTEMPTS + 1):
        await queue.run(bid)
        async with homeward.db.sessions() as session:
            state = (await session.execute(select(Broadcast.state).where(Broadcast.id == bid))).scalar_one()
        assert state == ("failed" if attempt == broadcasts.ATTEMPTS else "queuing"), attempt
    assert await Queue(homeward.db, FixedClock(homeward.clock.now() + timedelta(hours=1)), {}).resume() == []
    async with homeward.db.sessions() as session:
        entry = (await session.execute(select(AuditEntry).where(AuditEntry.action == "broadcast.failed"))).scalar_one()
    assert (entry.actor, entry.target) == ("broadcasts", f"broadcast:{bid}")
    assert entry.detail == {"attempts": broadcasts.ATTEMPTS, "error": "ValueError"}
    async with client(homeward) as http:
        await sign_in(http, "drita")
        for locale in ("en", "sq", "sr-Cyrl"):
            await http.post("/language", data={"csrf": await csrf(http), "locale": locale, "next": "/broadcasts"})
            words = homeward.translations(locale)
            stopped = words.ngettext(
                "Preparing the messages stopped at {handled} of {n} person: the same error came back each time. "
                "The messages already prepared are sent; the others are not.",
                "Preparing the messages stopped at {handled} of {n} people: the same error came back each time. "
                "The messages already prepared are sent; the others are not.",
                4,
                handled=2,
            )
            data = (await http.get(f"/broadcasts/{bid}/counts")).json()
            assert (data["state"], data["handled"]) == ("failed", 2) and data["progress"].startswith(stopped), locale
            assert data["queued"] == data["left"] == 2 and data["done"] is False  # the two prepared are still to send
            tally = words.gettext("{n} still to send", n=2) + ", " + words.gettext("{n} not prepared", n=2) + "."
            assert data["progress"].endswith(tally), locale
            assert html.escape(stopped, quote=False) in (await http.get(f"/broadcasts/{bid}")).text
            audit_page = (await http.get("/audit?action=broadcast")).text
            assert (
                html.escape(words.gettext("Broadcast stopped: its messages could not all be prepared"), quote=False)
                in audit_page
            )


async def test_a_person_erased_while_their_batch_is_queued_gets_no_line_and_leaves_no_trace(
    homeward: Homeward, database_url: str
) -> None:
    """On PostgreSQL the batch waits for an erasure under way to commit, then finds the person erased."""
    if is_sqlite(database_url):
        pytest.skip("SQLite has one writer at a time: an erasure and a batch cannot overlap")
    ids = await _people(homeward)
    await homeward.stop()
    bid = await _started(homeward, "x")
    one, two = homeward.settings.database(), homeward.settings.database()
    now = homeward.clock.now()
    try:
        async with one.transaction() as session:
            person = await session.get(Beneficiary, ids["marko"])
            assert person is not None
            await homeward.personal_data.erase(session, person, actor="person", chat_key=None, now=now)
            await session.flush()  # the person's row is now locked by the erasure

            async def batch() -> broadcasts.Reach | None:
                async with two.transaction() as other:
                    return await broadcasts.queue_batch(other, bid, {}, now)

            waiting = asyncio.create_task(batch())
            blocked = (
                select(func.count())
                .select_from(text("pg_stat_activity"))
                .where(text("wait_event_type = 'Lock' AND datname = current_database()"))
            )
            while not waiting.done():
                async with homeward.db.sessions() as watch:
                    if (await watch.execute(blocked)).scalar_one():
                        break
                await asyncio.sleep(0.01)
            assert not waiting.done()  # the batch waits for the erasure
        queued = await waiting
    finally:
        await one.dispose()
        await two.dispose()
    assert queued is not None and len(queued.people) == 4
    async with homeward.db.sessions() as session:
        found = await broadcasts.counts(session, bid)
        rows = (
            await session.execute(select(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == bid))
        ).scalars()
        kept = [(r.beneficiary_id, r.channel, r.locale, r.message_id, r.skipped) for r in rows]
    assert found.skipped == {"erased": 1} and found.queued == 3
    assert (None, "", None, None, "erased") in kept and ids["marko"] not in [k[0] for k in kept]


@pytest.fixture
async def undelivered(settings: Settings) -> AsyncIterator[Homeward]:
    """A Homeward that delivers nothing by itself: the test says what became of each line."""
    app = Homeward(settings)
    await app.start(polling=False, delivery=False)
    yield app
    await app.stop()


async def test_the_progress_line_counts_everyone_in_the_segment_once_and_adds_up(undelivered: Homeward) -> None:
    """Sent, not delivered, skipped (why) and still to send: a person skipped is never read as sent or handled."""
    homeward = undelivered
    ids = await _people(homeward)  # in the order they are queued: arta, jovana, marko, besa
    async with homeward.db.transaction() as session:
        await session.execute(update(Beneficiary).where(Beneficiary.id == ids["jovana"]).values(opted_out=True))
    await add_staff(homeward, "drita", "admin")
    held: list[int] = []
    homeward.broadcasts.queue = held.append  # type: ignore[method-assign,assignment]  # queued below, by the test
    async with client(homeward) as http:
        await sign_in(http, "drita")
        await http.post("/language", data={"csrf": await csrf(http), "locale": "en", "next": "/broadcasts"})
        _, sent = await _preview_and_send(http)
        assert sent is not None
        bid = held[0]

        async def line() -> tuple[str, dict[str, int]]:
            data = (await http.get(f"/broadcasts/{bid}/counts")).json()
            page = (await http.get(f"/broadcasts/{bid}")).text
            shown = re.search(r'id="broadcast-progress" role="status">([^<]*)<', page)
            assert shown is not None and html.unescape(shown.group(1)) == data["progress"]
            figures = {name: int(n) for name, n in re.findall(r'data-count="(\w+)">(\d+)<', page)}
            assert figures == {k: data[k] for k in ("sent", "failed", "skipped", "left")}
            assert sum(figures.values()) == 4  # the segment
            return data["progress"], figures

        # The first batch: Arta's line is prepared, Jovana stopped messages. Two of four handled, one of them skipped.
        async with homeward.db.transaction() as session:
            assert await broadcasts.queue_batch(session, bid, {}, homeward.clock.now(), size=2) is not None
        assert await line() == (
            "Preparing the messages. Of 4 people in the segment: 0 sent, 0 not delivered, "
            "1 skipped (stopped messages: 1), 3 still to send.",
            {"sent": 0, "failed": 0, "skipped": 1, "left": 3},
        )
        # Arta's line goes out; the rest is prepared; Marko's line is refused by the platform.
        await broadcasts.Queue(homeward.db, homeward.clock, {}).run(bid)
        async with homeward.db.transaction() as session:
            lines = dict(
                (
                    await session.execute(
                        select(BroadcastRecipient.beneficiary_id, BroadcastRecipient.message_id).where(
                            BroadcastRecipient.message_id.is_not(None)
                        )
                    )
                ).all()
            )
            await session.execute(update(Message).where(Message.id == lines[ids["arta"]]).values(status="sent"))
            await session.execute(
                update(Message).where(Message.id == lines[ids["marko"]]).values(status="failed", error="400 bad")
            )
        assert await line() == (
            "Of 4 people in the segment: 1 sent, 1 not delivered, 1 skipped (stopped messages: 1), 1 still to send.",
            {"sent": 1, "failed": 1, "skipped": 1, "left": 1},
        )


async def test_a_broadcast_whose_process_ended_goes_on_once_stale_and_no_batch_is_queued_twice(
    homeward: Homeward,
) -> None:
    """On a clock the test moves: the queue's own looks (not the scheduler's minute) find a broadcast left by a
    process that ended as soon as it is stale, and a second process resuming it at the same moment sends nothing
    twice."""
    await homeward.stop()  # this test is the only one queuing
    await _crowd(homeward, 25)
    began = homeward.clock.now()
    async with homeward.db.transaction() as session:
        bid = (
            await broadcasts.start(
                session, author="drita", token="w" * 32, segment=Segment(), scope=None, now=began, **TEXTS
            )
        ).id
        assert await broadcasts.queue_batch(session, bid, {}, began, size=10) is not None
    # Its process ended here, with 15 people left.
    clock = FixedClock(began + timedelta(seconds=2))  # another process, which looked a moment ago
    here = Queue(homeward.db, clock, {}, batch=10)
    other = Queue(homeward.db, clock, {}, batch=10)
    looks: list[tuple[float, list[int]]] = []
    resume = here.resume

    async def looked(stale: timedelta = broadcasts.STALE) -> list[int]:
        found = await resume(stale)
        looks.append(((clock.now() - began).total_seconds(), found))
        if found:
            await other.resume(stale)  # a third process looks at the same moment
        return found

    here.resume = looked  # type: ignore[method-assign]

    async def pause(seconds: float) -> bool:
        clock.advance(timedelta(seconds=seconds))
        await here.wait_idle()
        await other.wait_idle()
        async with homeward.db.sessions() as session:
            state = (await session.execute(select(Broadcast.state).where(Broadcast.id == bid))).scalar_one()
        return state == "queued" or len(looks) > 20

    await here.watch(asyncio.Event(), pause=pause)
    resumed = [at for at, found in looks if found]
    stale = broadcasts.STALE.total_seconds()
    assert resumed and stale < resumed[0] <= stale + 1, looks  # within a second of turning stale
    assert all(b - a <= broadcasts.LOOK_EVERY.total_seconds() + 0.01 for (a, _), (b, _) in itertools.pairwise(looks))
    await _each_once(homeward, bid, 25)

    # A broadcast begun (by a process that then ended) between two looks: the next look notes when it turns stale.
    looks.clear()
    stopped: list[float] = []

    async def begun_meanwhile(seconds: float) -> bool:
        if not stopped:
            clock.advance(timedelta(seconds=seconds / 2))
            async with homeward.db.transaction() as session:
                late = await broadcasts.start(
                    session, author="drita", token="x" * 32, segment=Segment(), scope=None, now=clock.now(), **TEXTS
                )
                assert await broadcasts.queue_batch(session, late.id, {}, clock.now(), size=10) is not None
            stopped.append((clock.now() - began).total_seconds())
            clock.advance(timedelta(seconds=seconds / 2))
        else:
            clock.advance(timedelta(seconds=seconds))
        await here.wait_idle()
        await other.wait_idle()
        async with homeward.db.sessions() as session:
            states = (await session.execute(select(Broadcast.state))).scalars().all()
        return states == ["queued", "queued"] or len(looks) > 20

    await here.watch(asyncio.Event(), pause=begun_meanwhile)
    resumed = [at for at, found in looks if found]
    assert stopped and resumed and stale < resumed[0] - stopped[0] <= stale + 1, (stopped, looks)
