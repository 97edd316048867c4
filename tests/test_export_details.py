"""Exports in Kosovo time, with channel, municipality, labels and notes, and what a person tapped in words."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.app import Homeward
from bot.cli import main
from bot.config import Settings
from bot.followup import export as followup_export
from bot.followup.contacts import FORM_ID as FOLLOWUP_FORM
from bot.transcripts import FIELDS, export
from db.models import Beneficiary, Conversation, Message
from db.staff import Note
from tests.console_support import add_followup, add_staff, client, person_with_transcript, sign_in

WINTER = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # 10:30 in Kosovo, UTC+1
SUMMER = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # 10:00 in Kosovo, UTC+2
MENU = {"buttons": [[{"text": "Sigurimi shëndetësor", "data": "kb:t:health.costs_insurance:6"}]]}


async def _story(app: Homeward) -> tuple[int, int]:
    """Arta (Telegram, Prishtina, two labels) with messages, a button press and notes; Besa with notes only."""
    async with app.db.transaction() as session:
        ids = []
        for name, ref, municipality in (("Arta", "a", "prishtine"), ("Besa", "b", "mitrovice-veriore")):
            person = Beneficiary(
                channel="telegram" if name == "Arta" else "web",
                channel_ref=f"ref-{ref}",
                display_name=name,
                locale="sq",
                consent="given",
                municipality=municipality,
                created_at=WINTER - timedelta(days=30),
            )
            session.add(person)
            await session.flush()
            conversation = Conversation(
                beneficiary_id=person.id,
                mode="bot",
                state={},
                labels=["id", "health"] if name == "Arta" else [],
                created_at=person.created_at,
                updated_at=person.created_at,
            )
            session.add(conversation)
            await session.flush()
            ids.append(conversation.id)
        arta, besa = ids

        def line(direction: str, kind: str, text: str | None, at: datetime, payload: dict | None = None) -> Message:
            return Message(
                conversation_id=arta,
                direction=direction,
                author="person" if direction == "in" else "bot",
                kind=kind,
                text=text,
                payload=payload,
                status="received" if direction == "in" else "sent",
                created_at=at,
            )

        session.add(line("in", "text", "Kam nevojë për ndihmë me sigurimin", WINTER))
        await session.flush()
        session.add(line("out", "text", "Zgjidhni një temë:", WINTER + timedelta(seconds=1), MENU))
        await session.flush()
        # A press stored as its data (before labels were kept), and one whose button the bot never sent.
        pressed = {"data": "kb:t:health.costs_insurance:6"}
        session.add(line("in", "button", "kb:t:health.costs_insurance:6", SUMMER, pressed))
        await session.flush()
        session.add(line("in", "button", "kb:t:gone:1", SUMMER + timedelta(minutes=1), {"data": "kb:t:gone:1"}))
        await session.flush()
        session.add(line("out", "text", "Ja çfarë duhet të dini.", SUMMER + timedelta(minutes=2)))
        for conversation_id, text, at in (
            (arta, "E telefonova: 044 123 456, Arta do të vijë të hënën", WINTER + timedelta(minutes=5)),
            (arta, '=HYPERLINK("http://x.example")', SUMMER + timedelta(minutes=3)),
            (besa, "Besa kërkon një takim", SUMMER + timedelta(hours=1)),
        ):
            session.add(
                Note(conversation_id=conversation_id, author_id=None, author_name="amra", text=text, created_at=at)
            )
    return arta, besa


def _read(fmt: str, data: str | bytes) -> list[dict]:
    if fmt == "jsonl":
        assert isinstance(data, str)
        return [json.loads(x) for x in data.splitlines()]
    if fmt == "csv":
        assert isinstance(data, str)
        return list(csv.DictReader(io.StringIO(data)))
    assert isinstance(data, bytes)
    rows = list(load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True))
    return [dict(zip(rows[0], (*row, *[None] * (len(rows[0]) - len(row))), strict=True)) for row in rows[1:]]


async def _export(app: Homeward, fmt: str, **options: object) -> list[dict]:
    out: io.StringIO | io.BytesIO = io.BytesIO() if fmt == "xlsx" else io.StringIO()
    await export(app.db, fmt, out, **options)  # type: ignore[arg-type]
    return _read(fmt, out.getvalue())


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "xlsx"])
async def test_transcripts_carry_kosovo_time_context_notes_and_tapped_labels(homeward: Homeward, fmt: str) -> None:
    arta, besa = await _story(homeward)
    records = await _export(homeward, fmt)
    assert list(records[0]) == list(FIELDS)
    texts = [(r["kind"], r["text"] or None) for r in records]
    assert texts == [
        ("text", "Kam nevojë për ndihmë me sigurimin"),
        ("text", "Zgjidhni një temë:"),
        ("note", "E telefonova: 044 123 456, Arta do të vijë të hënën"),
        ("button", "Sigurimi shëndetësor"),  # what the person tapped, not "kb:t:…"
        ("button", None),  # the label is lost: nothing rather than the data
        ("text", "Ja çfarë duhet të dini."),
        ("note", '\'=HYPERLINK("http://x.example")' if fmt == "csv" else '=HYPERLINK("http://x.example")'),
        ("note", "Besa kërkon një takim"),
    ]
    assert not any("kb:" in str(r["text"] or "") for r in records)
    first, note, pressed = records[0], records[2], records[3]
    assert first["created_at"] == "2026-03-02T09:30:00+00:00"  # integrations read UTC, as before
    assert first["created_at_local"] == "2026-03-02T10:30:00+01:00"
    assert pressed["created_at_local"] == "2026-07-01T10:00:00+02:00"
    assert note["created_at_local"] == "2026-03-02T10:35:00+01:00"
    assert note["author"] == "staff:amra" and note["direction"] in (None, "")
    assert str(note["conversation"]) == str(arta) and str(records[-1]["conversation"]) == str(besa)
    labels = ["id", "health"] if fmt == "jsonl" else "id; health"
    assert (first["channel"], first["municipality"], first["labels"]) == ("telegram", "prishtine", labels)
    assert (note["channel"], note["municipality"], note["labels"]) == ("telegram", "prishtine", labels)
    assert (records[-1]["channel"], records[-1]["municipality"]) == ("web", "mitrovice-veriore")


async def test_notes_are_masked_like_text_and_follow_since(homeward: Homeward) -> None:
    await _story(homeward)
    masked = await _export(homeward, "jsonl", redacted=True)
    notes = [r["text"] for r in masked if r["kind"] == "note"]
    assert notes[0] == "E telefonova: [phone], [name] do të vijë të hënën"
    assert notes[2] == "[name] kërkon një takim"
    later = await _export(homeward, "jsonl", since=SUMMER)
    assert [r["kind"] for r in later] == ["button", "button", "text", "note", "note"]


async def test_the_command_line_and_the_console_export_the_same_records(
    homeward: Homeward, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arta, _ = await _story(homeward)
    monkeypatch.setenv("HOMEWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOMEWARD_SECRET_KEY", settings.secret_key or "")
    out = tmp_path / "t.csv"
    assert await asyncio.to_thread(main, ["export", "transcripts", "--format", "csv", "--output", str(out)]) == 0
    cli = _read("csv", out.read_text(encoding="utf-8"))
    assert len(cli) == 8 and cli[3]["text"] == "Sigurimi shëndetësor"
    await add_staff(homeward, "amra", "caseworker", ("prishtine",))
    await add_staff(homeward, "dren", "admin")
    async with client(homeward) as http:
        await sign_in(http, "amra")
        one = _read("csv", (await http.get(f"/conversations/{arta}/export?format=csv")).text)
    async with client(homeward) as http:
        await sign_in(http, "dren")
        everything = _read("csv", (await http.get("/exports/transcripts?format=csv")).text)
    assert one == [r for r in cli if r["conversation"] == str(arta)]
    assert {r["kind"] for r in one} == {"text", "button", "note"}
    assert everything == cli


async def test_followup_exports_have_kosovo_time_columns(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="prishtine", texts=["Mirëdita"])
    await add_followup(homeward, cid, 1, "answered", scores={"wellbeing": 0.5}, values={})
    questionnaire = homeward.services.extras["questionnaires"].items[FOLLOWUP_FORM]
    out = io.StringIO()
    assert await followup_export.export(homeward.db, questionnaire, "csv", out) == 1
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    header = list(row)
    assert header[header.index("completed_at") + 1 : header.index("completed_at") + 3] == list(
        followup_export.LOCAL_COLUMNS
    )
    started = datetime.fromisoformat(row["started_at"]).replace(tzinfo=UTC)
    local = datetime.fromisoformat(row["started_at_local"])
    assert local == started and local.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert row["completed_at_local"] == row["started_at_local"]
