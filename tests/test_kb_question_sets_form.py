"""The form of the question sets written in three scripts: the fresh set and the three sets written
blind (content/kb/examples/fresh.jsonl, blind.jsonl, blind2.jsonl, blind3.jsonl: example sets since
they were measured), and the fourth set written blind (tests/kb_questions_blind4.jsonl, held out).

Each was written from the topic content alone, by someone who did not see the ranking or the other
sets. Nothing here ranks them. Their accuracy floors (each blind set left out of the examples in
turn, and the fourth held out) are in tests/test_kb_hybrid.py; tests/test_kb_people.py and
tests/test_kb_hybrid.py also check that each Serbian question reaches the same topic in Cyrillic
and in Latin.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml
from rapidfuzz.distance import Levenshtein

from bot.kb.commands import DEFAULT_KB_DIR
from bot.kb.evaluation import read_messages, read_questions
from bot.text import cyrillic_to_latin

FRESH = Path(__file__).resolve().parents[1] / "content" / "kb" / "examples" / "fresh.jsonl"
BLIND = Path(__file__).resolve().parents[1] / "content" / "kb" / "examples" / "blind.jsonl"
BLIND2 = Path(__file__).resolve().parents[1] / "content" / "kb" / "examples" / "blind2.jsonl"
BLIND3 = Path(__file__).resolve().parents[1] / "content" / "kb" / "examples" / "blind3.jsonl"
BLIND4 = Path(__file__).resolve().parent / "kb_questions_blind4.jsonl"
SCRIPTS = [("sq", "sq"), ("sr", "sr-Latn"), ("sr", "sr-Cyrl")]
LATIN = re.compile(r"[A-Za-zÀ-ž]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Names written in Latin letters in Cyrillic text too: documents and programs, offices' and firms' acronyms.
CYRILLIC_WORDS = re.compile(r"\b(?:CV|Excel|Word|URA|DIMAK|AWO|GIZ|BAMF|mts)\b")


def topic_ids() -> set[str]:
    return {yaml.safe_load(path.read_text(encoding="utf-8"))["id"] for path in Path(DEFAULT_KB_DIR).glob("*.yaml")}


def folded(text: str) -> str:
    """Serbian Latin as typed without diacritics (č, ć → c, š → s, ž → z, đ → dj; AWO's w as v)."""
    return text.lower().replace("đ", "dj").translate(str.maketrans("čćšžw", "ccszv"))


def groups(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        grouped[row["group"]].append(row)
    return grouped


@pytest.fixture(params=[FRESH, BLIND, BLIND2, BLIND3, BLIND4], ids=["fresh", "blind", "blind2", "blind3", "blind4"])
def path(request: pytest.FixtureRequest) -> Path:
    found: Path = request.param
    return found


@pytest.fixture
def rows(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_line_is_one_question_with_language_script_topic_and_group(
    path: Path, rows: list[dict[str, str]]
) -> None:
    known = topic_ids()
    for row in rows:
        assert set(row) == {"q", "lang", "script", "topic", "group"}, row
        assert (row["lang"], row["script"]) in SCRIPTS, row
        assert row["topic"] in known, row
        assert row["q"] == row["q"].strip() and row["q"], row
    texts = [row["q"] for row in rows]
    assert len(texts) == len(set(texts)), [t for t, n in Counter(texts).items() if n > 1]
    # The readers the tests and the bench use take the file as it is.
    assert len(read_questions(path)) == len(rows)
    assert Counter(m.script for m in read_messages(path)) == Counter(row["script"] for row in rows)


def test_every_question_is_asked_in_albanian_serbian_latin_and_cyrillic(rows: list[dict[str, str]]) -> None:
    grouped = groups(rows)
    assert len(grouped) >= 96 and len(rows) == 3 * len(grouped)
    for group, rows in grouped.items():
        assert [(row["lang"], row["script"]) for row in rows] == SCRIPTS, group
        assert len({row["topic"] for row in rows}) == 1, group
        albanian, latin, cyrillic = (row["q"] for row in rows)
        assert not CYRILLIC.search(albanian) and not CYRILLIC.search(latin), group
        # Latin letters in a Cyrillic line only in names written so in both ("CV", "Excel").
        assert not LATIN.search(CYRILLIC_WORDS.sub("", cyrillic)), (group, cyrillic)
        # The Cyrillic line says what the Latin one says, letter for letter but for a typo or two the
        # Latin line was typed with ("kolko", "samozaposljavnja").
        assert Levenshtein.distance(folded(cyrillic_to_latin(cyrillic)), folded(latin)) <= 2, group


def test_every_topic_is_asked_at_least_twice_and_people_write_without_diacritics(rows: list[dict[str, str]]) -> None:
    per_topic = Counter(group[0]["topic"] for group in groups(rows).values())
    assert set(per_topic) == topic_ids()
    assert min(per_topic.values()) >= 2, per_topic
    for script, letters in (("sq", "ëçËÇ"), ("sr-Latn", "čćšžđČĆŠŽĐ")):
        texts = [row["q"] for row in rows if row["script"] == script]
        plain = sum(not any(letter in text for letter in letters) for text in texts)
        assert plain / len(texts) >= 0.3, (script, plain, len(texts))  # as people type on a phone
