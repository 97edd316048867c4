"""What a question looks like in one locale: its text with ${field} values filled in, and its options.

Serbian forms are authored in Cyrillic; ``sr-Latn`` gets every text transliterated, form texts and
built-in messages alike. A ``${field}`` in a label shows the answer as the person would read it:
a choice by its label, a date as 31.12.2024.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.forms.evaluation import Evaluation
from bot.forms.messages import message
from bot.forms.model import Choice, Form, Node, Texts
from bot.forms.values import to_str
from bot.text import cyrillic_to_latin

_REF = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True, slots=True)
class Prompt:
    """One question as the chat shows it. ``index`` is the node's position in the form."""

    index: int
    name: str
    kind: str
    text: str
    choices: list[tuple[str, str]] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    required: bool = False
    can_back: bool = False
    is_last: bool = False
    instance: int = 0
    minimum: float | None = None
    maximum: float | None = None
    suggested: str | None = None  # the default answer, as the person reads it, when there is one


def localise(text: str, locale: str) -> str:
    return cyrillic_to_latin(text) if locale == "sr-Latn" else text


def form_text(form: Form, texts: Texts, locale: str) -> str:
    return localise(form.text(texts, locale), locale)


def options(form: Form, node: Node, ev: Evaluation, instance: int) -> list[Choice]:
    """The choices a select question offers now, after its choice_filter."""
    if node.type == "acknowledge":
        return [Choice("OK", {}, {}, None)]
    choices = form.choices.get(node.list_name or "", [])
    if node.choice_filter is None:
        return choices
    kept = []
    for choice in choices:
        row = {"name": choice.value, **choice.columns}
        kept_here = ev.safe(node.choice_filter, node.index, instance, "choice_filter", row=row)
        if kept_here not in (False, "", [], 0.0) and not (isinstance(kept_here, float) and math.isnan(kept_here)):
            kept.append(choice)
    return kept


def choice_label(form: Form, node: Node, choice: Choice, locale: str) -> str:
    if node.type == "acknowledge":
        return message("acknowledge", locale)
    return form_text(form, choice.labels, locale) or choice.value


def shown(form: Form, node: Node, value: Any, locale: str) -> str:
    """An answer as the person reads it: choices by label, a date as 31.12.2024."""
    if node.kind in ("select_one", "select_multiple") and node.list_name:
        labels = {c.value: choice_label(form, node, c, locale) for c in form.choices.get(node.list_name, [])}
        parts = value if isinstance(value, list) else to_str(value).split()
        return ", ".join(labels.get(v, v) for v in parts)
    if node.kind == "date" and isinstance(value, str) and len(value) == 10:
        return f"{value[8:10]}.{value[5:7]}.{value[0:4]}"
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return to_str(value)


def shown_value(form: Form, ev: Evaluation, name: str, index: int, instance: int, locale: str) -> str:
    """A referenced field as a person reads it in a label."""
    target = form.nodes[form.by_name[name]]
    value: Any = ev._reference(name, index, instance)
    if isinstance(value, list):
        value = value[0] if value else ""
    if target.kind in ("select_one", "select_multiple") and target.list_name:
        labels = {c.value: choice_label(form, target, c, locale) for c in form.choices.get(target.list_name, [])}
        return ", ".join(labels.get(v, v) for v in to_str(value).split())
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return to_str(value)


def render(form: Form, node: Node, ev: Evaluation, instance: int, locale: str) -> str:
    def fill(text: str) -> str:
        return _REF.sub(lambda m: shown_value(form, ev, m.group(1).strip(), node.index, instance, locale), text)

    label = fill(form_text(form, node.labels, locale)) or node.name
    hint = fill(form_text(form, node.hints, locale))
    if not hint and node.minimum is not None and node.maximum is not None:
        hint = message("range", locale, minimum=f"{node.minimum:g}", maximum=f"{node.maximum:g}")
    return f"{label}\n{hint}" if hint else label
