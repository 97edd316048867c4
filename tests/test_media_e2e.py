"""Media people send, on every app: kept encrypted when it arrives, shown to caseworkers, served, audited, erased.

A photo and a voice message arrive on Telegram, WhatsApp, Viber and the web chat page; the app
then forgets them (Viber's address expires, Meta's media goes); the caseworker still sees the
photo in the page and hears the voice message, the bytes served equal those sent, and each view
is an audit row. A caseworker of another municipality gets nothing. /delete and retention remove
the kept bytes, from the rows and from the database files.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Column, Text, func, select, text
from sqlalchemy.engine import make_url

from bot import media
from bot.app import Homeward
from bot.clock import FixedClock
from bot.config import Settings
from bot.keys import rotate
from bot.media import sniff
from db.encryption import Keyring
from db.models import AuditEntry, Beneficiary, MediaFile, Message
from db.session import Database
from tests import fakegraph, fakeviber
from tests.chats import Apps, Chat, TelegramChat, ViberChat, WhatsAppChat, onboard, running
from tests.console_support import add_staff, client, shown, sign_in
from tests.fakebot import TOKEN, FakeBotApi, Person
from tests.fakegraph import FakeGraphApi
from tests.fakeviber import FakeViberApi
from tests.steps import onboard as onboard_telegram

START = datetime(2026, 5, 11, 9, 0, tzinfo=UTC)  # a Monday morning
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8  # a JPEG's head, then its bytes
VOICE = b"OggS\x00\x02" + bytes(reversed(range(256))) * 6  # an Ogg (Opus) voice message
PDF = b"%PDF-1.7\n" + b"Vendimi per kthimin\n" * 40
HTML = b"<html><script>alert(1)</script></html>"
ON_POSTGRESQL = bool(os.environ.get("HOMEWARD_TEST_DATABASE_URL"))


@pytest.fixture
async def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture(params=["telegram", "whatsapp", "viber"])
async def apps(
    request: pytest.FixtureRequest, settings: Settings, fake: FakeBotApi, clock: FixedClock
) -> AsyncIterator[Apps]:
    graph = await FakeGraphApi(now=clock.now).start()
    viber_api = await FakeViberApi().start() if request.param == "viber" else None
    async for running_apps in running(settings, request.param, fake, graph, viber_api, clock=clock):
        yield running_apps


async def _sends(apps: Apps, chat: Chat, kind: str, content: bytes, mime: str) -> None:
    """The person sends a file of `kind` (photo or voice) from their app; the app keeps it only for a while."""
    if isinstance(chat, TelegramChat):
        file_id = f"{kind}-{chat.id}"
        apps.fake.files[file_id] = content
        media = {"file_id": file_id, "file_unique_id": f"u{file_id}"}
        if kind == "photo":
            chat.person.sends(photo=[{**media, "width": 10, "height": 10}])
        else:
            chat.person.sends(voice={**media, "duration": 3})
    elif isinstance(chat, WhatsAppChat):
        await chat.person.sends_media("image" if kind == "photo" else "audio", content, mime)
    else:
        assert isinstance(chat, ViberChat) and apps.viber is not None
        name = f"{kind}-{chat.id[:10]}"
        apps.viber.media[name] = (content, mime)
        message = {"type": "picture" if kind == "photo" else "video", "media": f"{apps.viber.base}/media/{name}"}
        if kind != "photo":  # Viber sends voice as a file
            message = {"type": "file", "media": message["media"], "file_name": "zeri.ogg", "size": len(content)}
        await chat.person.send(message)


def _forget(apps: Apps) -> None:
    """The app no longer has the files: Telegram's ids aside, Viber's addresses expire and Meta's media goes."""
    apps.fake.files.clear()
    apps.graph.media.clear()
    if apps.viber is not None:
        apps.viber.media.clear()


async def _kept(app: Homeward, count: int) -> list[Message]:
    """The person's media lines once their files are kept (the pass runs as they arrive)."""
    for _ in range(200):
        await app.turns.wait_idle()
        await app.media.run_once()
        async with app.db.sessions() as session:
            lines = list(
                (
                    await session.execute(
                        select(Message)
                        .where(Message.direction == "in", Message.file_id.isnot(None))
                        .order_by(Message.id)
                    )
                ).scalars()
            )
            stored = (await session.execute(select(func.count()).select_from(MediaFile))).scalar_one()
        if len(lines) >= count and stored >= count:
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} files were not kept")


