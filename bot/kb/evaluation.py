"""Measuring retrieval on a question set: accuracy, speed, and a naive baseline to compare against.

A question set is JSON Lines of {"q": text, "lang": "sq"|"sr", "topic": expected id}.
The baseline is what one would write first: count the question's words that appear verbatim
(lower-cased, but not folded, transliterated or stemmed) among a topic's title, keywords and
phrasings. Printing both from the same run shows what folding, stemming and typo tolerance buy.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.kb.knowledge import SENSITIVE_TOPICS, KnowledgeBase

Ranker = Callable[[str, str | None], list[tuple[str, float]]]

_RAW_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Question:
    """One question of an evaluation set and the topic that should answer it."""

    text: str
    lang: str | None
    topic: str
    group: str = ""  # the same question in other scripts shares a group


@dataclass(frozen=True)
class Evaluation:
    """Accuracy and latency of one ranker over one question set."""

    count: int
    top1: float
    top3: float
    median_ms: float
    p95_ms: float
    misses: tuple[tuple[Question, list[tuple[str, float]]], ...]

    def summary(self) -> str:
        """One line: accuracy and latency."""
        return (
            f"top-1 {self.top1:.3f}  top-3 {self.top3:.3f}  "
            f"median {self.median_ms:.3f} ms  p95 {self.p95_ms:.3f} ms  (n={self.count})"
        )


@dataclass(frozen=True)
class Message:
    """A message of the danger set or of the ordinary set, with its script and (for danger) its kind."""

    text: str
    script: str
    kind: str = ""


@dataclass(frozen=True)
class DangerEvaluation:
    """How the danger detector does: share of danger messages caught, share of ordinary ones flagged."""

    recall: float
    false_alarm_rate: float
    missed: tuple[Message, ...]
    false_alarms: tuple[Message, ...]
    danger_count: int
    ordinary_count: int

    def summary(self) -> str:
        """One line: recall and false alarms."""
        return (
            f"recall {self.recall:.3f} ({self.danger_count - len(self.missed)}/{self.danger_count})  "
            f"false alarms {self.false_alarm_rate:.3f} ({len(self.false_alarms)}/{self.ordinary_count})"
        )


def read_messages(path: Path) -> list[Message]:
    """Read a JSON Lines set of {"q", "script" or "lang", "kind"?}; also reads question sets."""
    messages = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            script = item.get("script") or _script_of(item["q"], item.get("lang"))
            messages.append(Message(text=item["q"], script=script, kind=item.get("kind", "")))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path.name}:{number}: expected {{'q', 'script'}}: {exc}") from exc
    return messages


def _script_of(text: str, lang: str | None) -> str:
    if lang == "sq":
        return "sq"
    return "sr-Cyrl" if re.search(r"[\u0400-\u04FF]", text) else "sr-Latn"


def danger_evaluation(
    detect: Callable[[str], bool], danger: Sequence[Message], ordinary: Sequence[Message]
) -> DangerEvaluation:
    """Run the detector over the danger set (all should fire) and the ordinary set (none should)."""
    missed = tuple(m for m in danger if not detect(m.text))
    alarms = tuple(m for m in ordinary if detect(m.text))
    return DangerEvaluation(
        recall=1 - len(missed) / max(len(danger), 1),
        false_alarm_rate=len(alarms) / max(len(ordinary), 1),
        missed=missed,
        false_alarms=alarms,
        danger_count=len(danger),
        ordinary_count=len(ordinary),
    )


def read_questions(path: Path) -> list[Question]:
    """Read a JSON Lines question set; blank lines are skipped."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            questions.append(
                Question(text=item["q"], lang=item.get("lang"), topic=item["topic"], group=item.get("group", ""))
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path.name}:{number}: expected {{'q', 'lang', 'topic'}}: {exc}") from exc
    return questions


def evaluate(rank: Ranker, questions: Sequence[Question]) -> Evaluation:
    """Run every question through a ranker and measure top-1, top-3 and time per question."""
    hits1 = hits3 = 0
    timings: list[float] = []
    misses = []
    for question in questions:
        start = time.perf_counter()
        ranked = rank(question.text, question.lang)
        timings.append((time.perf_counter() - start) * 1000)
        ids = [topic_id for topic_id, _ in ranked[:3]]
        hits1 += bool(ids) and ids[0] == question.topic
        hits3 += question.topic in ids
        if not ids or ids[0] != question.topic:
            misses.append((question, ranked))
    n = max(len(questions), 1)
    timings.sort()
    return Evaluation(
        count=len(questions),
        top1=hits1 / n,
        top3=hits3 / n,
        median_ms=statistics.median(timings) if timings else 0.0,
        p95_ms=timings[min(len(timings) - 1, int(0.95 * len(timings)))] if timings else 0.0,
        misses=tuple(misses),
    )


