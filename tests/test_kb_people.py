"""Questions written from the people's side: the right topic, the same in every script, and few confident wrong answers.

content/kb/examples/people.jsonl (216 questions, the same 72 questions in Albanian, Serbian Latin
and Serbian Cyrillic, with typos and Gheg) was written before tuning and never used for it;
content/kb/examples/tuning_people.jsonl was used for tuning. The floors below are what the knowledge base
reaches on the held-out set; `python -m bench.kb_eval` prints the figures and the confusions.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.kb import KnowledgeBase
from bot.kb.commands import DEFAULT_KB_DIR
from bot.kb.evaluation import Question, decide, evaluate, knowledge_base_ranker, read_questions
from bot.text import cyrillic_to_latin

TESTS = Path(__file__).resolve().parent
EXAMPLES = TESTS.parent / "content" / "kb" / "examples"
SHARED = Path(os.environ.get("HOMEWARD_SHARED_DIR", TESTS.parents[1] / "shared"))
SETS = [
    *sorted(EXAMPLES.glob("*.jsonl")),
    *sorted(TESTS.glob("kb_questions_*.jsonl")),
]
DEV = SHARED / "content" / "kb-dev-questions.jsonl"
if DEV.exists():
    SETS.append(DEV)
# Written before two rounds of tuning and kept out of them: checked for its form, for reaching the
# same topic in both Serbian scripts, and against the hybrid's floor (tests/test_kb_hybrid.py); the
# lexical ranking alone still answers 2 of its psychosocial or emergency questions with another topic.
FRESH = EXAMPLES / "fresh.jsonl"
SCORED_SETS = [path for path in SETS if path != FRESH]
KB = KnowledgeBase.load(DEFAULT_KB_DIR)
PEOPLE = read_questions(EXAMPLES / "people.jsonl")

_LATIN_PAIRS = (("lj", "љ"), ("nj", "њ"), ("dž", "џ"), ("Lj", "Љ"), ("Nj", "Њ"), ("Dž", "Џ"))
_LATIN = dict(zip("abcčćdđefghijklmnoprsštuvzž", "абцчћдђефгхијклмнопрсштувзж", strict=True))
_LATIN.update({k.upper(): v.upper() for k, v in list(_LATIN.items())})


def latin_to_cyrillic(text: str) -> str:
    """Serbian Latin typed as a person would type it in Cyrillic (letter by letter, digraphs first)."""
    out, i = [], 0
    while i < len(text):
        for latin, cyrillic in _LATIN_PAIRS:
            if text.startswith(latin, i):
                out.append(cyrillic)
                i += len(latin)
                break
        else:
            out.append(_LATIN.get(text[i], text[i]))
            i += 1
    return "".join(out)


def serbian_questions() -> list[Question]:
    return [q for path in SETS for q in read_questions(path) if q.lang == "sr"]


def _top(text: str, lang: str | None) -> str | None:
    ranked = KB.rank(text, lang, limit=1)
    return ranked[0][0] if ranked else None


@pytest.mark.parametrize("question", serbian_questions(), ids=lambda q: q.text[:40])
def test_the_same_question_reaches_the_same_topic_in_both_scripts(question: Question) -> None:
    other = cyrillic_to_latin(question.text) if question.text != cyrillic_to_latin(question.text) else None
    other = other or latin_to_cyrillic(question.text)
    for lang in ("sr", None):
        assert _top(question.text, lang) == _top(other, lang), (question.text, other, lang)
        assert KB.match(question.text, lang).kind == KB.match(other, lang).kind, (question.text, other, lang)


def test_the_people_set_has_every_question_in_three_scripts() -> None:
    groups: dict[str, set[str]] = {}
    for question in PEOPLE:
        script = (
            "sq"
            if question.lang == "sq"
            else ("sr-Cyrl" if question.text != cyrillic_to_latin(question.text) else "sr-Latn")
        )
        groups.setdefault(question.group, set()).add(script)
    assert len(PEOPLE) >= 200
    assert all(scripts == {"sq", "sr-Latn", "sr-Cyrl"} for scripts in groups.values()), groups


def test_held_out_people_questions_reach_the_right_topic() -> None:
    result = evaluate(knowledge_base_ranker(KB), PEOPLE)
    assert result.top1 >= 0.94, result.summary()
    assert result.top3 >= 0.98, result.summary()


def test_confident_wrong_answers_are_rare_and_never_about_distress_or_emergencies() -> None:
    decisions = decide(KB, PEOPLE)
    assert len(decisions.confident_wrong) / decisions.count <= 0.02, decisions.confident_wrong
    assert not decisions.sensitive_wrong, decisions.sensitive_wrong
    for path in SCORED_SETS:
        assert not decide(KB, read_questions(path)).sensitive_wrong, path.name


def test_the_reported_confident_wrong_answers_are_gone() -> None:
    # "where do I find work" was answered with legal migration abroad, with full confidence.
    match = KB.match("ku me gjet pune", "sq")
    assert match.ranked[0][0] == "employment.jobseeker"
    depressed = "ndihem shume i depresionuar dhe i lodhur qe kur u ktheva, nuk kam qejf per asgje e nuk fle"
    assert KB.match(depressed, "sq").topic_id == "psychosocial.support"
    serbian = "осећам се депресивно и уморно откад сам се вратио, ништа ме не радује и не могу да спавам"
    for text in (serbian, cyrillic_to_latin(serbian)):
        assert KB.match(text, "sr").topic_id == "psychosocial.support", text


def test_the_confusion_report_names_the_topics_mixed_up() -> None:
    # A question about work, labelled as if it were about the doctor: the report names both.
    mislabelled = Question(text="ku me gjet pune", lang="sq", topic="health.doctor")
    decisions = decide(KB, [mislabelled])
    assert decisions.confusion == (("health.doctor", "employment.jobseeker", 1),)