def _secrets_of(apps: Apps) -> list[str]:
    found = [TOKEN, fakegraph.TOKEN, apps.graph.base, apps.fake.base]
    if apps.viber is not None:
        found += [fakeviber.TOKEN, apps.viber.base]
    return found


async def test_a_photo_and_a_voice_message_are_kept_shown_served_and_audited(apps: Apps) -> None:
    app = apps.app
    chat = apps.chat(41, "Drita")
    await onboard(chat, "sq")
    await _sends(apps, chat, "photo", PHOTO, "image/jpeg")
    await _sends(apps, chat, "voice", VOICE, "audio/ogg; codecs=opus")
    photo, voice = await _kept(app, 2)
    _forget(apps)
    async with app.db.sessions() as session:
        stored = Column("content", Text)  # the column as written, not decrypted
        tokens = (await session.execute(select(stored).select_from(MediaFile.__table__))).scalars().all()
    assert all(token.startswith("fernet:") and PHOTO[:64] not in token.encode() for token in tokens)

    await add_staff(app, "amra", "caseworker", ("Prizren",))
    await add_staff(app, "besa", "caseworker")
    async with app.db.transaction() as session:
        person = (await session.execute(select(Beneficiary).where(Beneficiary.channel == apps.channel))).scalar_one()
        person.municipality = "Prishtinë"
    cid = photo.conversation_id
    photo_url = f"/conversations/{cid}/messages/{photo.id}/file"
    voice_url = f"/conversations/{cid}/messages/{voice.id}/file"
    async with client(app) as http:
        await sign_in(http, "amra")  # Prizren's caseworker: not this person's municipality
        assert (await http.get(f"/conversations/{cid}")).status_code == 404
        assert (await http.get(photo_url)).status_code == 404
        assert (await http.get(voice_url)).status_code == 404
    async with client(app) as http:
        await sign_in(http, "besa")
        page = (await http.get(f"/conversations/{cid}")).text
        # The photo is shown when asked for (its view is audited then), not fetched with every opening.
        assert re.search(rf'<a href="{re.escape(photo_url)}" class="show-photo" data-alt="[^"]+">', page), page
        assert "<img" not in page
        assert re.search(rf'<audio controls preload="none" src="{re.escape(voice_url)}"', page)
        shown = await http.get(photo_url)
        heard = await http.get(voice_url)
    assert shown.status_code == 200 and shown.content == PHOTO
    assert shown.headers["content-type"] == "image/jpeg" and shown.headers["x-content-type-options"] == "nosniff"
    assert shown.headers["content-disposition"].startswith("inline; filename=")
    # Opened in a tab of its own, the browser's viewer may style itself and do nothing else.
    policy = [d.strip() for d in shown.headers["content-security-policy"].split(";")]
    assert "default-src 'none'" in policy and "sandbox" in policy and "style-src 'unsafe-inline'" in policy
    assert not any(d.startswith("script-src") for d in policy)
    assert heard.headers["content-security-policy"] == shown.headers["content-security-policy"]
    assert heard.status_code == 200 and heard.content == VOICE and heard.headers["content-type"] == "audio/ogg"
    for secret in _secrets_of(apps):
        assert secret not in page and all(secret not in v for v in (*shown.headers.values(), *heard.headers.values()))
    async with app.db.sessions() as session:
        views = (
            await session.execute(
                select(AuditEntry.actor, AuditEntry.target, AuditEntry.detail).where(AuditEntry.action == "media.view")
            )
        ).all()
        denied = (
            await session.execute(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "transcript.denied")
            )
        ).scalar_one()
    assert sorted((actor, target, detail["message"]) for actor, target, detail in views) == [
        ("staff:besa", f"conversation:{cid}", photo.id),
        ("staff:besa", f"conversation:{cid}", voice.id),
    ]
    assert denied >= 3


# ---- Telegram: what is not kept, and erasure ---------------------------------------------------------


