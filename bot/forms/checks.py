"""Is a loaded form ready for the chat? Both languages everywhere, and buttons Telegram can carry.

Loading already refuses what cannot be played; this finds what would play badly: a label or
message missing in Albanian or Serbian, or a question offering more choices than ten screens of
buttons — counted after its choice_filter, over the answers the filter reads. Button callback
data follows "f:<submission id, up to 10 digits>:<question index>:<choice index>" and must fit in
Telegram's 64 bytes; an inline keyboard holds at most 100 buttons.
"""

from __future__ import annotations

import itertools
from typing import Any

from bot.forms.evaluation import Evaluation
from bot.forms.model import Form, Node, language_code
from bot.forms.prompts import options

REQUIRED_LOCALES = {"sq": "Albanian (sq)", "sr": "Serbian (sr)"}
CALLBACK_LIMIT = 64
MAX_BUTTONS = 100  # choices a question may offer: ten screens of ten buttons
PAGE = 10  # option buttons a screen
MAX_TRIED = 200  # values tried per field a choice_filter reads
MAX_COMBINATIONS = 2000


def callback_bytes(question_index: int, choice_index: int) -> int:
    return len(f"f:{'9' * 10}:{question_index}:{choice_index}".encode())


def filtered_size(form: Form, node: Node, cache: dict[tuple[str, str], int] | None = None) -> int:
    """The most choices ``node`` can offer once its choice_filter applies, over the answers it reads.

    Each field the filter reads is tried with the values it could hold (its own choices, and the
    values in the list's columns); a filter reading no field is evaluated once.
    """
    choices = form.choices.get(node.list_name or "", [])
    if node.choice_filter is None or not choices:
        return len(choices)
    key = (node.list_name or "", node.choice_filter.source)
    if cache is not None and key in cache:
        return cache[key]
    refs = sorted(node.choice_filter.refs)
    in_columns = sorted({value for choice in choices for value in choice.columns.values() if value})
    candidates = []
    for name in refs:
        target = form.nodes[form.by_name[name]]
        own = [c.value for c in form.choices.get(target.list_name or "", [])] if target.list_name else []
        candidates.append(list(dict.fromkeys([*own, *in_columns]))[:MAX_TRIED])
    instance = 1 if node.repeat is not None else 0
    best = 0
    for combination in itertools.islice(itertools.product(*candidates), MAX_COMBINATIONS):
        values: dict[str, Any] = {}
        for name, value in zip(refs, combination, strict=True):
            target = form.nodes[form.by_name[name]]
            values[target.key if target.repeat is None else f"{target.key}[{instance}]"] = value
        ev = Evaluation(form, {"values": values}, None)
        best = max(best, len(options(form, node, ev, instance)))
        if best == len(choices):
            break
    if cache is not None:
        cache[key] = best
    return best


def check_form(form: Form) -> list[str]:
    """Problems that keep a form from playing well in the chat, each naming its sheet row."""
    problems: list[str] = []
    sizes: dict[tuple[str, str], int] = {}
    languages = {code: lang for lang in form.languages if (code := language_code(lang))}
    missing = [code for code in REQUIRED_LOCALES if code not in languages]
    for code in missing:
        problems.append(
            f"settings: the form has no {REQUIRED_LOCALES[code]} columns (e.g. label::{REQUIRED_LOCALES[code]})"
        )
    present = [languages[code] for code in REQUIRED_LOCALES if code in languages]
    used_lists: dict[str, Node] = {}
    for node in form.nodes:
        where = f"survey row {node.row}" if node.row else f"survey '{node.name}'"
        if node.asked or node.kind in ("group", "repeat"):
            fields = [("label", node.labels, node.asked)]
            fields += [("hint", node.hints, False), ("constraint_message", node.constraint_messages, False),
                       ("required_message", node.required_messages, False)]  # fmt: skip
            for column, texts, always in fields:
                if not texts and not always:
                    continue
                for lang in present:
                    if not texts.get(lang, "").strip():
                        problems.append(f"{where}: {column}::{lang} is empty for '{node.name}'")
        if node.list_name and node.asked:
            used_lists.setdefault(node.list_name, node)
            count = len(form.choices.get(node.list_name, []))
            offered = filtered_size(form, node, sizes)
            if offered > MAX_BUTTONS:
                after = f" after its choice_filter, of {count}" if node.choice_filter is not None else ""
                problems.append(f"{where}: '{node.name}' offers up to {offered} choices{after}; a chat shows "
                                f"{PAGE} a screen, so add a choice_filter (a cascade) that leaves at most "
                                f"{MAX_BUTTONS}")  # fmt: skip
            if count and callback_bytes(node.index, count - 1) > CALLBACK_LIMIT:
                problems.append(f"{where}: button data for '{node.name}' would exceed {CALLBACK_LIMIT} bytes")
    for list_name in used_lists:
        for choice in form.choices.get(list_name, []):
            for lang in present:
                if not choice.labels.get(lang, "").strip():
                    at = f"choices row {choice.row}" if choice.row else f"choices list '{list_name}'"
                    problems.append(f"{at}: label::{lang} is empty for choice '{choice.value}'")
    return problems


def summary(form: Form) -> str:
    """One line for a form that passed: what it holds and that it plays."""
    questions = len(form.questions)
    lists = len({n.list_name for n in form.nodes if n.list_name and n.asked})
    codes = sorted({c for lang in form.languages if (c := language_code(lang))}) or ["default"]
    return f"{questions} questions, {lists} choice lists, languages {', '.join(codes)}: playable in chat"
