"""The runner's expressions against cases from ODK's engine test suites (see the data file's sources)."""

from __future__ import annotations

import json

import pytest

from bench.forms_conformance import CASES, load_cases, outcome, passes, report
from bot.forms.xpath import ExpressionError, compile_expression

ALL = load_cases()


def test_the_set_is_large_sourced_and_covers_many_functions() -> None:
    data = json.loads(CASES.read_text(encoding="utf-8"))
    assert len(ALL) >= 400
    used = {row[0] for row in data["cases"]} | {row[0] for row in data["ops"]}
    assert used <= set(data["sources"])
    assert {s.split()[0] for s in data["sources"].values()} >= {
        "getodk/javarosa",
        "enketo/openrosa-xpath-evaluator",
        "getodk/web-forms",
    }
    assert len({case.function for case in ALL}) >= 40


@pytest.mark.parametrize("case", ALL, ids=[f"{c.source}:{c.expression}" for c in ALL])
def test_case_gives_what_odk_gives(case) -> None:  # type: ignore[no-untyped-def]
    ok, got = passes(case)
    assert ok, f"{case.expression!r} ({case.source}): expected {case.kind} {case.expected!r}, got {got}"


def test_no_case_crashes_and_every_function_passes_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    table = report(ALL)
    for name in sorted(table):
        row = table[name]
        print(f"{name}: {row['passed']}/{row['cases']}")
    assert all(row["crashed"] == 0 for row in table.values())
    assert {name: row for name, row in table.items() if row["passed"] != row["cases"]} == {}


def test_the_crashes_of_issue_16_give_odk_values() -> None:
    # Each of these once ended a person's turn or was refused at load with Python's own words.
    for expression, kind, expected in [
        ("substring('abc', number('NaN'))", "s", ""),
        ("substring('abc', 1 div 0)", "s", ""),
        ("substr('abc', 1, '')", "s", "bc"),
        ("substring-before('abc', '')", "s", ""),
        ("substring-after('abc', '')", "s", "abc"),
        ("'abc' < 'abcd'", "b", False),
        ("5 mod 0", "n", "NaN"),
        ("coalesce(0 div 0, 'empty')", "s", "empty"),
    ]:
        case = type(ALL[0])("issue-16", expression, kind, expected, {})
        assert outcome(case)[0] == "value", expression
        assert passes(case)[0], expression


def test_an_unsupported_function_is_refused_with_its_name() -> None:
    with pytest.raises(ExpressionError, match=r"pulldata\(\) is not one a chat can play"):
        compile_expression("pulldata('households', 'size', 'id', ${hh})", {"hh"})
