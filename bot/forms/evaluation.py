"""Evaluating a form's expressions against the answers given so far, as ODK would.

One ``Evaluation`` serves one step of the runner: it reads answers from the state, computes
``calculate`` fields on demand (so their order on the sheet does not matter), remembers what it
computed, and treats a field that is not relevant as empty, which is what ODK submits.
A position is ``(node index, repeat instance)``; the instance is 0 outside repeats. Inside a repeat
within a repeat the instance numbers of both levels are kept in one number, outer × 1000 + inner
(``chain`` reads them back), so answers are keyed ``name[2][3]``.
"""

from __future__ import annotations

import logging
import math
import random
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.forms.model import Form, Node
from bot.forms.values import PURE, EvaluationError, arithmetic, compare, to_bool, to_datetime, to_num, to_str
from bot.forms.xpath import Expr

MAX_REPEAT = 50  # a chat will not ask about more instances than this
MAX_ADDED = 20  # instances a person can add to a repeat without repeat_count ("add another?")
KOSOVO = ZoneInfo("Europe/Belgrade")  # the project's time zone: Kosovo keeps Central European time
MAX_PROBLEMS = 20  # evaluation problems kept per submission for the form's owner
log = logging.getLogger("homeward.forms")
_LOGGED: set[tuple[str, str, str, str]] = set()  # failures already logged by this process (once is enough)

# What an expression that fails gives instead, per place it stands: the question is skipped
# (relevant), not required, its answer accepted (constraint), empty (calculation), no instances.
FALLBACK: dict[str, Any] = {"relevant": False, "required": False, "constraint": True, "calculation": "",
                            "repeat_count": 0.0, "choice_filter": True, "default": "", "label": ""}  # fmt: skip


def moment_of(when: date | None) -> datetime:
    """The moment an expression's now() sees: the clock's moment in Kosovo time, or the real time that day."""
    if isinstance(when, datetime):
        return when.astimezone(KOSOVO) if when.tzinfo is not None else when.replace(tzinfo=KOSOVO)
    current = datetime.now(KOSOVO)
    if when is None or when == current.date():
        return current
    return current.replace(year=when.year, month=when.month, day=when.day)


def _stored(kind: str, value: Any) -> Any:
    """A computed default as the answer it stands for: '' is no answer, numbers and dates as typed."""
    text = to_str(value)
    if text in ("", "NaN"):
        return None
    if kind == "date":
        day = to_datetime(value)
        return day.date().isoformat() if day else None
    if kind in ("integer", "decimal"):
        number = to_num(text)
        if math.isnan(number) or math.isinf(number):
            return None
        return int(number) if kind == "integer" else number
    if kind == "select_multiple":
        return text.split()
    return text


BASE = 1000  # instance numbers of a nested repeat: outer * BASE + inner


def chain(instance: int) -> list[int]:
    """The instance numbers, outermost first, that one instance number holds."""
    out: list[int] = []
    while instance:
        instance, number = divmod(instance, BASE)
        out.append(number)
    return out[::-1]


def value_key(node: Node, instance: int) -> str:
    return node.key if instance == 0 else node.key + "".join(f"[{n}]" for n in chain(instance))


def repeats_around(form: Form) -> list[tuple[int, ...]]:
    """For each node, the repeats around it, outermost first (a repeat node is not around itself)."""
    if len(form.enclosing) != len(form.nodes):
        found: list[tuple[int, ...]] = []
        for node in form.nodes:
            outer: list[int] = []
            at = node.repeat
            while at is not None:
                outer.append(at)
                at = form.nodes[at].repeat
            found.append(tuple(reversed(outer)))
        form.enclosing = found
    return form.enclosing


