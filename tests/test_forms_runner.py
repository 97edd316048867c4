"""The chat runner on a form written to exercise every feature it plays (tests/forms/features.md)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.forms import FormError, Runner, check_form, load_form
from bot.forms.checks import summary

FORMS = Path(__file__).resolve().parent / "forms"
TODAY = date(2024, 5, 1)


@pytest.fixture(scope="module")
def runner() -> Runner:
    return Runner(load_form(FORMS / "features.md"))


def play(runner: Runner, answers: list[str], locale: str = "sq") -> dict[str, Any]:
    """Answer in order; '-' skips, '>' moves on from a note. Every answer must be accepted."""
    state = runner.start()
    for raw in answers:
        if raw == ">":
            state = runner.next(state, TODAY)
            continue
        result = runner.skip(state, TODAY, locale) if raw == "-" else runner.answer(state, raw, TODAY, locale)
        assert result.error is None, (raw, result.error)
        state = result.state
    return state


def name_of(runner: Runner, state: dict[str, Any]) -> str | None:
    prompt = runner.current(state, "sq", TODAY)
    return None if prompt is None else prompt.name


def test_feature_form_is_complete_in_both_languages(runner: Runner) -> None:
    assert check_form(runner.form) == []
    assert summary(runner.form) == "12 questions, 4 choice lists, languages sq, sr: playable in chat"


def test_note_first_then_label_with_reference_and_hint_in_each_script(runner: Runner) -> None:
    state = runner.start()
    note = runner.current(state, "sq", TODAY)
    assert note is not None and (note.kind, note.text, note.can_back) == ("note", "Mirë se vini.", False)
    state = play(runner, [">", "Arta"])
    assert runner.current(state, "sq", TODAY).text == "Sa vjeç jeni, Arta?\nShkruani një numër."
    assert runner.current(state, "sr-Cyrl", TODAY).text == "Колико имате година, Arta?\nУнесите број."
    assert runner.current(state, "sr-Latn", TODAY).text == "Koliko imate godina, Arta?\nUnesite broj."


def test_required_uses_the_forms_message_or_a_built_in_one(runner: Runner) -> None:
    state = play(runner, [">"])
    assert runner.skip(state, TODAY, "sq").error == "Ju lutemi shkruani emrin."
    assert runner.answer(state, "  ", TODAY, "sr-Latn").error == "Molimo unesite ime."
    state = play(runner, [">", "Arta", "30", "-", "-"])
    assert name_of(runner, state) == "has_children"
    assert runner.skip(state, TODAY, "sr-Cyrl").error == "Ово питање захтева одговор."


def test_out_of_range_number_gets_the_constraint_message_and_the_same_question(runner: Runner) -> None:
    state = play(runner, [">", "Arta"])
    result = runner.answer(state, "7", TODAY, "sq")
    assert result.error == "Mosha duhet të jetë nga 15 deri në 120."
    assert name_of(runner, result.state) == "age"
    assert runner.answer(state, "7", TODAY, "sr-Cyrl").error == "Године морају бити од 15 до 120."
    not_a_number = runner.answer(state, "thirty", TODAY, "sq")
    assert not_a_number.error == "Ju lutemi shkruani një numër të plotë, p.sh. 3."
    assert runner.answer(state, "2.5", TODAY, "sq").error is not None


def test_decimals_take_a_comma_or_a_point(runner: Runner) -> None:
    for typed, stored in [("2,5", 2.5), ("1.234,5", 1234.5), ("300", 300.0), ("0.75", 0.75)]:
        state = play(runner, [">", "Arta", "30", typed])
        assert runner.values(state)["income"] == stored


def test_dates_typed_three_ways_and_impossible_or_future_dates_refused(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30", "-"])
    for typed in ("31.12.2023", "31/12/2023", "2023-12-31"):
        result = runner.answer(state, typed, TODAY, "sq")
        assert result.error is None and runner.values(result.state)["returned"] == "2023-12-31"
    impossible = runner.answer(state, "31.02.2024", TODAY, "sr-Cyrl")
    assert impossible.error == "Тај датум не постоји. Молимо проверите дан и месец."
    assert runner.answer(state, "yesterday", TODAY, "sq").error.startswith("Ju lutemi shkruani datën")
    future = runner.answer(state, "02.05.2024", TODAY, "sq")
    assert future.error == "Data nuk mund të jetë në të ardhmen."


def test_choice_by_label_in_any_language_by_number_or_with_a_typo(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30", "-", "-"])
    typed_answers = [("Po", "yes"), ("да", "yes"), ("DA", "yes"), ("2", "no"), ("jo.", "no"), ("yes", "yes")]
    for typed, value in typed_answers:
        result = runner.answer(state, typed, TODAY, "sq")
        assert result.error is None and result.state["values"]["has_children"] == value
    wrong = runner.answer(state, "banana", TODAY, "sq")
    assert wrong.error == "Ju lutemi zgjidhni një nga përgjigjet e ofruara ose shkruani numrin e saj."
    assert runner.answer(state, "3", TODAY, "sq").error is not None
    state = play(runner, [">", "Arta", "30", "-", "-", "no"])
    assert runner.answer(state, "Mitrovic", TODAY, "sq").state["values"]["region"] == "mitrovica"


def test_a_group_that_is_not_relevant_is_passed_over(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30", "-", "-", "no"])
    assert name_of(runner, state) == "region"


def test_a_repeat_asks_once_per_child_and_numbers_them(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30", "-", "-", "yes", "2"])
    first = runner.current(state, "sq", TODAY)
    assert (first.name, first.instance, first.text) == ("child_age", 1, "Sa vjeç është fëmija nr. 1?")
    state = play(runner, [">", "Arta", "30", "-", "-", "yes", "2", "9"])
    second = runner.current(state, "sr-Cyrl", TODAY)
    assert (second.index, second.instance, second.text) == (first.index, 2, "Колико година има дете бр. 2?")
    state = play(runner, [">", "Arta", "30", "-", "-", "yes", "2", "9", "4"])
    values = runner.values(state)
    assert (values["child_age[1]"], values["child_age[2]"], values["youngest"]) == (9, 4, 4)
    assert name_of(runner, state) == "region"


def test_choice_filter_keeps_the_municipalities_of_the_region(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30", "-", "-", "no", "2"])
    prompt = runner.current(state, "sr-Latn", TODAY)
    assert prompt.choices == [("mitrovica_south", "Južna Mitrovica"), ("zvecan", "Zvečan")]
    assert runner.answer(state, "fushe_kosove", TODAY, "sq").error is not None
    assert runner.answer(state, "2", TODAY, "sq").state["values"]["municipality"] == "zvecan"


def test_select_multiple_toggles_then_done_and_checks_its_constraint(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30", "-", "-", "no", "1", "1"])
    assert runner.current(state, "sq", TODAY).kind == "select_multiple"
    state = runner.toggle(state, "work", TODAY)
    state = runner.toggle(state, "housing", TODAY)
    state = runner.toggle(state, "health", TODAY)
    state = runner.toggle(state, "health", TODAY)
    state = runner.toggle(state, "not-a-choice", TODAY)
    assert runner.current(state, "sq", TODAY).selected == ["housing", "work"]
    done = runner.done(state, TODAY, "sq")
    assert done.error is None and done.state["values"]["needs"] == ["housing", "work"]
    note = runner.current(done.state, "sq", TODAY)
    assert (note.kind, note.text) == ("note", "Keni zgjedhur: Strehim, Punë.")
    clash = runner.done(runner.toggle(runner.toggle(state, "none", TODAY), "work", TODAY), TODAY, "sr-Cyrl")
    assert clash.error == "Одговор Ништа не иде уз друге одговоре."
    typed = runner.answer(state, "3, 1", TODAY, "sq")
    assert typed.error is None and typed.state["values"]["needs"] == ["housing", "health"]
    assert runner.done(runner.start(), TODAY, "sq").error is not None


def test_range_is_a_bounded_number_and_feeds_a_score(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30", "-", "-", "no", "1", "1", "4"])
    prompt = runner.current(state, "sq", TODAY)
    assert (prompt.kind, prompt.minimum, prompt.maximum) == ("integer", 1, 5)
    assert prompt.text == "Si ndiheni sot?\nJu lutemi shkruani një numër nga 1 deri në 5."
    assert runner.answer(state, "7", TODAY, "sr-Cyrl").error == "Молимо унесите број од 1 до 5."
    state = runner.answer(state, "5", TODAY, "sq").state
    assert runner.scores(state) == {"score_wellbeing": 1.0}
    assert name_of(runner, state) == "phone"
    assert runner.answer(state, "call me", TODAY, "sq").error is not None
    state = runner.answer(state, "+383 44 123 456", TODAY, "sq").state
    assert runner.is_complete(state) and runner.current(state, "sq", TODAY) is None


def test_phone_is_not_asked_of_a_minor(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "16", "-", "-", "no", "-", "4", "-"])
    assert runner.is_complete(state)
    assert "phone" not in runner.values(state) and runner.values(state)["adult"] == "no"


def test_back_returns_to_the_previous_question_and_keeps_its_answer(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30"])
    assert runner.current(state, "sq", TODAY).can_back
    state = runner.back(state)
    assert name_of(runner, state) == "age" and state["values"]["age"] == 30
    assert name_of(runner, runner.back(runner.back(runner.back(state)))) == "welcome"


def test_changing_an_answer_after_going_back_drops_answers_no_longer_relevant(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30", "-", "-", "yes", "1", "5"])
    assert runner.values(state)["child_age[1]"] == 5
    for _ in range(3):
        state = runner.back(state)
    assert name_of(runner, state) == "has_children"
    state = runner.answer(state, "no", TODAY, "sq").state
    assert name_of(runner, state) == "region"
    values = runner.values(state)
    assert not any(key.startswith("child") for key in values) and values["youngest"] is None


def test_state_is_json_and_resumes_days_later_where_it_was(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30"])
    resumed = json.loads(json.dumps(state))
    later = date(2024, 5, 9)
    assert runner.current(resumed, "sq", later).name == "income"
    assert runner.answer(resumed, "10", later, "sq").error is None
    assert runner.progress(resumed) == (2, 9)


def test_stale_button_from_an_earlier_question_is_recognisable_by_index(runner: Runner) -> None:
    state = play(runner, [">", "Arta", "30", "-", "-"])
    earlier = runner.current(play(runner, [">"]), "sq", TODAY)
    now = runner.current(state, "sq", TODAY)
    assert earlier.index != now.index
    assert runner.answer(state, "not-a-choice-value", TODAY, "sq").error is not None


def test_a_state_that_is_not_the_runners_is_refused(runner: Runner) -> None:
    with pytest.raises(ValueError):
        runner.current({"pos": [0, 0]}, "sq", TODAY)


def test_unplayable_type_is_refused_at_load_naming_the_row() -> None:
    with pytest.raises(FormError) as caught:
        load_form(FORMS / "refused_geotrace.md")
    assert str(caught.value) == (
        "survey row 3: type 'geotrace' cannot be played: a line drawn on a map cannot be answered in a chat"
    )


def test_a_form_in_pyxforms_own_markdown_layout_loads_and_lacks_sq_and_sr() -> None:
    form = load_form(FORMS / "english_only.md")
    runner = Runner(form)
    assert runner.current(runner.start(), "sq", TODAY).text == "Are you ready?"
    assert check_form(form) == [
        "settings: the form has no Albanian (sq) columns (e.g. label::Albanian (sq))",
        "settings: the form has no Serbian (sr) columns (e.g. label::Serbian (sr))",
    ]


def test_expression_errors_name_the_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(
        "## survey\n\n| type | name | label | relevant |\n|---|---|---|---|\n"
        "| text | a | A | |\n| text | b | B | ${missing} = 1 |\n| text | c | C | instance('x')/root = 1 |\n"
    )
    with pytest.raises(FormError) as caught:
        load_form(bad)
    assert caught.value.row == 3


def test_check_reports_a_choice_list_too_long_for_a_keyboard_and_missing_translations(tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    choices = "\n".join(f"| many | c{i} | Zgjedhja {i} | Избор {i} |" for i in range(101))
    big.write_text(
        "## survey\n\n| type | name | label::Albanian (sq) | label::Serbian (sr) |\n|---|---|---|---|\n"
        "| select_one many | pick | Zgjidhni | |\n\n"
        "## choices\n\n| list_name | name | label::Albanian (sq) | label::Serbian (sr) |\n|---|---|---|---|\n"
        f"{choices}\n"
    )
    problems = check_form(load_form(big))
    assert problems == [
        "survey row 2: label::Serbian (sr) is empty for 'pick'",
        "survey row 2: 'pick' offers up to 101 choices; a chat shows 10 a screen, so add a choice_filter "
        "(a cascade) that leaves at most 100",
    ]
