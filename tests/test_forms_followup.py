"""The RSS-based reintegration follow-up form: complete in both languages, scored 0–1 from its own rows."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import pytest

from bot.forms import Runner, check_form, load_form
from bot.forms.commands import add_commands

FOLLOWUP = Path(__file__).resolve().parents[1] / "content" / "forms" / "reintegration_followup.md"
TODAY = date(2024, 9, 1)
ECONOMIC = ["e_situation", "e_food", "e_borrow", "e_debt", "e_work"]


@pytest.fixture(scope="module")
def runner() -> Runner:
    return Runner(load_form(FOLLOWUP))


def answer_all(runner: Runner, answers: dict[str, str]) -> dict[str, object]:
    """Answer by name; a field not named gets "prefer not to say" when offered, else is skipped."""
    state = runner.start()
    while (prompt := runner.current(state, "sq", TODAY)) is not None:
        if prompt.kind == "note":
            state = runner.next(state, TODAY)
            continue
        raw = answers.get(prompt.name, "ref" if any(v == "ref" for v, _ in prompt.choices) else "")
        result = runner.answer(state, raw, TODAY, "sq")
        assert result.error is None, (prompt.name, raw, result.error)
        state = result.state
    return state


def test_form_is_rss_based_provisional_and_complete_in_sq_and_sr(runner: Runner) -> None:
    form = runner.form
    assert check_form(form) == []
    assert 15 <= len(form.questions) <= 25
    assert "adapted from IOM's RSS; questions and weights provisional" in form.title
    assert {n.name for n in form.nodes if n.kind == "group"} == {"economic", "social", "psychosocial"}
    intro = runner.current(runner.start(), "sr-Latn", TODAY)
    assert intro is not None and "privremeni" in intro.text


def test_best_answers_score_one_and_worst_score_zero(runner: Runner) -> None:
    best = {"e_situation": "5", "e_food": "5", "e_borrow": "yes", "e_debt": "no", "e_work": "5",
            "s_housing": "5", "s_documents": "yes", "s_school": "yes", "s_water": "yes", "s_health": "5",
            "s_services": "5", "p_activities": "5", "p_support": "yes", "p_belonging": "5",
            "p_discrimination": "no", "p_safety": "5", "p_distress": "5", "p_stay": "yes"}  # fmt: skip
    worst = {k: {"5": "1", "yes": "no", "no": "yes"}[v] for k, v in best.items()}
    assert runner.scores(answer_all(runner, best)) == {
        "score_economic": 1.0, "score_social": 1.0, "score_psychosocial": 1.0, "score_composite": 1.0,
    }  # fmt: skip
    assert runner.scores(answer_all(runner, worst)) == {
        "score_economic": 0.0, "score_social": 0.0, "score_psychosocial": 0.0, "score_composite": 0.0,
    }  # fmt: skip


def test_dont_know_and_prefer_not_to_say_are_missing_not_zero(runner: Runner) -> None:
    answers = {"e_situation": "4", "e_food": "dk", "e_borrow": "ref", "e_debt": "yes", "e_work": "3",
               "s_school": "na", "s_water": "yes"}  # fmt: skip
    scores = runner.scores(answer_all(runner, answers))
    # economic: (0.75 + 0 + 0.5) / 3 answered; social: water only; psychosocial: nothing answered.
    assert scores["score_economic"] == pytest.approx(1.25 / 3)
    assert scores["score_social"] == 1.0
    assert scores["score_psychosocial"] is None
    assert scores["score_composite"] == pytest.approx((1.25 / 3 + 1.0) / 2)


def test_nothing_answered_gives_no_scores(runner: Runner) -> None:
    assert set(runner.scores(answer_all(runner, {})).values()) == {None}


def test_distress_note_shows_only_when_distress_is_frequent(runner: Runner) -> None:
    state = runner.start()
    seen: list[str] = []
    while (prompt := runner.current(state, "sq", TODAY)) is not None:
        seen.append(prompt.name)
        if prompt.kind == "note":
            state = runner.next(state, TODAY)
            continue
        raw = "1" if prompt.name == "p_distress" else ("ref" if prompt.choices else "")
        state = runner.answer(state, raw, TODAY, "sq").state
    assert "p_distress_help" in seen


def test_household_size_out_of_range_gets_the_forms_message(runner: Runner) -> None:
    state = runner.next(runner.start(), TODAY)
    result = runner.answer(state, "0", TODAY, "sr-Cyrl")
    assert result.error == "Молимо унесите број од 1 до 30."


def test_forms_check_command(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="homeward")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["forms", "check", str(FOLLOWUP)])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == "21 questions, 10 choice lists, languages sq, sr: playable in chat"
    refused = Path(__file__).resolve().parent / "forms" / "refused_geotrace.md"
    args = parser.parse_args(["forms", "check", str(refused)])
    assert args.func(args) == 1
    assert "survey row 3: type 'geotrace'" in capsys.readouterr().err
    english = Path(__file__).resolve().parent / "forms" / "english_only.md"
    args = parser.parse_args(["forms", "check", str(english)])
    assert args.func(args) == 1
    assert "no Albanian (sq) columns" in capsys.readouterr().err