async def _telegram_media(app: Homeward, fake: FakeBotApi, person: Person, files: dict[str, bytes]) -> list[Message]:
    await onboard_telegram(fake, person, "sq")
    for name, content in files.items():
        fake.files[name] = content
        if name.startswith("doc"):
            person.sends(document={"file_id": name, "file_unique_id": f"u{name}", "file_name": f"{name}.pdf"})
        else:
            person.sends(photo=[{"file_id": name, "file_unique_id": f"u{name}", "width": 10, "height": 10}])
    return await _kept(app, len(files))


async def test_a_document_opens_a_location_links_to_a_map_and_refused_files_say_why(
    settings: Settings, fake: FakeBotApi
) -> None:
    app = Homeward(settings.model_copy(update={"media_max_bytes": 4096}))
    await app.start()
    try:
        person = Person(fake, 8101, "Luan", language_code="sq")
        document, disguised, big = await _telegram_media(
            app, fake, person, {"doc-1": PDF, "photo-html": HTML, "photo-big": PHOTO * 3}
        )
        person.sends(location={"latitude": 42.6629, "longitude": 21.1655})
        await fake.wait_for(lambda: fake.pending_updates() == 0)
        await app.turns.wait_idle()
        await add_staff(app, "besa", "caseworker")
        async with client(app) as http:
            await sign_in(http, "besa")
            page = (await http.get(f"/conversations/{document.conversation_id}")).text
            opened = await http.get(f"/conversations/{document.conversation_id}/messages/{document.id}/file")
            html = await http.get(f"/conversations/{document.conversation_id}/messages/{disguised.id}/file")
            too_big = await http.get(f"/conversations/{document.conversation_id}/messages/{big.id}/file")
    finally:
        await app.stop()
    assert opened.status_code == 200 and opened.content == PDF
    assert opened.headers["content-type"] == "application/pdf"
    assert opened.headers["content-disposition"] == 'attachment; filename="doc-1.pdf"'
    assert "script-src 'self'" in opened.headers["content-security-policy"]  # a download keeps the console's
    assert shown(app, "Open {name} ({size} MB)", name="doc-1.pdf", size="0.1") in page
    refused = shown(app, "This file was not kept: files of this type are not accepted.")
    assert refused in page and html.status_code == 404  # HTML is never kept, so never served
    assert shown(app, "This file was not kept: it is larger than {limit} MB.", limit=0) in page
    assert too_big.status_code == 404
    assert "https://www.openstreetmap.org/?mlat=42.6629&amp;mlon=21.1655" in page


def _db_files(url: str) -> bytes:
    path = Path(make_url(url).database or "")
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


async def _tokens(app: Homeward) -> list[str]:
    async with app.db.sessions() as session:
        stored = Column("content", Text)
        return list((await session.execute(select(stored).select_from(MediaFile.__table__))).scalars())


async def test_delete_removes_the_kept_files_from_the_rows_and_the_files(homeward: Homeward, fake: FakeBotApi) -> None:
    person = Person(fake, 8102, "Arta", language_code="sq")
    await _telegram_media(homeward, fake, person, {"photo-a": PHOTO})
    person.says("/mydata")  # the copy of their data lists the file
    await fake.wait_for(lambda: len(fake.sent("sendDocument", person.id)) == 2)
    copies = [v for d in fake.sent("sendDocument") for v in d.values() if isinstance(v, dict) and "filename" in v]
    data = json.loads(next(c["content"] for c in copies if c["filename"].endswith(".json")))
    assert [(f["type"], f["bytes"], f["kept"]) for f in data["files"]] == [("image/jpeg", len(PHOTO), True)]
    (token,) = await _tokens(homeward)
    piece = token[len("fernet:") + 40 : len("fernet:") + 120].encode()
    await homeward.db.cleanup.wait()
    if not ON_POSTGRESQL:
        assert piece in _db_files(homeward.settings.database_url)  # the scan sees the kept file before
    person.says("/delete")
    await fake.wait_for(lambda: any("del:yes" in str(m) for m in fake.sent(chat_id=person.id)))
    person.presses("del:yes")
    await fake.wait_for(lambda: any("u fshinë" in t for t in fake.texts(person.id)))
    await homeward.turns.wait_idle()
    await homeward.delivery.drain()
    await homeward.db.cleanup.wait()
    assert await _tokens(homeward) == []
    if not ON_POSTGRESQL:
        assert piece not in _db_files(homeward.settings.database_url)


