"""Kobo-style export of submissions: group paths, 0/1 columns per choice, scores, labels, three writers."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from bot.forms import Runner, load_form
from bot.forms.export import rows, write_csv, write_jsonl, write_xlsx

FORMS = Path(__file__).resolve().parent / "forms"
TODAY = date(2024, 5, 1)


def submission() -> dict[str, Any]:
    runner = Runner(load_form(FORMS / "features.md"))
    state = runner.start()
    state = runner.next(state, TODAY)
    for raw in [
        "Arta",
        "30",
        "2,5",
        "31.12.2023",
        "yes",
        "2",
        "9",
        "4",
        "1",
        "2",
        "1, 3",
        ">",
        "5",
        "044 123 456",
    ]:
        state = runner.next(state, TODAY) if raw == ">" else runner.answer(state, raw, TODAY, "sq").state
    assert runner.is_complete(state)
    started = datetime(2024, 5, 1, 10, 0)
    return {"id": 7, "beneficiary": 42, "wave": 1, "started_at": started, "completed_at": started,
            "values": runner.values(state)}  # fmt: skip


def test_columns_follow_group_paths_with_repeat_instances_and_choice_columns() -> None:
    form = load_form(FORMS / "features.md")
    headers, data = rows(form, [submission()])
    assert headers[:5] == ["_id", "beneficiary", "wave", "started_at", "completed_at"]
    for header in ["name", "age", "children/child_count", "children/child[1]/child_age",
                   "children/child[2]/child_age", "children/child[2]/child_number", "youngest",
                   "needs", "needs/housing", "needs/none", "score_wellbeing"]:  # fmt: skip
        assert header in headers, header
    assert "children/child[3]/child_age" not in headers
    row = dict(zip(headers, next(data), strict=True))
    assert row["_id"] == 7 and row["started_at"] == "2024-05-01T10:00:00"
    assert row["needs"] == "housing health"
    assert (row["needs/housing"], row["needs/work"], row["needs/health"], row["needs/none"]) == (1, 0, 1, 0)
    assert row["children/child[2]/child_age"] == 4 and row["youngest"] == 4
    assert row["score_wellbeing"] == 1.0 and row["income"] == 2.5 and row["returned"] == "2023-12-31"


def test_labels_in_a_chosen_locale_instead_of_values() -> None:
    form = load_form(FORMS / "features.md")
    headers, data = rows(form, [submission()], locale="sr-Latn")
    row = dict(zip(headers, next(data), strict=True))
    assert row["region"] == "Priština" and row["municipality"] == "Kosovo Polje"
    assert row["needs"] == "Smeštaj; Zdravstvo" and row["needs/housing"] == 1


def test_unanswered_select_multiple_leaves_choice_columns_empty() -> None:
    form = load_form(FORMS / "features.md")
    headers, data = rows(form, [{"id": 1, "values": {"name": "A"}}])
    row = dict(zip(headers, next(data), strict=True))
    assert row["needs"] is None and row["needs/housing"] is None


def test_writers_produce_csv_jsonl_and_xlsx() -> None:
    form = load_form(FORMS / "features.md")
    subs = [submission(), {**submission(), "id": 8}]
    text = io.StringIO()
    assert write_csv(*rows(form, subs), text) == 2
    parsed = list(csv.DictReader(io.StringIO(text.getvalue())))
    assert [r["_id"] for r in parsed] == ["7", "8"] and parsed[0]["needs/health"] == "1"
    lines = io.StringIO()
    assert write_jsonl(*rows(form, subs), lines) == 2
    first = json.loads(lines.getvalue().splitlines()[0])
    assert first["children/child[1]/child_age"] == 9
    binary = io.BytesIO()
    assert write_xlsx(*rows(form, subs), binary) == 2
    sheet = load_workbook(io.BytesIO(binary.getvalue()), read_only=True).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0][0] == "_id" and [r[0] for r in table[1:]] == [7, 8]
