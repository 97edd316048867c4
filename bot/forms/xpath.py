"""ODK XPath expressions of a form, parsed by elementpath and compiled to a small tree.

elementpath does the parsing (tokens, precedence, literals, ``div``/``mod``, names with hyphens):
a subclass of its XPath 1.0 parser knows the ODK function names. Evaluation is ours, in
``evaluation.py``, because ODK semantics differ from plain XPath 1.0 where real forms lean on
them: an empty answer compares as NaN instead of raising, dates subtract to a number of days,
``if()`` and ``selected()`` are functions, ``position(..)`` names the current repeat instance,
and bare names in a ``choice_filter`` are columns of the choices sheet. XPath 1.0 in elementpath
cannot register extension functions for evaluation, so we compile its token tree to tuples:

    ("lit", value) ("var", name) ("ctx",) ("parent",) ("col", name) ("neg", a)
    ("op", symbol, a, b) ("fn", name, (args…))

Anything else (paths such as ``instance('x')/root/item``, unknown functions, unions of paths)
is refused when the form loads, so a form never fails half-way through a chat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from elementpath import XPath1Parser
from elementpath.exceptions import ElementPathError

# name -> (minimum, maximum) number of arguments; None = any number.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "selected": (2, 2), "count-selected": (1, 1), "selected-at": (2, 2), "if": (3, 3),
    "not": (1, 1), "true": (0, 0), "false": (0, 0), "boolean": (1, 1),
    "boolean-from-string": (1, 1), "string-length": (0, 1), "concat": (0, None), "join": (2, None),
    "regex": (2, 2), "int": (1, 1), "number": (0, 1), "string": (0, 1), "coalesce": (2, 2),
    "today": (0, 0), "now": (0, 0), "date": (1, 1), "date-time": (1, 1), "decimal-date-time": (1, 1),
    "decimal-date": (1, 1), "format-date": (2, 2), "format-date-time": (2, 2), "round": (1, 2),
    "floor": (1, 1), "ceiling": (1, 1), "abs": (1, 1), "pow": (2, 2), "sqrt": (1, 1), "exp": (1, 1),
    "log": (1, 1), "log10": (1, 1), "sin": (1, 1), "cos": (1, 1), "tan": (1, 1), "asin": (1, 1),
    "acos": (1, 1), "atan": (1, 1), "atan2": (2, 2), "pi": (0, 0), "sum": (1, 1), "count": (1, 1),
    "min": (1, None), "max": (1, None), "contains": (2, 2), "starts-with": (2, 2), "ends-with": (2, 2),
    "substr": (2, 3), "substring": (2, 3), "substring-before": (2, 2), "substring-after": (2, 2),
    "translate": (3, 3), "normalize-space": (0, 1), "once": (1, 1), "random": (0, 0),
    "indexed-repeat": (3, 3), "position": (0, 1), "count-non-empty": (1, 1), "uuid": (0, 1),
    "choice-name": (2, 2), "exp10": (1, 1), "decimal-time": (1, 1), "checklist": (2, None),
    "weighted-checklist": (3, None), "digest": (2, 3),
}  # fmt: skip

_REF = re.compile(r"\$\{([^}]*)\}")
_CHOICE_NAME = re.compile(r"\bjr:choice-name\s*\(")
_UNKNOWN = re.compile(r"unknown function '([^']+)'")
_QUOTED_VAR = re.compile(r"^\s*\$v(\d+)\s*$")
_LITERALS = re.compile(r"""('[^']*'|"[^"]*")""")
_GLUED = re.compile(r"(?<=[\d.)])(div|mod)(?=[\d.(]|\s|$)|(?<![\w-])(div|mod)(?=[\d.(])")
_BINARY = {"+", "-", "*", "div", "mod", "=", "!=", "<", "<=", ">", ">=", "and", "or"}


class _OdkParser(XPath1Parser):
    """XPath 1.0 grammar with every ODK function name registered, for parsing only."""

    def parse(self, source: str) -> Any:
        # Only the grammar: elementpath's static evaluation would fold constants with plain
        # XPath semantics ('abc' < 'abcd' raising, 5 mod 0 raising) where ODK gives NaN or false.
        if self.tokenizer is None:
            self.tokenizer = self.create_tokenizer(self.symbol_table)
        return super(XPath1Parser, self).parse(source)


def _never_evaluated(self: Any, context: Any = None) -> Any:
    # The parser folds constant sub-expressions; refusing makes it keep the token.
    raise self.missing_context()