async def test_only_a_turn_that_stores_a_file_wakes_the_media_pass(
    settings: Settings, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain text runs no media pass (no query per committed turn); a photo is fetched as soon as it is stored."""
    monkeypatch.setattr(media, "PASS_EVERY", 3600.0)  # no sweep during the test: only a wake runs a pass
    app = Homeward(settings)
    passes: list[int] = []
    run_once = app.media.run_once

    async def counted() -> int:
        passes.append(1)
        return await run_once()

    app.media.run_once = counted  # type: ignore[method-assign]
    await app.start()
    try:
        person = Person(fake, 8104, "Arta", language_code="sq")
        await onboard_telegram(fake, person, "sq")
        await app.turns.wait_idle()
        await app.delivery.drain()
        before = len(passes)  # the pass at start-up
        for word in ("menu", "meny", "menu"):
            sent = len(fake.texts(person.id))
            person.says(word)
            await fake.wait_sent(sent + 1, person.id)
        await app.turns.wait_idle()
        await app.delivery.drain()
        assert len(passes) == before, "a turn of plain text ran the media pass"

        fake.files["photo-w"] = PHOTO
        person.sends(photo=[{"file_id": "photo-w", "file_unique_id": "uphoto-w", "width": 10, "height": 10}])
        for _ in range(400):  # woken by the photo's turn: no sweep runs within the hour
            async with app.db.sessions() as session:
                kept = (await session.execute(select(MediaFile.status))).scalars().all()
            if kept:
                break
            await asyncio.sleep(0.05)
        assert kept == ["stored"] and len(passes) > before
    finally:
        await app.stop()


async def test_retention_ends_the_keeping_then_erases_with_the_transcript(homeward: Homeward, fake: FakeBotApi) -> None:
    person = Person(fake, 8103, "Arta", language_code="sq")
    (photo,) = await _telegram_media(homeward, fake, person, {"photo-r": PHOTO})
    (token,) = await _tokens(homeward)
    piece = token[len("fernet:") + 40 : len("fernet:") + 120].encode()
    homeward.retention.periods = type(homeward.retention.periods)(people_months=24, media_months=6)
    later = datetime.now(UTC) + timedelta(days=200)  # past the files' 6 months, within the transcript's 24
    assert (await homeward.retention.run(later, dry_run=True))["media"] == 1
    assert (await homeward.retention.run(later, dry_run=False))["media"] == 1
    await homeward.db.cleanup.wait()
    assert await _tokens(homeward) == [None]
    if not ON_POSTGRESQL:
        assert piece not in _db_files(homeward.settings.database_url)
    else:  # the server's files: the table was vacuumed once the run committed
        async with homeward.db.sessions() as session:
            vacuumed = text("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'media'")
            assert (await session.execute(vacuumed)).scalar_one() is not None
    await add_staff(homeward, "besa", "caseworker")
    async with client(homeward) as http:
        await sign_in(http, "besa")
        page = (await http.get(f"/conversations/{photo.conversation_id}")).text
        gone = await http.get(f"/conversations/{photo.conversation_id}/messages/{photo.id}/file")
    expired = "This file has expired: the app no longer had it when we asked, or its keeping period is over."
    assert shown(homeward, expired) in page and gone.status_code == 404
    report = await homeward.retention.run(datetime.now(UTC) + timedelta(days=800), dry_run=False)
    assert report["people"] == 1
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(MediaFile))).scalar_one() == 0


async def test_a_key_rotation_re_encrypts_the_kept_files(settings: Settings, fake: FakeBotApi) -> None:
    app = Homeward(settings)
    await app.start()
    try:
        await _telegram_media(app, fake, Person(fake, 8104, "Arta", language_code="sq"), {"photo-k": PHOTO})
        (before,) = await _tokens(app)
    finally:
        await app.stop()
    rotating = Database(settings.database_url, keyring=Keyring(["new-key", "test-secret-key"]))
    counts = await rotate(rotating, Keyring(["new-key", "test-secret-key"]), "new-key")
    await rotating.dispose()
    assert counts["media.content"] == 1
    new_only = Database(settings.database_url, keyring=Keyring(["new-key"]))
    try:
        async with new_only.sessions() as session:
            kept = (await session.execute(select(MediaFile))).scalar_one()
            after = (await session.execute(select(Column("content", Text)).select_from(MediaFile.__table__))).scalar()
    finally:
        await new_only.dispose()
    assert kept.content == PHOTO and after != before


# ---- the web chat page -------------------------------------------------------------------------------


async def _visitor(app: Homeward, http: httpx.AsyncClient, locale: str = "sq") -> dict[str, str]:
    """A visitor who started, chose `locale` and agreed; the headers their page sends with a file."""
    page = await http.get("/chat")
    token = page.text.split('name="chat-token" content="')[1].split('"')[0]
    headers = {"x-chat-token": token}
    for ref, event in (("s1", {"text": "/start"}), ("s2", {"data": f"lang:{locale}"}), ("s3", {"data": "consent:yes"})):
        assert (await http.post("/chat/messages", json={"id": ref, **event}, headers=headers)).status_code == 202
        await app.turns.wait_idle()
    return headers


def _file(headers: dict[str, str], ref: str, name: str) -> dict[str, str]:
    return {**headers, "x-message-id": ref, "x-file-name": quote(name)}


async def test_a_web_visitor_sends_a_photo_and_a_document_and_the_caseworker_sees_them(homeward: Homeward) -> None:
    async with client(homeward) as visitor:
        headers = await _visitor(homeward, visitor)
        sent = await visitor.post(
            "/chat/files",
            content=PHOTO,
            headers={**_file(headers, "f1", "letërnjoftimi.jpg"), "content-type": "image/jpeg"},
        )
        assert sent.status_code == 202, sent.text
        sent = await visitor.post("/chat/files", content=PDF, headers=_file(headers, "f2", "vendimi.pdf"))
        assert sent.status_code == 202, sent.text
        photo, document = await _kept(homeward, 2)
    assert (photo.kind, document.kind) == ("photo", "document")
    assert photo.payload["file_name"] == "letërnjoftimi.jpg"
    await add_staff(homeward, "besa", "caseworker")
    async with client(homeward) as http:
        await sign_in(http, "besa")
        page = (await http.get(f"/conversations/{photo.conversation_id}")).text
        seen = await http.get(f"/conversations/{photo.conversation_id}/messages/{photo.id}/file")
        opened = await http.get(f"/conversations/{photo.conversation_id}/messages/{document.id}/file")
    assert f'<a href="/conversations/{photo.conversation_id}/messages/{photo.id}/file" class="show-photo"' in page
    assert shown(homeward, "Open {name} ({size} MB)", name="vendimi.pdf", size="0.1") in page
    assert seen.content == PHOTO and seen.headers["content-type"] == "image/jpeg"
    assert opened.content == PDF and opened.headers["content-disposition"] == 'attachment; filename="vendimi.pdf"'
    async with homeward.db.sessions() as session:
        views = (
            await session.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "media.view"))
        ).scalar_one()
    assert views == 2


async def test_a_web_upload_too_large_or_of_the_wrong_type_is_refused_politely(settings: Settings) -> None:
    app = Homeward(settings.model_copy(update={"webchat_upload_max_bytes": 2_000_000}))
    await app.start()
    try:
        async with client(app) as early:
            page = await early.get("/chat")
            token = page.text.split('name="chat-token" content="')[1].split('"')[0]
            not_yet = await early.post(
                "/chat/files", content=PHOTO, headers=_file({"x-chat-token": token}, "e", "a.jpg")
            )
        assert not_yet.status_code == 409 and not_yet.json()["error"] == "not_yet"
        # Nobody has chosen a language yet: the refusal speaks both, like the rest of the page.
        assert not_yet.json()["message"] == (
            "Ju lutemi përgjigjuni pyetjeve të para përpara se të dërgoni një skedar. · "
            "Молимо Вас да одговорите на прва питања пре него што пошаљете датотеку."
        )
        async with client(app) as visitor:
            headers = await _visitor(app, visitor, "sr-Cyrl")
            big = await visitor.post("/chat/files", content=PHOTO * 1000, headers=_file(headers, "b1", "velika.jpg"))
            disguised = await visitor.post(
                "/chat/files",
                content=HTML,
                headers={**_file(headers, "b2", "slika.jpg"), "content-type": "image/jpeg"},
            )
            svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
            drawing = await visitor.post("/chat/files", content=svg, headers=_file(headers, "b3", "a.svg"))
            forged = await visitor.post("/chat/files", content=PHOTO, headers={**headers, "x-chat-token": "0" * 40})
        await app.turns.wait_idle()
        async with app.db.sessions() as session:
            kept = (await session.execute(select(func.count()).select_from(MediaFile))).scalar_one()
            lines = (
                await session.execute(select(func.count()).select_from(Message).where(Message.file_id.isnot(None)))
            ).scalar_one()
    finally:
        await app.stop()
    assert big.status_code == 413 and big.json()["error"] == "too_big"
    assert big.json()["message"] == "Ова датотека је превелика: највише 2 MB. Молимо пошаљите мању фотографију или PDF."
    assert disguised.status_code == 415 and drawing.status_code == 415
    assert disguised.json()["message"].startswith("Ова врста датотеке се овде не може послати.")
    assert forged.status_code == 403 and kept == 0 and lines == 0


def test_files_are_known_by_their_bytes_not_their_names() -> None:
    assert sniff(PHOTO, "application/pdf") == "image/jpeg"
    assert sniff(VOICE) == "audio/ogg"
    assert sniff(PDF, "image/jpeg") == "application/pdf"
    assert sniff(HTML, "image/jpeg") is None and sniff(HTML, "text/plain") is None
    assert sniff(b'<?xml version="1.0"?><svg></svg>', "image/svg+xml") is None
    assert sniff(b"MZ\x90\x00 a program", "application/pdf") is None
    assert sniff(b"\x00\x00\x00\x20ftypM4A \x00", "audio/mp4") == "audio/mp4"


async def test_the_same_file_sent_on_two_lines_is_kept_for_each(homeward: Homeward, fake: FakeBotApi) -> None:
    """Telegram names a file by the same id each time it reaches the bot: sent twice, or forwarded by two people."""
    first = Person(fake, 8111, "Drita", language_code="sq")
    second = Person(fake, 8112, "Milan", language_code="sr")
    await onboard_telegram(fake, first, "sq")
    await onboard_telegram(fake, second, "sr-Cyrl")
    fake.files["photo-shared"] = PHOTO
    photo = [{"file_id": "photo-shared", "file_unique_id": "uphoto-shared", "width": 10, "height": 10}]
    first.sends(photo=photo)
    first.sends(photo=photo)
    second.sends(photo=photo)
    lines = await _kept(homeward, 3)
    await add_staff(homeward, "besa", "caseworker")
    async with client(homeward) as http:
        await sign_in(http, "besa")
        for line in lines:
            opened = await http.get(f"/conversations/{line.conversation_id}/messages/{line.id}/file")
            assert (opened.status_code, opened.content) == (200, PHOTO)
    async with homeward.db.sessions() as session:
        kept = (await session.execute(select(MediaFile.message_id, MediaFile.status))).all()
    assert sorted(kept) == sorted((line.id, "stored") for line in lines)


async def test_the_inbox_previews_a_photo_without_words_by_its_kind(homeward: Homeward) -> None:
    from tests.console_support import person_with_transcript

    cid = await person_with_transcript(homeward, municipality=None, texts=["A e keni marrë?"], needs_human=True)
    async with homeward.db.transaction() as session:
        session.add(
            Message(
                conversation_id=cid,
                direction="in",
                author="person",
                kind="photo",
                text=None,
                status="received",
                created_at=homeward.clock.now() + timedelta(minutes=1),
            )
        )
    await add_staff(homeward, "besa", "caseworker")
    async with client(homeward) as http:
        await sign_in(http, "besa")
        inbox = (await http.get("/inbox?view=all")).text
    assert f'<span class="preview">📷 {shown(homeward, "Photo", "sq")} · {shown(homeward, "Photo", "sr-Cyrl")}' in inbox
