"""`homeward export transcripts`: every message, in order, in JSONL, CSV and XLSX."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from openpyxl import load_workbook

from bot.app import Homeward
from bot.cli import main
from bot.config import Settings
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard, transcript


async def test_export_has_every_message_in_every_format(
    homeward: Homeward, fake: FakeBotApi, person: Person, settings: Settings, tmp_path: Path, monkeypatch
) -> None:
    sent = await onboard(fake, person, "sr-Cyrl")
    person.says("Где да извадим личну карту?\x07")
    await fake.wait_sent(sent + 1, person.id)
    await fake.wait_for(lambda: fake.pending_updates() == 0)
    messages = await transcript(homeward)
    await homeward.delivery.drain()

    monkeypatch.setenv("HOMEWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOMEWARD_SECRET_KEY", settings.secret_key or "")
    for fmt in ("jsonl", "csv", "xlsx"):
        out = tmp_path / f"t.{fmt}"
        assert await _run(["export", "transcripts", "--format", fmt, "--output", str(out)]) == 0
        if fmt == "jsonl":
            records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        elif fmt == "csv":
            records = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        else:
            rows = list(load_workbook(out, read_only=True).active.iter_rows(values_only=True))
            records = [dict(zip(rows[0], (*row, *[None] * (len(rows[0]) - len(row))), strict=True)) for row in rows[1:]]
        assert len(records) == len(messages)
        assert [r["direction"] for r in records] == [m.direction for m in messages]
        first = records[0]
        for key in (
            "beneficiary",
            "conversation",
            "direction",
            "author",
            "kind",
            "text",
            "created_at",
            "channel_message_id",
            "status",
        ):
            assert key in first
        assert records[0]["author"] == "person" and records[1]["author"] == "bot"
        question = next(r for r in records if r["text"] and str(r["text"]).startswith("Где да"))
        assert question["kind"] == "text"
        assert str(question["created_at"]).endswith("+00:00")

    person.says("Мој број је 044 123 456, зовем се Arta")
    await fake.wait_sent(sent + 2, person.id)
    await transcript(homeward)
    out = tmp_path / "redacted.jsonl"
    assert await _run(["export", "transcripts", "--format", "jsonl", "--redact", "--output", str(out)]) == 0
    redacted = [json.loads(line)["text"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert "Мој број је [phone], зовем се [name]" in redacted
    assert not any("044 123 456" in (t or "") for t in redacted)


async def _run(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(main, argv)
