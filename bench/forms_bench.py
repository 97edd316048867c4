"""Benchmark of the chat form runner on a generated 300-question form.

Measures (1) loading and checking the form against pyxform's own parse of the same file, and
(2) the time to process one answer (``answer`` then ``current``, as the engine does per turn)
against the JSON round trip of the same state that the engine stores every turn anyway.
Run: python -m bench.forms_bench [--questions 300] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from pyxform.xls2json import workbook_to_json
from pyxform.xls2json_backends import get_xlsform

from bot.forms import Runner, check_form, load_form
from bot.forms.loading import to_pyxform_markdown

TODAY = date(2024, 5, 1)
SQ, SR = "label::Albanian (sq)", "label::Serbian (sr)"


def generate(questions: int) -> str:
    """A form with groups of ten: integers with constraints, choices with relevance, calculates."""
    survey = [f"| type | name | {SQ} | {SR} | relevant | constraint | calculation | choice_filter |"]
    survey.append("|---|---|---|---|---|---|---|---|")

    def row(kind: str, name: str, label: str = "", relevant: str = "", rule: str = "", calc: str = "") -> None:
        labels = f"{label} {name[1:]} | {label and 'Питање'} {name[1:]}" if label else " | "
        cascade = "region = 'north'" if kind == "select_one town" else ""
        survey.append(f"| {kind} | {name} | {labels} | {relevant} | {rule} | {calc} | {cascade} |")

    for number in range(questions):
        if number % 10 == 0:
            if number:
                survey.append("| end_group | | | | | | | |")
            row("begin_group", f"g{number // 10}", "Pjesa")
        kind = ["integer", "select_one yn", "select_multiple needs", "text", "select_one town"][number % 5]
        relevant = f"${{q{number - 1}}} >= 0" if number % 5 == 1 else ""
        rule = ". >= 0 and . <= 100" if number % 5 == 0 else ""
        label = f"Pyetja, ${{q{number - 3}}}" if number % 5 == 3 else "Pyetja"
        row(kind, f"q{number}", label, relevant, rule)
        if number % 10 == 9:
            sources = " + ".join(f"coalesce(${{q{i}}}, 0)" for i in range(number - 9, number + 1, 5))
            row("calculate", f"score_{number // 10}", calc=f"({sources}) div 200")
    survey.append("| end_group | | | | | | | |")
    choices = [f"| list_name | name | {SQ} | {SR} | region |", "|---|---|---|---|---|"]
    choices += ["| yn | yes | Po | Да | |", "| yn | no | Jo | Не | |"]
    choices += [f"| needs | n{i} | Nevoja {i} | Потреба {i} | |" for i in range(6)]
    choices += [f"| town | t{i} | Qyteti {i} | Град {i} | {'north' if i % 2 else 'south'} |" for i in range(20)]
    return "## survey\n\n" + "\n".join(survey) + "\n\n## choices\n\n" + "\n".join(choices) + "\n"


def timed(action: object, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.md"
        path.write_text(generate(args.questions), encoding="utf-8")
        markdown = to_pyxform_markdown(path.read_text(encoding="utf-8")).encode()

        def pyxform_only() -> None:
            workbook_to_json(get_xlsform(markdown, ".md"), fallback_form_name="bench", warnings=[])

        def ours() -> None:
            check_form(load_form(path))

        baseline = timed(pyxform_only, args.runs)
        loading = timed(ours, args.runs)
        form = load_form(path)
    print(f"form: {len(form.questions)} questions, {len(form.nodes)} nodes")
    print(f"load + check: {loading * 1000:.1f} ms; pyxform parse alone: {baseline * 1000:.1f} ms", end="; ")
    print(f"ratio {loading / baseline:.2f}")

    runner = Runner(form)
    state = runner.start()
    per_answer: list[float] = []
    per_roundtrip: list[float] = []
    answers = {"integer": "42", "select_one": "1", "select_multiple": "1, 3", "text": "abc"}
    while (prompt := runner.current(state, "sq", TODAY)) is not None:
        raw = answers[prompt.kind]
        start = time.perf_counter()
        result = runner.answer(state, raw, TODAY, "sq")
        runner.current(result.state, "sq", TODAY)
        per_answer.append(time.perf_counter() - start)
        assert result.error is None, (prompt.name, result.error)
        state = result.state
        start = time.perf_counter()
        json.loads(json.dumps(state))
        per_roundtrip.append(time.perf_counter() - start)
    p95 = statistics.quantiles(per_answer, n=20)[-1]
    median, base = statistics.median(per_answer), statistics.median(per_roundtrip)
    print(f"per answer ({len(per_answer)} answers): median {median * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms")
    print(f"JSON round trip of the state: median {base * 1000:.3f} ms; ratio {median / base:.1f}")
    print(f"scores: {sum(1 for v in runner.scores(state).values() if v is not None)} computed")


if __name__ == "__main__":
    main()
