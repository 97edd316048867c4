"""The loaded shape of a questionnaire: nodes in document order, choice lists and languages.

A form is flattened into ``nodes`` in the order of the survey sheet. Groups and repeats are nodes
too, with ``end`` pointing just past their last descendant, so the runner walks one list and jumps
over a group that is not relevant. Texts are kept per form language (the column suffix, e.g.
``Albanian (sq)``); ``Form.language_for`` picks the column for a user locale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.forms.xpath import Expr

# Kinds the chat asks; the others are computed (calculate), filled by the runner (meta) or
# structural (group, repeat).
ASKED_KINDS = frozenset({
    "note", "text", "integer", "decimal", "date", "time", "datetime", "select_one", "select_multiple",
    "geopoint", "image", "audio", "video", "file",
})  # fmt: skip

_CODE = re.compile(r"\(\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)\s*\)\s*$")
_NAMED = {"albanian": "sq", "shqip": "sq", "serbian": "sr", "srpski": "sr", "српски": "sr", "english": "en"}


def language_code(column_language: str) -> str | None:
    """The ISO code in a language column suffix: 'Albanian (sq)' and 'English(en)' alike."""
    match = _CODE.search(column_language)
    if match:
        return match.group(1).split("-")[0].split("_")[0].lower()
    return _NAMED.get(column_language.strip().lower())


Texts = dict[str, str]  # form language -> text


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    labels: Texts
    columns: dict[str, str]
    row: int | None


@dataclass(slots=True)
class Node:
    index: int
    name: str
    key: str  # how answers are stored and exported: the name, or the path where names repeat
    path: str  # group/field, as Kobo names columns
    type: str  # the XLSForm type as written (after pyxform's aliases)
    kind: str
    row: int | None
    parent: int | None
    repeat: int | None  # the enclosing repeat node, if any
    end: int = 0
    labels: Texts = field(default_factory=dict)
    hints: Texts = field(default_factory=dict)
    constraint_messages: Texts = field(default_factory=dict)
    required_messages: Texts = field(default_factory=dict)
    relevant: Expr | None = None
    constraint: Expr | None = None
    required: Expr | bool = False
    calculation: Expr | None = None
    choice_filter: Expr | None = None
    repeat_count: Expr | None = None
    list_name: str | None = None
    minimum: float | None = None  # range questions
    maximum: float | None = None
    step: float | None = None
    label_refs: frozenset[str] = frozenset()
    default: str | None = None  # a fixed default answer ('default' column)
    default_expr: Expr | None = None  # a computed default ('default' with an expression, or a calculation)

    @property
    def asked(self) -> bool:
        return self.kind in ASKED_KINDS


@dataclass(slots=True)
class Form:
    form_id: str
    title: str
    version: str
    languages: list[str]  # column suffixes in the order met, e.g. ["Albanian (sq)", "Serbian (sr)"]
    default_language: str | None
    nodes: list[Node]
    choices: dict[str, list[Choice]]
    settings: dict[str, str]
    source: str
    by_name: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    enclosing: list[tuple[int, ...]] = field(default_factory=list)  # filled by evaluation.repeats_around

    def language_for(self, locale: str) -> str | None:
        """The form language that serves a user locale ('sq', 'sr-Cyrl', 'sr-Latn'), if any."""
        wanted = locale.split("-")[0].lower()
        for language in self.languages:
            if language_code(language) == wanted:
                return language
        return None

    def text(self, texts: Texts, locale: str) -> str:
        """The text for a locale, falling back to the default language, then to any language."""
        for language in (self.language_for(locale), self.default_language, "default"):
            if language is not None and texts.get(language):
                return texts[language]
        return next((value for value in texts.values() if value), "")

    @property
    def questions(self) -> list[Node]:
        return [node for node in self.nodes if node.asked and node.kind != "note"]
