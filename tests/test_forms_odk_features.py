"""The XLSForm features of real surveys, played as ODK Collect plays them (tests/forms/odk/features.md)."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.forms import FormError, Runner, check_form, load_form
from bot.forms import export as form_export
from bot.forms.checks import filtered_size
from bot.forms.commands import check_command
from bot.forms.evaluation import MAX_ADDED
from bot.forms.problems import gather

FEATURES = Path(__file__).parent / "forms" / "odk" / "features.md"
MORNING = datetime(2024, 5, 1, 8, 15, tzinfo=UTC)  # 10:15 in Kosovo (summer time)


def _play(answers: list[str | None], *, step: timedelta = timedelta(minutes=5)) -> tuple[Runner, dict]:  # type: ignore[type-arg]
    """Answer in turn (None takes the question's default), the clock moving ``step`` per answer."""
    runner = Runner(load_form(FEATURES))
    now = MORNING
    state = runner.start(now)
    for raw in answers:
        now += step
        result = runner.keep(state, now, "sq") if raw is None else runner.answer(state, raw, now, "sq")
        assert result.error is None, (runner.current(state, "sq", now), raw, result.error)
        state = result.state
    return runner, state


FULL = ["prishtina", "2", "42.6 21.1", "other", "Driver", "3", None, None, "Ana", "yes", "", "no"]


def test_start_end_and_now_are_clock_time_in_kosovo() -> None:
    runner, state = _play(FULL)
    values = runner.values(state)
    assert values["start"] == "2024-05-01T10:15:00.000+02:00"
    assert values["end"] == "2024-05-01T11:15:00.000+02:00"
    assert values["minutes"] == 60  # end - start, with the time of day
    assert values["clock"] == "11:15"  # now() at the last answer, hours and minutes printed
    assert values["today"] == "2024-05-01"


def test_start_and_end_are_exported_as_kobo_does() -> None:
    runner, state = _play(FULL)
    form = runner.form
    headers, data = form_export.rows(form, [{"id": 1, "values": runner.values(state)}])
    row = dict(zip(headers, next(data), strict=True))
    assert headers.index("start") < headers.index("end") < headers.index("district")
    assert row["start"] == "2024-05-01T10:15:00.000+02:00"
    assert row["end"] == "2024-05-01T11:15:00.000+02:00"


def test_choices_from_files_beside_the_form_with_a_cascade() -> None:
    runner = Runner(load_form(FEATURES))
    state = runner.start(MORNING)
    prompt = runner.current(state, "sq", MORNING)
    assert prompt is not None and prompt.required  # required written as T
    assert prompt.choices == [("prishtina", "Prishtina"), ("prizren", "Prizren")]
    state = runner.answer(state, "Prizren", MORNING, "sq").state
    prompt = runner.current(state, "sq", MORNING)
    assert prompt is not None and prompt.choices == [("zhur", "Zhur")]  # villages.xml, filtered by district


def test_or_other_gps_defaults_and_computed_defaults() -> None:
    runner, state = _play(FULL[:3])
    prompt = runner.current(state, "sq", MORNING)
    assert prompt is not None and prompt.name == "works" and prompt.choices[-1] == ("other", "Other")
    state = runner.answer(state, "other", MORNING, "sq").state
    assert runner.current(state, "sq", MORNING).name == "works_other"  # type: ignore[union-attr]
    runner, state = _play(FULL)
    values = runner.values(state)
    assert values["place"] == "42.6 21.1 0 0"  # gps is played as a location
    assert (values["works"], values["works_other"]) == ("other", "Driver")
    assert values["rooms"] == 2  # the default, kept
    assert values["beds"] == 6  # computed from ${people} * 2, kept


def test_a_default_can_be_replaced_and_shows_on_the_question() -> None:
    runner, state = _play(FULL[:6])
    prompt = runner.current(state, "sq", MORNING)
    assert prompt is not None and (prompt.name, prompt.suggested) == ("rooms", "2")
    state = runner.answer(state, "4", MORNING, "sq").state
    prompt = runner.current(state, "sq", MORNING)
    assert prompt is not None and (prompt.name, prompt.suggested) == ("beds", "6")
    assert runner.values(state)["rooms"] == 4


def test_a_repeat_without_count_asks_to_add_another_up_to_a_cap() -> None:
    runner, state = _play(FULL[:8])
    for number in range(1, MAX_ADDED + 1):
        prompt = runner.current(state, "sq", MORNING)
        assert prompt is not None and prompt.name == "member_name" and prompt.instance == number
        state = runner.answer(state, f"P{number}", MORNING, "sq").state
        prompt = runner.current(state, "sq", MORNING)
        if number == MAX_ADDED:
            break
        assert prompt is not None and prompt.name == "member" and "Member" in prompt.text
        state = runner.answer(state, "po", MORNING, "sq").state
    prompt = runner.current(state, "sq", MORNING)
    assert prompt is not None and prompt.kind == "note"  # no more "add another?" at the cap
    values = runner.values(state)
    assert values["members"] == MAX_ADDED == values["named"]


def test_back_from_the_end_of_a_repeat_can_add_another() -> None:
    runner, state = _play(FULL)
    assert runner.values(state)["members"] == 2
    state = runner.back(state)  # to "add another?" after the second member
    assert runner.current(state, "sq", MORNING).name == "member"  # type: ignore[union-attr]
    state = runner.answer(state, "yes", MORNING, "sq").state
    state = runner.answer(state, "Cena", MORNING, "sq").state
    state = runner.answer(state, "no", MORNING, "sq").state
    assert runner.values(state)["members"] == 3


def test_uuid_count_non_empty_and_choice_name() -> None:
    runner, state = _play(FULL)
    values = runner.values(state)
    assert len(values["key"]) == 36 and values["key"] == runner.values(state)["key"]  # once(uuid())
    assert values["named"] == 1 and values["members"] == 2  # one name left empty
    assert values["district_label"] == "Prishtina"
    assert runner.current(state, "sq", MORNING).text == "Prishtina: 1 named, 6 beds."  # type: ignore[union-attr]


def test_a_failing_expression_passes_the_question_over_and_is_recorded() -> None:
    runner, state = _play(FULL)
    names = [runner.form.nodes[j].name for j, _ in runner.positions(state)]
    assert "odd" not in names  # its relevance fails: skipped, as not relevant
    assert {"field": "odd", "row": 12, "part": "relevant", "error": "EvaluationError"} in state["problems"]
    assert runner.values(state)["broken"] is None  # date('nonsense'): empty, not a crash
    assert gather([("features", state)]) == [("features", 12, "odd", "relevant", "EvaluationError", 1)]


def test_pass_over_moves_on_after_an_unexpected_failure() -> None:
    runner = Runner(load_form(FEATURES))
    state = runner.start(MORNING)
    state = runner.pass_over(state, MORNING, RuntimeError("boom"))
    assert runner.current(state, "sq", MORNING).name == "village"  # type: ignore[union-attr]
    assert state["problems"] == [{"field": "district", "row": 5, "part": "question", "error": "RuntimeError"}]


def _write(tmp_path: Path, survey: str, choices: str = "| yn | yes | Yes |") -> Path:
    path = tmp_path / "form.md"
    path.write_text(
        "## survey\n\n| type | name | label | relevant | calculation | required |\n|---|---|---|---|---|---|\n"
        f"{survey}\n\n## choices\n\n| list_name | name | label |\n|---|---|---|\n{choices}\n",
        encoding="utf-8",
    )
    return path


def test_every_problem_is_listed_with_its_row_and_what_to_change(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "| integer | a | A | | | |\n"
        "| text | b | B | nowhere = 1 | | |\n"
        "| geotrace | c | C | | | |\n"
        "| calculate | d | | | pulldata('x', 'y', 'z', ${a}) | |\n"
        "| text | e | E | | | basic |\n"
        "| begin_repeat | outer | Outer | | | |\n"
        "| begin_repeat | inner | Inner | | | |\n"
        "| begin_repeat | deepest | Deepest | | | |\n"
        "| text | f | F | | | |\n"
        "| end_repeat | | | | | |\n"
        "| end_repeat | | | | | |\n"
        "| end_repeat | | | | | |",
    )
    with pytest.raises(FormError) as caught:
        load_form(path)
    found = [str(p) for p in caught.value.problems]
    assert [p.row for p in caught.value.problems] == [3, 4, 5, 6, 9]
    assert found[0] == (
        "survey row 3: the relevant column of 'b': 'nowhere = 1': the bare name 'nowhere' is not a ${field} reference"
    )
    assert "geotrace" in found[1] and "cannot be answered in a chat" in found[1]
    assert "pulldata() is not one a chat can play" in found[2]
    assert "holds 'basic'; write yes or no" in found[3]
    assert "a repeat three levels deep" in found[4]
    assert str(caught.value) == found[0] and caught.value.summary().endswith("(and 4 more problems)")


def test_a_survey_row_is_not_reported_as_a_choices_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "| integer | a | A | | | |\n| select_one nolist | b | B | | | |")
    with pytest.raises(FormError) as caught:
        load_form(path)
    assert (caught.value.sheet, caught.value.row) == ("survey", 3)
    duplicates = _write(tmp_path, "| select_one yn | a | A | | | |", "| yn | yes | Yes |\n| yn | yes | Again |")
    with pytest.raises(FormError) as caught:
        load_form(duplicates)
    assert (caught.value.sheet, caught.value.row) == ("choices", 3)