# XPath 1.0 comparisons chain (3 < 4 < 5) and '<' binds tighter than '=' (-3 < 3 = 6 >= 6).
for _symbol, _bp in (("=", 28), ("!=", 28), ("<", 30), (">", 30), ("<=", 30), (">=", 30)):
    _OdkParser.symbol_table.pop(_symbol, None)
    _OdkParser.infix(_symbol, bp=_bp)

for _name in FUNCTIONS:
    _OdkParser.symbol_table.pop(_name, None)
    _OdkParser.function(_name, nargs=(0, None)).evaluate = _never_evaluated  # type: ignore[method-assign]


class ExpressionError(ValueError):
    """An expression the runner cannot play; the message says why, the loader adds the row."""


@dataclass(frozen=True, slots=True)
class Expr:
    """One compiled expression: its source text, its tree and the fields it reads."""

    source: str
    tree: tuple[Any, ...]
    refs: frozenset[str]


def compile_expression(source: str, known: set[str] | None = None, *, columns: bool = False) -> Expr:
    """Parse ``source`` (with ``${field}`` references) into an Expr; ``columns`` allows bare names."""
    names: list[str] = []

    def to_var(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if known is not None and name not in known:
            raise ExpressionError(f"${{{name}}} does not name a field of this form")
        names.append(name)
        return f" $v{len(names) - 1} "

    text = _REF.sub(to_var, source.replace("\u2019", "'").replace("\u2018", "'")).strip()
    text = _CHOICE_NAME.sub("choice-name(", text)
    text = "".join(
        part if part[:1] in ("'", '"') else _GLUED.sub(lambda m: f" {m.group(m.lastindex or 0)} ", part)
        for part in _LITERALS.split(text)
    )
    if not text:
        raise ExpressionError("the expression is empty")
    try:
        token = _OdkParser().parse(text)
    except ElementPathError as err:
        unknown = _UNKNOWN.search(err.message)
        if unknown:
            raise ExpressionError(
                f"{source!r}: the function {unknown.group(1)}() is not one a chat can play; "
                "use one of the XLSForm functions listed in the README"
            ) from err
        raise ExpressionError(f"cannot read the expression {source!r} ({err.message})") from err
    except RecursionError as err:  # pragma: no cover - elementpath guards its own depth
        raise ExpressionError(f"the expression {source!r} is too deeply nested") from err
    return Expr(source=source, tree=_tree(token, names, source, columns), refs=frozenset(names))


def _tree(token: Any, names: list[str], source: str, columns: bool) -> tuple[Any, ...]:
    symbol = token.symbol
    children = [_tree(child, names, source, columns) for child in token] if symbol != "$" else []
    if symbol in ("(string)", "(integer)", "(decimal)", "(float)"):
        value = token.value
        return ("lit", value if isinstance(value, str) else float(value))
    if symbol == "$":
        return ("var", names[int(token[0].value[1:])])
    if symbol == ".":
        return ("ctx",)
    if symbol == "..":
        return ("parent",)
    if symbol == "(name)":
        if columns or token.value == "null":
            return ("col", token.value)
        raise ExpressionError(f"{source!r}: the bare name {token.value!r} is not a ${{field}} reference")
    if symbol == "(" and len(children) == 1:
        return children[0]
    if symbol == "-" and len(children) == 1:
        return ("neg", children[0])
    if symbol == "+" and len(children) == 1:
        return children[0]
    if symbol in _BINARY and len(children) == 2:
        return ("op", symbol, children[0], children[1])
    if token.label == "function" and symbol in FUNCTIONS:
        low, high = FUNCTIONS[symbol]
        if len(children) < low or (high is not None and len(children) > high):
            raise ExpressionError(f"{source!r}: {symbol}() does not take {len(children)} argument(s)")
        if symbol == "position" and children and children[0] != ("parent",):
            raise ExpressionError(f"{source!r}: only position(..) is supported")
        if symbol == "choice-name":
            quoted = (
                _QUOTED_VAR.match(children[1][1])
                if children[1][0] == "lit" and isinstance(children[1][1], str)
                else None
            )
            if quoted is None:
                raise ExpressionError(f"{source!r}: jr:choice-name() needs the field as '${{field}}' in quotes")
            children[1] = ("lit", names[int(quoted.group(1))])
        if symbol == "indexed-repeat" and (children[0][0] != "var" or children[1][0] != "var"):
            raise ExpressionError(f"{source!r}: indexed-repeat() needs ${{field}} and ${{repeat}}")
        return ("fn", symbol, tuple(children))
    raise ExpressionError(f"{source!r}: {symbol!r} cannot be evaluated in a chat")
