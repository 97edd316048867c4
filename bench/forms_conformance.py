"""The runner's expressions against cases from ODK's engine test suites (JavaRosa, Enketo).

The cases live in ``tests/forms/xpath_conformance.json`` with their sources. Each is compiled as a
form's expression would be and evaluated against a small form holding the case's fields (a list
becomes the instances of a repeat). Prints the pass rate per function (or operator); a function
the runner refuses at load is listed as refused, not as failing.
Run: python -m bench.forms_conformance
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.forms.evaluation import KOSOVO, Evaluation
from bot.forms.model import Form, Node
from bot.forms.values import EvaluationError, to_num, to_str
from bot.forms.xpath import ExpressionError, compile_expression

CASES = Path(__file__).resolve().parents[1] / "tests" / "forms" / "xpath_conformance.json"
MOMENT = datetime(2024, 5, 1, 14, 30, tzinfo=KOSOVO)
_FUNCTION = re.compile(r"([a-z][a-z0-9-]*)\s*\(")
_OPERATOR = re.compile(r"\bmod\b|\bdiv\b|\band\b|\bor\b|!=|<=|>=|[=<>*+-]")


@dataclass(frozen=True)
class Case:
    source: str
    expression: str
    kind: str  # n s b d e r (see the data file)
    expected: Any
    fields: dict[str, Any]

    @property
    def function(self) -> str:
        """What the case exercises: its outermost function, else its first operator, else 'literal'."""
        match = _FUNCTION.search(self.expression)
        if match and match.group(1) not in ("div", "mod", "and", "or"):
            return match.group(1) + "()"
        operator = _OPERATOR.search(self.expression.strip().lstrip("-"))
        return operator.group(0) if operator else "literal"


def load_cases(path: Path = CASES) -> list[Case]:
    data = json.loads(path.read_text(encoding="utf-8"))
    cases = [Case(row[0], row[1], row[2], row[3], row[4] if len(row) > 4 else {}) for row in data["cases"]]
    for source, operators, left, right, expected in data["ops"]:
        for operator, outcome in zip(operators, expected, strict=True):
            cases.append(Case(source, f"{left} {operator} {right}", "b", outcome, {}))
    return cases


def _form(fields: dict[str, Any]) -> tuple[Form, dict[str, Any]]:
    nodes: list[Node] = []
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, list):
            repeat = len(nodes)
            nodes.append(
                Node(repeat, f"{name}_set", f"{name}_set", f"{name}_set", "repeat", "repeat", None, None, None)
            )
            nodes[repeat].repeat_count = compile_expression(str(len(value)))
            nodes.append(Node(repeat + 1, name, name, f"{name}_set/{name}", "text", "text", None, repeat, repeat))
            nodes[repeat].end = repeat + 2
            nodes[repeat + 1].end = repeat + 2
            values.update({f"{name}[{i}]": item for i, item in enumerate(value, start=1)})
        else:
            nodes.append(Node(len(nodes), name, name, name, "text", "text", None, None, None, end=len(nodes) + 1))
            if value != "":
                values[name] = value
    here = len(nodes)
    nodes.append(Node(here, "case", "case", "case", "calculate", "calculate", None, None, None, end=here + 1))
    form = Form("conformance", "conformance", "1", ["default"], "default", nodes, {}, {}, "conformance",
                by_name={n.name: n.index for n in nodes})  # fmt: skip
    return form, {"values": values, "seed": 1}


def outcome(case: Case) -> tuple[str, Any]:
    """('value', result) | ('error', kind) | ('refused', message) | ('crash', repr)."""
    form, state = _form(case.fields)
    try:
        expr = compile_expression(case.expression, set(form.by_name))
    except ExpressionError as err:
        return "refused", str(err)
    ev = Evaluation(form, state, MOMENT)
    try:
        return "value", ev.eval(expr, len(form.nodes) - 1, 0)
    except EvaluationError as err:
        return "error", str(err)
    except Exception as err:  # a crash is what this looks for
        return "crash", repr(err)


def _number(expected: Any) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(expected, expected)


def passes(case: Case) -> tuple[bool, str]:
    """Whether the runner gives the case's expected outcome, and what it gave."""
    status, result = outcome(case)
    if case.kind == "r":
        return status == "refused", status
    if case.kind == "e":
        return status == "error", status
    if status != "value":
        return False, f"{status}: {result}"
    if case.kind == "n":
        got, want = to_num(result), float(_number(case.expected))
        if math.isnan(want) or math.isinf(want):
            return (math.isnan(got) if math.isnan(want) else got == want), repr(got)
        return abs(got - want) <= 1e-12 * max(1.0, abs(want)), repr(got)
    if case.kind == "b":
        return isinstance(result, bool) and result == case.expected, repr(result)
    if case.kind == "d":
        return isinstance(result, date) and to_str(result) == case.expected, repr(result)
    return to_str(result) == case.expected, repr(to_str(result))


def report(cases: list[Case]) -> dict[str, dict[str, int]]:
    """Per function: cases, passed, refused at load (unsupported), crashed."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "passed": 0, "refused": 0, "crashed": 0})
    for case in cases:
        row = table[case.function]
        row["cases"] += 1
        status, _ = outcome(case)
        ok, _ = passes(case)
        row["passed"] += ok
        row["crashed"] += status == "crash"
        row["refused"] += status == "refused" and case.kind != "r"
    return dict(table)


def main() -> None:
    cases = load_cases()
    table = report(cases)
    print(f"{'function':<22} {'cases':>5} {'passed':>6} {'refused':>7} {'rate':>7}")
    for name in sorted(table):
        row = table[name]
        played = row["cases"] - row["refused"]
        rate = f"{100 * row['passed'] / played:.0f} %" if played else "refused"
        print(f"{name:<22} {row['cases']:>5} {row['passed']:>6} {row['refused']:>7} {rate:>7}")
    total = sum(r["cases"] for r in table.values())
    refused = sum(r["refused"] for r in table.values())
    passed = sum(r["passed"] for r in table.values())
    crashed = sum(r["crashed"] for r in table.values())
    print(f"{len(cases)} cases; {passed} of {total - refused} on supported functions pass; "
          f"{refused} refused at load (unsupported); {crashed} crashed")  # fmt: skip


if __name__ == "__main__":
    main()