def test_forms_check_all_problems_prints_them_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "| text | b | B | x = 1 | | |\n| text | c | C | y = 1 | | |")
    assert check_command(argparse.Namespace(file=path, all_problems=False)) == 1
    short = capsys.readouterr().err
    assert "survey row 2" in short and "(and 1 more problem)" in short and "survey row 3" not in short
    assert check_command(argparse.Namespace(file=path, all_problems=True)) == 1
    full = capsys.readouterr().err
    assert "survey row 2" in full and "survey row 3" in full and "2 problem(s)" in full


def test_check_counts_the_filtered_list_not_the_whole_one(tmp_path: Path) -> None:
    towns = "\n".join(f"| town | t{i} | Town {i} | r{i % 3} |" for i in range(150))
    path = tmp_path / "cascade.md"
    path.write_text(
        "## survey\n\n| type | name | label | choice_filter |\n|---|---|---|---|\n"
        "| select_one region | region | Region | |\n| select_one town | town | Town | region = ${region} |\n"
        "| select_one town | any_town | Any town | |\n\n"
        "## choices\n\n| list_name | name | label | region |\n|---|---|---|---|\n"
        "| region | r0 | R0 | |\n| region | r1 | R1 | |\n| region | r2 | R2 | |\n"
        f"{towns}\n",
        encoding="utf-8",
    )
    form = load_form(path)
    assert filtered_size(form, form.nodes[form.by_name["town"]]) == 50
    problems = [p for p in check_form(form) if "offers up to" in p]
    assert problems == [
        "survey row 4: 'any_town' offers up to 150 choices; a chat shows 10 a screen, so add a choice_filter "
        "(a cascade) that leaves at most 100"
    ]


