"""Playing a loaded form in a chat, one question at a time, on a JSON state the caller keeps.

The state is a plain dict (answers, the position, the way back), so a conversation can pause for
days and resume exactly where it was. Every call takes a state and returns a new one; nothing is
kept in the runner. A position is ``[node index, repeat instance]``; the stored position is where
the search for the next question starts, so a question that stopped being relevant after the
person went back and changed an answer is passed over.

    start ─▶ current ─▶ answer / toggle+done / skip / next ─▶ current … ─▶ None (complete)
                 ▲                         │
                 └──────── back ◀──────────┘
"""

from __future__ import annotations

import copy
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.forms import answers
from bot.forms.evaluation import BASE, MAX_ADDED, Evaluation, chain, moment_of, value_key
from bot.forms.messages import message
from bot.forms.model import Form, Node
from bot.forms.prompts import Prompt, choice_label, form_text, localise, options, render, shown
from bot.forms.values import iso_moment, to_bool

STATE_VERSION = 1
RECORDED_META = ("today", "start", "end")  # metadata kept per submission and exported, as Kobo does
Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class AnswerResult:
    state: dict[str, Any]
    error: str | None = None


class Runner:
    def __init__(self, form: Form) -> None:
        self.form = form
        self._ending: dict[int, list[int]] = {}  # index just past a repeat -> the repeats ending there
        for n in form.nodes:
            if n.kind == "repeat":
                self._ending.setdefault(n.end, []).append(n.index)

    # -- state ---------------------------------------------------------------------------
    def start(self, now: date | None = None) -> dict[str, Any]:
        """A new submission; ``now`` (the clock's moment) is recorded as its ``start``, as Collect does."""
        state = {"v": STATE_VERSION, "pos": [0, 0], "history": [], "values": {}, "pending": {},
                 "seed": secrets.randbelow(2**31), "today": None}  # fmt: skip
        if now is not None:
            moment = moment_of(now)
            state["today"] = moment.date().isoformat()
            state["start"] = iso_moment(moment)
        return state

    def _open(
        self, state: dict[str, Any], today: date | None, locale: str | None = None
    ) -> tuple[dict[str, Any], Evaluation]:
        if not isinstance(state, dict) or state.get("v") != STATE_VERSION or "pos" not in state:
            raise ValueError("not a questionnaire state of this runner")
        state = _copied(state)
        if today is not None and not state.get("today"):
            state["today"] = moment_of(today).date().isoformat()
        if today is not None and not state.get("start"):
            state["start"] = iso_moment(moment_of(today))
        ev = Evaluation(self.form, state, today)
        ev.locale = locale or ""
        return state, ev

    # -- walking -------------------------------------------------------------------------
    def _find(self, ev: Evaluation, j: int, instance: int) -> Position | None:
        nodes = self.form.nodes
        while True:
            ending = self._ending.get(j) if instance else None
            level = len(chain(instance)) - 1 if ending else -1
            inside = [r for r in ending or [] if len(ev.around[r]) == level]
            if inside:  # the end of an instance of the repeat we are in
                repeat, number, outer = inside[0], instance % BASE, instance // BASE
                if number < ev.repeat_count(repeat, outer):
                    j, instance = repeat + 1, instance + 1
                elif nodes[repeat].repeat_count is None and number < MAX_ADDED:
                    if self._finished(ev, repeat, outer):
                        instance = outer
                        continue
                    return repeat, instance  # "add another?" after this instance
                else:
                    instance = outer
                continue
            if j >= len(nodes):
                return None
            node = nodes[j]
            if node.kind == "group":
                j = j + 1 if ev.relevant(j, instance) else node.end
            elif node.kind == "repeat":
                if ev.repeat_count(j, instance) >= 1:
                    j, instance = j + 1, instance * BASE + 1
                else:
                    j = node.end
            elif node.asked and ev.relevant(j, instance):
                return j, instance
            else:
                j += 1

    def _finished(self, ev: Evaluation, repeat: int, outer: int) -> bool:
        return bool(ev.state.get("repeats", {}).get(value_key(self.form.nodes[repeat], outer), [1, False])[1])

    def _after(self, ev: Evaluation, here: Position) -> Position | None:
        """The position after ``here``; after an "add another?" it is the next instance or past the repeat."""
        j, instance = here
        node = self.form.nodes[j]
        if node.kind == "repeat":
            if instance % BASE < ev.repeat_count(j, instance // BASE):
                return self._find(ev, j + 1, instance + 1)
            return self._find(ev, node.end, instance // BASE)
        return self._find(ev, j + 1, instance)

    def _here(self, state: dict[str, Any], ev: Evaluation) -> Position | None:
        j, instance = state["pos"]
        node = self.form.nodes[j] if j < len(self.form.nodes) else None
        if node is not None and node.kind == "repeat" and instance and node.repeat_count is None:
            if instance % BASE <= ev.repeat_count(j, instance // BASE):
                return j, instance  # back at an "add another?"
        return self._find(ev, j, instance)

    def _advance(self, state: dict[str, Any], here: Position, ev: Evaluation) -> dict[str, Any]:
        state["end"] = iso_moment(ev.now)  # the last answer's moment, as Collect records 'end'
        state["history"].append(list(here))
        state["pos"] = [here[0] + 1, here[1]]
        state["pending"] = {}
        return state

    # -- asking --------------------------------------------------------------------------
    def current(self, state: dict[str, Any], locale: str, today: date) -> Prompt | None:
        state, ev = self._open(state, today, locale)
        here = self._here(state, ev)
        if here is None:
            return None
        j, instance = here
        node = self.form.nodes[j]
        if node.kind == "repeat":
            label = form_text(self.form, node.labels, locale) or node.name
            return Prompt(
                index=j, name=node.name, kind="select_one", text=message("add_another", locale, group=label),
                choices=[("yes", message("yes", locale)), ("no", message("no", locale))], required=True,
                can_back=bool(state["history"]), is_last=False, instance=instance,
            )  # fmt: skip
        choices = [(c.value, choice_label(self.form, node, c, locale)) for c in options(self.form, node, ev, instance)]
        stored = ev.raw(node, instance)
        suggested = None
        if stored is None and node.kind != "note":
            fallback = ev.default(j, instance)
            suggested = None if fallback is None else shown(self.form, node, fallback, locale)
        key = value_key(node, instance)
        selected = state["pending"].get(key, stored if isinstance(stored, list) else [])
        return Prompt(
            index=j, name=node.name, kind=node.kind, text=render(self.form, node, ev, instance, locale),
            choices=choices, selected=list(selected), required=ev.required(j, instance),
            can_back=bool(state["history"]), is_last=self._after(ev, here) is None,
            instance=instance, minimum=node.minimum, maximum=node.maximum, suggested=suggested,
        )  # fmt: skip

    def answer(self, state: dict[str, Any], raw: str, today: date, locale: str) -> AnswerResult:
        state, ev = self._open(state, today, locale)
        here = self._here(state, ev)
        if here is None:
            return AnswerResult(state)
        node = self.form.nodes[here[0]]
        if node.kind == "note":
            return AnswerResult(self._advance(state, here, ev))
        if node.kind == "repeat":
            return self._another(state, ev, here, raw, locale)
        if not raw.strip():
            return self._skip(state, ev, here, locale)
        try:
            value = self._read(node, ev, here[1], raw)
        except answers.Unreadable as err:
            return AnswerResult(state, self._unreadable(node, err.key, locale))
        return self._store(state, here, value, today, locale)

    def _another(self, state: dict[str, Any], ev: Evaluation, here: Position, raw: str, locale: str) -> AnswerResult:
        """The answer to "add another?": yes opens the next instance, no closes the repeat here."""
        repeat, instance = here
        words = [(v, [message(v, loc) for loc in ("sq", "sr", "sr-Latn")] + [v]) for v in ("yes", "no")]
        try:
            wanted = answers.ChoiceReader(words).one(raw) == "yes"
        except answers.Unreadable:
            return AnswerResult(state, localise(message("choice", locale), locale))
        node = self.form.nodes[repeat]
        number, outer = instance % BASE, instance // BASE
        state.setdefault("repeats", {})[value_key(node, outer)] = [number + 1, False] if wanted else [number, True]
        state["end"] = iso_moment(ev.now)
        state["history"].append(list(here))
        state["pos"] = [repeat + 1, instance + 1] if wanted else [node.end, outer]
        state["pending"] = {}
        return AnswerResult(state)

    def keep(self, state: dict[str, Any], today: date | None = None, locale: str = "sq") -> AnswerResult:
        """Take the current question's default (fixed or computed) as the answer."""
        state, ev = self._open(state, today, locale)
        here = self._here(state, ev)
        if here is None or self.form.nodes[here[0]].kind in ("note", "repeat"):
            return AnswerResult(state)
        value = ev.default(*here)
        if value is None:
            return self._skip(state, ev, here, locale)
        return self._store(state, here, value, today, locale)

    def toggle(self, state: dict[str, Any], value: str, today: date | None = None) -> dict[str, Any]:
        """Select or unselect one option of the current select_multiple question."""
        state, ev = self._open(state, today)
        here = self._here(state, ev)
        if here is None or self.form.nodes[here[0]].kind != "select_multiple":
            return state
        node = self.form.nodes[here[0]]
        allowed = [c.value for c in options(self.form, node, ev, here[1])]
        if value not in allowed:
            return state
        key = value_key(node, here[1])
        stored = ev.raw(node, here[1])
        chosen = list(state["pending"].get(key, stored if isinstance(stored, list) else []))
        chosen = [v for v in chosen if v != value] if value in chosen else [*chosen, value]
        state["pending"] = {key: [v for v in allowed if v in chosen]}
        return state

    def done(self, state: dict[str, Any], today: date | None = None, locale: str = "sq") -> AnswerResult:
        """Finish the current select_multiple question with the options toggled so far."""
        state, ev = self._open(state, today)
        here = self._here(state, ev)
        if here is None:
            return AnswerResult(state)
        node = self.form.nodes[here[0]]
        if node.kind != "select_multiple":
            return AnswerResult(state, self._unreadable(node, "choice", locale))
        key = value_key(node, here[1])
        stored = ev.raw(node, here[1])
        chosen = state["pending"].get(key, stored if isinstance(stored, list) else [])
        if not chosen:
            return self._skip(state, ev, here, locale)
        return self._store(state, here, list(chosen), today, locale)

    def next(self, state: dict[str, Any], today: date | None = None) -> dict[str, Any]:
        """Move on from a note (or any question already answered)."""
        state, ev = self._open(state, today)
        here = self._here(state, ev)
        if here is None:
            return state
        node = self.form.nodes[here[0]]
        if node.kind != "note" and ev.raw(node, here[1]) is None:
            return state
        return self._advance(state, here, ev)

    def skip(self, state: dict[str, Any], today: date | None = None, locale: str = "sq") -> AnswerResult:
        state, ev = self._open(state, today)
        here = self._here(state, ev)
        if here is None:
            return AnswerResult(state)
        return self._skip(state, ev, here, locale)

    def pass_over(self, state: dict[str, Any], today: date | None, error: BaseException) -> dict[str, Any]:
        """Move past the current question after an unexpected failure; the failure is kept for the form's owner."""
        state, ev = self._open(state, today)
        j, instance = state["pos"]
        try:
            here = self._find(ev, j, instance) or (j, instance)
        except Exception:  # the walk itself failed: step over the stored position
            here = (j, instance)
        ev.record(min(here[0], len(self.form.nodes) - 1), "question", error)
        return self._advance(state, here, ev)

    def back(self, state: dict[str, Any]) -> dict[str, Any]:
        state, _ = self._open(state, None)
        if state["history"]:
            state["pos"] = state["history"].pop()
        state["pending"] = {}
        return state

    # -- answering -----------------------------------------------------------------------
    def _read(self, node: Node, ev: Evaluation, instance: int, raw: str) -> Any:
        kind = node.kind
        if kind in ("select_one", "select_multiple"):
            offered = options(self.form, node, ev, instance)
            reader = answers.ChoiceReader([(c.value, list(c.labels.values())) for c in offered])
            if node.type == "acknowledge":
                reader = answers.ChoiceReader(
                    [("OK", [message("acknowledge", loc) for loc in ("sq", "sr", "sr-Latn")])]
                )
            return reader.one(raw) if kind == "select_one" else reader.many(raw)
        readers: dict[str, Callable[[str], Any]] = {
            "integer": answers.read_integer,
            "decimal": answers.read_decimal,
            "date": answers.read_date,
            "time": answers.read_time,
            "datetime": answers.read_datetime,
            "geopoint": answers.read_geopoint,
        }
        if kind in readers:
            value = readers[kind](raw)
            bounded = node.minimum is not None and node.maximum is not None
            if bounded and not (node.minimum <= float(value) <= node.maximum):  # type: ignore[operator]
                raise answers.Unreadable("range")
            return value
        return raw.strip()

    def _store(
        self, state: dict[str, Any], here: Position, value: Any, today: date | None, locale: str
    ) -> AnswerResult:
        j, instance = here
        node = self.form.nodes[j]
        key = value_key(node, instance)
        previous = state["values"].get(key)
        state["values"][key] = value
        ev = Evaluation(self.form, state, today)
        if node.constraint is not None:
            dot = ev.field(j, instance)
            if not to_bool(ev.safe(node.constraint, j, instance, "constraint", dot=dot)):
                if previous is None:
                    del state["values"][key]
                else:
                    state["values"][key] = previous
                text = form_text(self.form, node.constraint_messages, locale)
                return AnswerResult(state, text or message("constraint", locale))
        return AnswerResult(self._advance(state, here, ev))

    def _skip(self, state: dict[str, Any], ev: Evaluation, here: Position, locale: str) -> AnswerResult:
        node = self.form.nodes[here[0]]
        if node.kind != "note" and ev.required(*here):
            text = form_text(self.form, node.required_messages, locale)
            return AnswerResult(state, text or message("required", locale))
        state["values"].pop(value_key(node, here[1]), None)
        return AnswerResult(self._advance(state, here, ev))

    def _unreadable(self, node: Node, key: str, locale: str) -> str:
        if key == "range":
            return message("range", locale, minimum=f"{node.minimum:g}", maximum=f"{node.maximum:g}")
        if node.kind in ("image", "audio", "video", "file"):
            key = "media"
        return localise(message(key, locale), locale)

    # -- results -------------------------------------------------------------------------
    def positions(self, state: dict[str, Any], today: date | None = None) -> list[Position]:
        """Every question (not notes) the form would ask given the answers so far."""
        _, ev = self._open(state, today)
        found: list[Position] = []
        here = self._find(ev, 0, 0)
        while here is not None:
            if self.form.nodes[here[0]].kind not in ("note", "repeat"):
                found.append(here)
            here = self._after(ev, here)
        return found

    def is_complete(self, state: dict[str, Any]) -> bool:
        state, ev = self._open(state, None)
        return self._here(state, ev) is None

    def progress(self, state: dict[str, Any]) -> tuple[int, int]:
        state, ev = self._open(state, None)
        asked = self.positions(state)
        here = self._here(state, ev)
        done = [p for p in asked if here is None or p in [tuple(h) for h in state["history"]]]
        return len(done), len(asked)

    def values(self, state: dict[str, Any]) -> dict[str, Any]:
        """Answers and calculated fields of relevant nodes, keyed by name ('name[2]' inside repeats)."""
        state, ev = self._open(state, None)
        out: dict[str, Any] = {}
        for node in self.form.nodes:
            if node.kind in ("group", "repeat", "note") or (node.kind == "meta" and node.type not in RECORDED_META):
                continue
            instances = ev.instances(ev.around[node.index]) if node.repeat is not None else [0]
            for instance in instances:
                if not ev.relevant(node.index, instance):
                    continue
                key = value_key(node, instance)
                if node.kind == "calculate":
                    out[key] = _number_or_text(ev.calculated(node.index, instance))
                elif node.kind == "meta":
                    out[key] = state.get(node.type) if node.type in ("start", "end") else state["today"]
                elif key in state["values"]:
                    out[key] = state["values"][key]
        return out

    def scores(self, state: dict[str, Any]) -> dict[str, float | None]:
        values = self.values(state)
        out: dict[str, float | None] = {}
        for node in self.form.nodes:
            if node.kind == "calculate" and node.name.startswith("score_"):
                value = values.get(node.key)
                out[node.name] = float(value) if isinstance(value, int | float) else None
        return out


def _copied(state: dict[str, Any]) -> dict[str, Any]:
    """A copy of a state to change: the long parts (answers, the way back) copied by their known shape."""
    out = {key: copy.deepcopy(value) for key, value in state.items() if key not in ("values", "history")}
    out["values"] = {k: list(v) if isinstance(v, list) else v for k, v in state.get("values", {}).items()}
    out["history"] = [list(step) for step in state.get("history", [])]
    return out


def _number_or_text(value: str) -> Any:
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        return value
    if math.isnan(number):
        return None
    if math.isinf(number):
        return value
    return int(number) if number.is_integer() and "." not in value else number
