"""ODK XPath semantics the runner relies on: empty answers, dates, selections, repeats, functions."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest

from bot.forms.values import PURE, arithmetic, compare, to_num, to_str
from bot.forms.xpath import ExpressionError, compile_expression


def test_references_become_variables_and_bare_names_only_in_choice_filters() -> None:
    expr = compile_expression("${a-b} - ${c} > 1")
    assert expr.refs == {"a-b", "c"}
    assert expr.tree == ("op", ">", ("op", "-", ("var", "a-b"), ("var", "c")), ("lit", 1.0))
    assert compile_expression("country = ${c}", columns=True).tree[2] == ("col", "country")
    with pytest.raises(ExpressionError):
        compile_expression("country = ${c}")


@pytest.mark.parametrize(
    "source",
    ["instance('x')/root/item[id=1]/id", "foo(1)", "${a} | ${b}", "position(${a})", "", "concat(1,"],
)
def test_what_a_chat_cannot_evaluate_is_refused(source: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(source)


def test_unknown_field_is_refused_when_fields_are_known() -> None:
    with pytest.raises(ExpressionError, match="does not name a field"):
        compile_expression("${nope} = 1", known={"yes"})


@pytest.mark.parametrize(
    ("symbol", "left", "right", "expected"),
    [
        (">", "", 3.0, False),
        ("<", "", 3.0, False),
        ("=", "", "", True),
        ("=", "5", 5.0, True),
        ("!=", "NaN", "NaN", False),
        (">", date(2024, 3, 1), "2024-02-01", True),
        ("=", ["1", "2"], "2", True),
        ("=", True, "x", True),
    ],
)
def test_comparisons_follow_xpath_one(symbol: str, left: Any, right: Any, expected: bool) -> None:
    assert compare(symbol, left, right) is expected


def test_dates_subtract_to_days_and_empty_is_nan() -> None:
    assert arithmetic("-", "2024-03-01", date(2024, 2, 1)) == 29.0
    assert math.isnan(arithmetic("+", "", 1.0))
    assert to_str(arithmetic("div", 1.0, 0.0)) == "Infinity"
    assert arithmetic("mod", 7.0, 3.0) == 1.0
    assert to_num(" 4 ") == 4.0 and to_str(3.0) == "3" and to_str(math.nan) == "NaN"


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("selected", ("a b", "b"), True),
        ("selected", ("ab", "a"), False),
        ("count-selected", ("a b c",), 3.0),
        ("regex", ("ABC-123", "^[A-Z]{3}-[0-9]+$"), True),
        ("int", (-7.9,), -7.0),
        ("round", (2.345, 2.0), 2.35),
        ("round", (2.5,), 3.0),
        ("coalesce", ("", "x"), "x"),
        ("concat", ("a", 1.0, ["b", "c"]), "a1bc"),
        ("substr", ("ABCDEF", 0.0, 3.0), "ABC"),
        ("format-date", ("2024-05-01", "%Y/%m/%e"), "2024/05/1"),
        ("sum", (["1", "", "2"],), 3.0),
        ("min", (["4", "9"],), 4.0),
        ("date", ("2024-05-01",), date(2024, 5, 1)),
        ("decimal-date-time", ("1970-01-11",), 10.0),
    ],
)
def test_odk_functions(name: str, args: tuple[Any, ...], expected: Any) -> None:
    assert PURE[name](*args) == expected