class Evaluation:
    def __init__(self, form: Form, state: dict[str, Any], today: date | None) -> None:
        self.form = form
        self.state = state
        self.answers: dict[str, Any] = state.setdefault("values", {})
        if today is None and state.get("end"):
            today = to_datetime(state["end"])  # answers read back later see the moment of the last answer
        if today is None and state.get("today"):
            today = date.fromisoformat(state["today"])
        self.now = moment_of(today)
        self.locale = ""
        self.today = self.now.date()
        self.around = repeats_around(form)
        self._calc: dict[tuple[int, int], Any] = {}
        self._relevant: dict[tuple[int, int], bool] = {}
        self._busy: set[tuple[int, int]] = set()

    # -- answers and fields -------------------------------------------------------------
    def raw(self, node: Node, instance: int) -> Any:
        return self.answers.get(value_key(node, instance))

    def field(self, index: int, instance: int) -> Any:
        """A field's value as an expression sees it ('' when unanswered or not relevant)."""
        node = self.form.nodes[index]
        if not self.relevant(index, instance):
            return ""
        if node.kind == "repeat":
            return [float(i) for i in range(1, self.repeat_count(index, instance) + 1)]
        if node.kind == "calculate" or (node.kind == "meta" and node.calculation is not None):
            return self.calculated(index, instance)
        if node.kind == "meta":
            if node.type == "today":
                return self.today
            if node.type in ("start", "end"):
                return self.state.get(node.type) or ""
            return self.state.get("meta", {}).get(node.type, "")
        value = self.raw(node, instance)
        if value is None:
            value = self.default(index, instance)
            if value is None:
                return ""
        if isinstance(value, list):
            return " ".join(value)
        if node.kind == "date":
            return date.fromisoformat(value)
        if node.kind == "datetime":
            return to_datetime(value) or value
        if isinstance(value, int | float):
            return float(value)
        return value

    def default(self, index: int, instance: int) -> Any:
        """The answer a question holds before the person gives one: its default, fixed or computed."""
        node = self.form.nodes[index]
        if node.default is not None:
            return _stored(node.kind, node.default)
        if node.default_expr is None:
            return None
        position = (index, -instance - 1)
        if position not in self._calc:
            if position in self._busy:
                return None
            self._busy.add(position)
            try:
                value = self.safe(node.default_expr, index, instance, "default")
            finally:
                self._busy.discard(position)
            self._calc[position] = _stored(node.kind, value)
        return self._calc[position]

    def calculated(self, index: int, instance: int) -> Any:
        position = (index, instance)
        if position in self._calc:
            return self._calc[position]
        node = self.form.nodes[index]
        if position in self._busy or node.calculation is None:
            return ""
        self._busy.add(position)
        try:
            result = to_str(self.safe(node.calculation, index, instance, "calculation"))
        finally:
            self._busy.discard(position)
        self._calc[position] = result
        return result

    def relevant(self, index: int, instance: int) -> bool:
        position = (index, instance)
        if position not in self._relevant:
            node = self.form.nodes[index]
            own = node.relevant is None or to_bool(self.safe(node.relevant, index, instance, "relevant"))
            parent = node.parent
            if own and parent is not None:
                own = self.relevant(parent, self.at(parent, instance))
            if (
                own
                and node.repeat is not None
                and instance % BASE > self.repeat_count(node.repeat, self.at(node.repeat, instance))
            ):
                own = False
            self._relevant[position] = own
        return self._relevant[position]

    def at(self, index: int, instance: int) -> int:
        """``instance`` (of a node at least as deep) cut to the repeats around node ``index``."""
        extra = len(chain(instance)) - len(self.around[index])
        return instance // BASE**extra if extra > 0 else instance

    def repeat_count(self, index: int, at: int = 0) -> int:
        """How many instances repeat ``index`` has, within instance ``at`` of the repeats around it."""
        node = self.form.nodes[index]
        if not self.relevant(index, at):
            return 0
        if node.repeat_count is None:  # as many as the person added: one to begin with
            return int(self.state.get("repeats", {}).get(value_key(node, at), [1, False])[0])
        count = to_num(self.safe(node.repeat_count, index, at, "repeat_count"))
        return 0 if math.isnan(count) else max(0, min(MAX_REPEAT, int(count)))

    def required(self, index: int, instance: int) -> bool:
        rule = self.form.nodes[index].required
        if isinstance(rule, bool):
            return rule
        return to_bool(self.safe(rule, index, instance, "required"))

    # -- expressions --------------------------------------------------------------------
    def safe(
        self, expr: Expr, index: int, instance: int, part: str, dot: Any = None, row: dict[str, str] | None = None
    ) -> Any:
        """``eval``, but a failing expression gives the place's fallback and is recorded for the form's owner."""
        try:
            return self.eval(expr, index, instance, dot, row)
        except (EvaluationError, ArithmeticError, ValueError, TypeError, KeyError, IndexError, RecursionError) as err:
            self.record(index, part, err)
            return FALLBACK[part]

    def record(self, index: int, part: str, err: BaseException) -> None:
        """Keep a failed expression in the state (for the console and the CLI) and log it without values."""
        node = self.form.nodes[index]
        kind = type(err).__name__
        problems: list[dict[str, Any]] = self.state.setdefault("problems", [])
        entry = {"field": node.name, "row": node.row, "part": part, "error": kind}
        if entry in problems or len(problems) >= MAX_PROBLEMS:
            return
        problems.append(entry)
        logged = (self.form.form_id, node.name, part, kind)
        if logged in _LOGGED:
            return
        if len(_LOGGED) > 10_000:
            _LOGGED.clear()
        _LOGGED.add(logged)
        log.warning("form expression failed", extra={"form": self.form.form_id, "field": node.name, "row": node.row,
                                                      "part": part, "error": kind})  # fmt: skip

    def eval(self, expr: Expr, index: int, instance: int, dot: Any = None, row: dict[str, str] | None = None) -> Any:
        return self._node(expr.tree, index, instance, dot, row)

    def _node(self, tree: tuple[Any, ...], index: int, instance: int, dot: Any, row: dict[str, str] | None) -> Any:
        tag = tree[0]
        if tag == "lit":
            return tree[1]
        if tag == "var":
            return self._reference(tree[1], index, instance)
        if tag == "ctx":
            return dot if dot is not None else self.field(index, instance)
        if tag == "col":
            return (row or {}).get(tree[1], "")
        if tag == "neg":
            return -to_num(self._node(tree[1], index, instance, dot, row))
        if tag == "op":
            symbol = tree[1]
            left = self._node(tree[2], index, instance, dot, row)
            if symbol == "and":
                return to_bool(left) and to_bool(self._node(tree[3], index, instance, dot, row))
            if symbol == "or":
                return to_bool(left) or to_bool(self._node(tree[3], index, instance, dot, row))
            right = self._node(tree[3], index, instance, dot, row)
            if symbol in ("=", "!=", "<", "<=", ">", ">="):
                return compare(symbol, left, right)
            return arithmetic(symbol, left, right)
        if tag == "parent":
            return float(instance % BASE)
        return self._call(tree[1], tree[2], index, instance, dot, row)

    def _call(self, name: str, args: tuple[Any, ...], index: int, instance: int, dot: Any, row: Any) -> Any:
        if name == "if":
            chosen = args[1] if to_bool(self._node(args[0], index, instance, dot, row)) else args[2]
            return self._node(chosen, index, instance, dot, row)
        if name == "position":
            return float(instance % BASE)
        if name == "today":
            return self.today
        if name == "now":
            return self.now
        if name == "choice-name":
            return self._choice_name(self._node(args[0], index, instance, dot, row), args[1][1])
        if name == "indexed-repeat":
            target = self.form.by_name[args[0][1]]
            number = to_num(self._node(args[2], index, instance, dot, row))
            if math.isnan(number) or int(number) < 1:
                return ""
            outer = len(self.around[target]) - 1
            prefix = self.at(index, instance) // BASE ** max(0, len(self.around[index]) - outer) if outer else 0
            return self.field(target, prefix * BASE + int(number))
        if name == "once":
            return self._once(args[0], index, instance, dot, row)
        if name == "uuid":  # fixed per submission and place, so reading the answers again gives the same one
            draw = random.Random(f"{self.state.get('seed', 0)}:uuid:{index}:{instance}")
            size = self._node(args[0], index, instance, dot, row) if args else None
            return PURE["uuid"](*([] if size is None else [size]), source=draw)
        if name == "random":
            seed = f"{self.state.get('seed', 0)}:{index}:{instance}"
            return random.Random(seed).random()
        values = [self._node(arg, index, instance, dot, row) for arg in args]
        if not values and name in ("string-length", "normalize-space", "number", "string"):
            values = [dot if dot is not None else self.field(index, instance)]
        if name == "string-length":
            return float(len(to_str(values[0])))
        if name == "normalize-space":
            return " ".join(to_str(values[0]).split())
        if name == "number":
            return to_num(values[0])
        if name == "string":
            return to_str(values[0])
        return PURE[name](*values)

    def _choice_name(self, value: Any, field: str) -> str:
        target = self.form.nodes[self.form.by_name[field]]
        locale = self.locale
        wanted = to_str(value)
        for choice in self.form.choices.get(target.list_name or "", []):
            if choice.value == wanted:
                return self.form.text(choice.labels, locale)
        return ""

    def _once(self, tree: tuple[Any, ...], index: int, instance: int, dot: Any, row: Any) -> Any:
        key = value_key(self.form.nodes[index], instance)
        kept: dict[str, Any] = self.state.setdefault("once", {})
        if key not in kept:
            kept[key] = to_str(self._node(tree, index, instance, dot, row))
        return kept[key]

    def _reference(self, name: str, index: int, instance: int) -> Any:
        target = self.form.by_name[name]
        theirs, ours = self.around[target], self.around[index]
        if not theirs:
            return self.field(target, 0)
        shared = 0
        while shared < min(len(theirs), len(ours)) and theirs[shared] == ours[shared]:
            shared += 1
        prefix = instance // BASE ** (len(chain(instance)) - shared) if shared else 0
        if shared == len(theirs):  # the same instance as here, or the one around here
            return self.field(target, prefix)
        return [self.field(target, i) for i in self.instances(theirs[shared:], prefix)]

    def instances(self, repeats: tuple[int, ...], prefix: int = 0) -> list[int]:
        """Every instance number of the nested ``repeats``, within instance ``prefix`` of those around them."""
        found = [prefix]
        for repeat in repeats:
            found = [p * BASE + k for p in found for k in range(1, self.repeat_count(repeat, p) + 1)]
        return found