def agreement(rank: Ranker, questions: Sequence[Question]) -> tuple[int, int]:
    """Groups (the same question in Albanian, Serbian Latin and Cyrillic) whose questions all rank
    the same topic first, and the number of groups; questions without a group are left out."""
    firsts: dict[str, set[str]] = {}
    for question in questions:
        if question.group:
            ranked = rank(question.text, question.lang)
            firsts.setdefault(question.group, set()).add(ranked[0][0] if ranked else "-")
    return sum(len(topics) == 1 for topics in firsts.values()), len(firsts)


@dataclass(frozen=True)
class Decisions:
    """What the bot would do with each question: answer, offer a few topics, or say it does not know.

    A confident wrong answer is an "answer" decision with another topic than the expected one:
    the person gets a wrong answer with no hint that it might be wrong, which is worse than an
    honest "not sure".
    """

    count: int
    answered: int
    answered_right: int
    unsure: int
    unsure_with_right: int
    nothing: int
    confident_wrong: tuple[tuple[Question, str], ...]
    confusion: tuple[tuple[str, str, int], ...]  # (expected, answered or offered first, count), most first
    sensitive_wrong: tuple[tuple[Question, str], ...]  # psychosocial / emergency answered with another topic

    def summary(self) -> str:
        """One line: how questions were decided and how many confident answers were wrong."""
        n = max(self.count, 1)
        return (
            f"answered {self.answered / n:.3f} (right {self.answered_right})  unsure {self.unsure / n:.3f} "
            f"(right one offered {self.unsure_with_right})  none {self.nothing / n:.3f}  "
            f"confident wrong {len(self.confident_wrong)} ({len(self.confident_wrong) / n:.3f})  "
            f"psychosocial/emergency wrong {len(self.sensitive_wrong)}"
        )


def decide(kb: KnowledgeBase, questions: Sequence[Question]) -> Decisions:
    """Run every question through `KnowledgeBase.match` and count what the person would get."""
    answered = right = unsure = unsure_right = nothing = 0
    wrong: list[tuple[Question, str]] = []
    sensitive: list[tuple[Question, str]] = []
    confusion: dict[tuple[str, str], int] = {}
    for question in questions:
        match = kb.match(question.text, question.lang)
        first = match.ranked[0][0] if match.ranked else "-"
        if match.kind == "answer":
            answered += 1
            if first == question.topic:
                right += 1
            else:
                wrong.append((question, first))
                if question.topic in SENSITIVE_TOPICS or first in SENSITIVE_TOPICS:
                    sensitive.append((question, first))
        elif match.kind == "unsure":
            unsure += 1
            unsure_right += any(topic_id == question.topic for topic_id, _ in match.ranked)
        else:
            nothing += 1
        if first != question.topic:
            key = (question.topic, first)
            confusion[key] = confusion.get(key, 0) + 1
    pairs = sorted(((e, g, n) for (e, g), n in confusion.items()), key=lambda item: (-item[2], item[0], item[1]))
    return Decisions(
        count=len(questions),
        answered=answered,
        answered_right=right,
        unsure=unsure,
        unsure_with_right=unsure_right,
        nothing=nothing,
        confident_wrong=tuple(wrong),
        confusion=tuple(pairs),
        sensitive_wrong=tuple(sensitive),
    )


def knowledge_base_ranker(kb: KnowledgeBase) -> Ranker:
    """The ranking `match` decides on."""
    return lambda text, lang: kb.rank(text, lang, limit=3)


def keyword_baseline(kb: KnowledgeBase) -> Ranker:
    """Exact word overlap with each topic's title, keywords and phrasings, without normalisation."""
    vocab: dict[str, set[str]] = {}
    for topic_id in kb.topics:
        topic = kb.topic(topic_id)
        texts = [*topic.titles.values()]
        for group in (topic.keywords, topic.phrasings):
            for items in group.values():
                texts.extend(items)
        vocab[topic_id] = {w.lower() for text in texts for w in _RAW_WORD.findall(text)}

    def rank(text: str, lang: str | None) -> list[tuple[str, float]]:
        asked = {w.lower() for w in _RAW_WORD.findall(text)}
        scored = [(topic_id, float(len(asked & words))) for topic_id, words in vocab.items()]
        ranked = sorted((item for item in scored if item[1] > 0), key=lambda item: (-item[1], item[0]))
        return ranked[:3]

    return rank
