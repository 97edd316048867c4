"""Danger is never missed: every message of the danger set raises the alarm, ordinary questions rarely do.

The sets were written from the people's side (Gheg, no diacritics, typos, indirect phrasings) before
the detector was tuned: tests/kb_danger.jsonl (Albanian, Serbian Latin, Serbian Cyrillic) and
tests/kb_ordinary.jsonl plus every knowledge-base question set (questions that must not raise it).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.kb.evaluation import danger_evaluation, read_messages
from bot.kb.safety import is_emergency
from bot.text import cyrillic_to_latin

TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "content" / "kb" / "examples"
DANGER = read_messages(TESTS / "kb_danger.jsonl")
ORDINARY = [
    *read_messages(TESTS / "kb_ordinary.jsonl"),
    *[m for path in sorted(TESTS.glob("kb_questions_*.jsonl")) for m in read_messages(path)],
    *[m for path in sorted(EXAMPLES.glob("*.jsonl")) for m in read_messages(path)],
]


def test_the_danger_set_is_large_and_covers_every_script_and_kind() -> None:
    assert len(DANGER) >= 300
    scripts = Counter(m.script for m in DANGER)
    assert set(scripts) == {"sq", "sr-Latn", "sr-Cyrl"} and min(scripts.values()) >= 60, scripts
    assert {m.kind for m in DANGER} == {"violence", "confinement", "selfharm", "medical"}
    assert len(ORDINARY) >= 300


@pytest.mark.parametrize("message", DANGER, ids=lambda m: f"{m.script}:{m.text}")
def test_every_danger_message_raises_the_alarm(message) -> None:  # type: ignore[no-untyped-def]
    assert is_emergency(message.text)
    # The same words typed in Latin script (Cyrillic keyboards are not always at hand).
    assert is_emergency(cyrillic_to_latin(message.text))


def test_false_alarms_on_ordinary_questions_stay_under_two_percent() -> None:
    result = danger_evaluation(is_emergency, DANGER, ORDINARY)
    assert result.recall == 1.0
    assert result.false_alarm_rate <= 0.02, [m.text for m in result.false_alarms]


def test_calm_words_that_look_like_danger_do_not_raise_it() -> None:
    for text in (
        "certifikata e vdekjes ku merret",
        "me vret koka nga mendimet per pune",
        "po vdes nga merzia ketu ne fshat",
        "kam pritje te larte te gjakut",
        "imao sam saobracajnu nezgodu pre dve godine",
        "sigurimi per aksident ne pune",
        "nuk jam i sigurt cfare dokumenti duhet",
        "dua te ndjek kursin e gjuhes",
        "kako da izvadim izvod iz knjige umrlih",
    ):
        assert not is_emergency(text), text
