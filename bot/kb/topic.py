"""One knowledge-base topic as read from its YAML file, and the checks that keep content complete.

A topic file holds both languages side by side. Serbian is written once, in Cyrillic; the
Latin-script text is derived from it with `cyrillic_to_latin`, never stored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.text import cyrillic_to_latin

LOCALES: tuple[str, ...] = ("sq", "sr-Cyrl", "sr-Latn")
MUNICIPALITY = "{municipality}"
MIN_PHRASINGS = 6
MAX_PART_CHARS = 600

_ID = re.compile(r"^[a-z]+(?:_[a-z]+)*\.[a-z]+(?:_[a-z]+)*$")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_NOT_PROSE = re.compile(r"\{[^{}]*\}|/[a-z_]+(?: [a-z_]+)?|\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*\b")


class KnowledgeBaseError(Exception):
    """A knowledge-base file cannot be read as a topic; the message names the file."""


@dataclass(frozen=True)
class Source:
    """Where the facts of an answer come from."""

    title: str
    url: str


@dataclass(frozen=True)
class Topic:
    """A question area with its answer, the ways people ask about it, and its sources.

    Text is keyed by content language, "sq" or "sr" (Serbian in Cyrillic); the user-facing
    accessors take a locale, "sq", "sr-Cyrl" or "sr-Latn".
    """

    id: str
    titles: Mapping[str, str]
    answers: Mapping[str, tuple[str, ...]]
    phrasings: Mapping[str, tuple[str, ...]]
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    related: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    checked: dt.date | None = None

    def title(self, locale: str) -> str:
        """The title in a locale ("sq", "sr-Cyrl", "sr-Latn")."""
        return _in_script(self.titles.get(_language(locale), ""), locale)

    def parts(self, locale: str, municipality: str | None = None) -> list[str]:
        """The answer as short parts in a locale, core answer first.

        A part that mentions {municipality} gets the given name, or is left out when the name
        is unknown.
        """
        out: list[str] = []
        for part in self.answers.get(_language(locale), ()):
            if MUNICIPALITY in part:
                if not municipality:
                    continue
                part = part.replace(MUNICIPALITY, municipality)
            out.append(_in_script(part, locale))
        return out

    def problems(self, known_ids: set[str]) -> list[str]:
        """What keeps this topic from being complete, one line each; empty when complete."""
        found: list[str] = []
        where = self.id
        for lang in ("sq", "sr"):
            if not self.titles.get(lang, "").strip():
                found.append(f"{where}: no title in {lang}")
            parts = self.answers.get(lang, ())
            if not parts:
                found.append(f"{where}: no answer in {lang}")
            for n, part in enumerate(parts, 1):
                if not part.strip():
                    found.append(f"{where}: answer part {n} in {lang} is empty")
                if len(part) > MAX_PART_CHARS:
                    found.append(f"{where}: answer part {n} in {lang} is {len(part)} characters (max {MAX_PART_CHARS})")
                for placeholder in _PLACEHOLDER.findall(part):
                    if placeholder != MUNICIPALITY:
                        found.append(f"{where}: answer part {n} in {lang} has unknown placeholder {placeholder}")
            if parts and MUNICIPALITY in parts[0]:
                found.append(f"{where}: the first answer part in {lang} must not depend on {MUNICIPALITY}")
            phrasings = [p for p in self.phrasings.get(lang, ()) if p.strip()]
            if len(phrasings) < MIN_PHRASINGS:
                found.append(f"{where}: {len(phrasings)} phrasings in {lang} (at least {MIN_PHRASINGS})")
        serbian = [self.titles.get("sr", ""), *self.answers.get("sr", ())]
        if any(_mostly_latin(text) for text in serbian):
            found.append(f"{where}: Serbian title and answer must be written in Cyrillic")
        if not self.sources:
            found.append(f"{where}: no source")
        for source in self.sources:
            if not source.title.strip() or not source.url.startswith(("http://", "https://")):
                found.append(f"{where}: source needs a title and an http(s) url: {source}")
        if self.checked is None:
            found.append(f"{where}: no 'checked' date")
        for other in self.related:
            if other not in known_ids:
                found.append(f"{where}: related topic {other!r} does not exist")
        return found


def _language(locale: str) -> str:
    if locale == "sq":
        return "sq"
    if locale in ("sr-Cyrl", "sr-Latn"):
        return "sr"
    raise ValueError(f"unknown locale {locale!r}; expected one of {', '.join(LOCALES)}")


def _in_script(text: str, locale: str) -> str:
    return cyrillic_to_latin(text) if locale == "sr-Latn" else text


def _mostly_latin(text: str) -> bool:
    # Placeholders, chat commands and acronyms (URA, GIZ, EU-RRK) stay in Latin by design.
    text = _NOT_PROSE.sub(" ", text)
    letters = _LETTER.findall(text)
    if not letters:
        return False
    cyrillic = sum(1 for c in letters if _CYRILLIC.match(c))
    return cyrillic < 0.9 * len(letters)


def read_topic(path: Path) -> Topic:
    """Read one topic file; raises KnowledgeBaseError naming the file when it is not a topic."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KnowledgeBaseError(f"{path.name}: cannot be read as YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{path.name}: expected a mapping at the top level")
    try:
        return _topic_from(data)
    except (TypeError, ValueError) as exc:
        raise KnowledgeBaseError(f"{path.name}: {exc}") from exc


def _topic_from(data: dict[str, Any]) -> Topic:
    topic_id = data.get("id")
    if not isinstance(topic_id, str) or not _ID.match(topic_id):
        raise ValueError(f"'id' must look like area.name, got {topic_id!r}")
    checked = data.get("checked")
    if isinstance(checked, str):
        try:
            checked = dt.date.fromisoformat(checked)
        except ValueError:
            raise ValueError(f"'checked' must be a date like 2026-11-27, got {checked!r}") from None
    if checked is not None and not isinstance(checked, dt.date):
        raise ValueError(f"'checked' must be a date, got {checked!r}")
    sources = []
    for item in _list(data.get("sources"), "sources"):
        if not isinstance(item, dict):
            raise ValueError(f"each source must be a mapping with title and url, got {item!r}")
        sources.append(Source(title=str(item.get("title", "")), url=str(item.get("url", ""))))
    answer = _mapping(data.get("answer"), "answer")
    return Topic(
        id=topic_id,
        titles={lang: str(text) for lang, text in _mapping(data.get("title"), "title").items()},
        answers={lang: tuple(_strings(parts, f"answer.{lang}")) for lang, parts in answer.items()},
        phrasings={
            lang: tuple(_strings(items, f"phrasings.{lang}"))
            for lang, items in _mapping(data.get("phrasings"), "phrasings").items()
        },
        keywords={
            lang: tuple(_strings(items, f"keywords.{lang}"))
            for lang, items in _mapping(data.get("keywords"), "keywords").items()
        },
        related=tuple(_strings(data.get("related"), "related")),
        sources=tuple(sources),
        checked=checked,
    )


def _mapping(value: object, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"'{name}' must be a mapping of language to text")
    unknown = set(value) - {"sq", "sr"}
    if unknown:
        raise ValueError(f"'{name}' has unknown languages {sorted(unknown)}; use sq and sr")
    return value


def _list(value: object, name: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{name}' must be a list")
    return value


def _strings(value: object, name: str) -> list[str]:
    items = _list(value, name)
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"'{name}' must hold only text, got {item!r}")
    return items