def test_missing_choice_file_is_refused_naming_the_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "| select_one_from_file absent.csv | a | A | | | |")
    with pytest.raises(FormError, match=r"survey row 2: .*'absent.csv', which is not beside the form"):
        load_form(path)


def test_state_stays_json(tmp_path: Path) -> None:
    import json

    runner, state = _play(FULL)
    assert json.loads(json.dumps(state)) == state
    assert isinstance(io.StringIO().write(json.dumps(runner.values(state))), int)


NESTED = """## survey

| type | name | label | repeat_count | calculation | relevant |
|---|---|---|---|---|---|
| integer | households | How many households? | | | |
| begin_repeat | hh | Household | ${households} | | |
| text | head | Head of household ${hh_no}? | | | |
| calculate | hh_no | | | position(..) | |
| begin_repeat | member | Member | | | |
| text | name | Member of ${head}? | | | |
| calculate | member_no | | | position(..) | |
| integer | age | Age of ${name}? | | | ${hh_no} = 2 |
| end_repeat | | | | | |
| calculate | size | | | count(${name}) | |
| end_repeat | | | | | |
| calculate | people | | | count(${name}) | |
"""


def test_a_repeat_inside_a_repeat_plays_with_its_own_instances(tmp_path: Path) -> None:
    path = tmp_path / "nested.md"
    path.write_text(NESTED, encoding="utf-8")
    runner = Runner(load_form(path))
    state = runner.start(MORNING)
    asked = []
    for raw in ["2", "Ana", "Ana1", "yes", "Ana2", "no", "Ben", "Ben1", "30", "no"]:
        prompt = runner.current(state, "sq", MORNING)
        assert prompt is not None
        asked.append(prompt.text.split("\n")[0])
        result = runner.answer(state, raw, MORNING, "sq")
        assert result.error is None, (prompt.name, raw, result.error)
        state = result.state
    assert runner.current(state, "sq", MORNING) is None
    assert asked[1] == "Head of household 1?" and asked[2] == "Member of Ana?" and asked[6] == "Head of household 2?"
    assert asked[8] == "Age of Ben1?"  # asked only in the second household
    values = runner.values(state)
    assert values["name[1][1]"] == "Ana1" and values["name[1][2]"] == "Ana2" and values["name[2][1]"] == "Ben1"
    assert (values["size[1]"], values["size[2]"], values["people"]) == (2, 1, 3)
    assert (values["member_no[1][2]"], values["age[2][1]"]) == (2, 30)
    assert "age[1][1]" not in values
    headers, data = form_export.rows(runner.form, [{"id": 1, "values": values}])
    row = dict(zip(headers, next(data), strict=True))
    assert row["hh[1]/member[2]/name"] == "Ana2" and row["hh[2]/member[1]/age"] == 30 and row["hh[2]/size"] == 1
    # back from the end, into the second household's "add another?"
    state = runner.back(state)
    assert runner.current(state, "sq", MORNING).name == "member"  # type: ignore[union-attr]
