"""The knowledge base: all topics loaded from one folder, and the decision what to answer.

`match` turns a ranking into one of three outcomes: answer with the best topic, offer a few
topics when the ranking is close, or admit that nothing fits (the handler then offers a
caseworker). The thresholds were set on the shared development questions and on questions
that belong to no topic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.kb.analysis import LANGUAGES, analyse, guess_language
from bot.kb.ranking import Field, LanguageIndex
from bot.kb.topic import KnowledgeBaseError, Topic, read_topic

# Topic ids other parts of the project and the evaluation sets rely on.
REQUIRED_TOPICS: tuple[str, ...] = (
    "arrival.airport", "assistance.state_package", "assistance.eu_programmes", "community.mocr",
    "documents.birth_abroad", "documents.id_passport", "documents.certificates",
    "education.school_enrolment", "education.certificate_recognition", "education.language_courses",
    "health.doctor", "health.costs_insurance", "health.medicines", "employment.jobseeker",
    "employment.training", "employment.business", "social.assistance", "housing.rent_shelter",
    "psychosocial.support", "emergency.numbers", "migration.legal", "privacy.data",
    "youth.programme", "followup.about",
)  # fmt: skip

ANSWER_AT = 0.30  # the best topic's score from which it is answered outright...
ANSWER_LEAD = 1.35  # ...provided it leads the runner-up by this factor
OFFER_AT = 0.2  # below this, no topic is offered at all
OFFER_SHARE = 0.5  # topics offered when unsure score at least this share of the best
OTHER_LANGUAGE = 0.9  # a topic matched only through the other language counts a little less

MatchKind = Literal["answer", "unsure", "none"]


@dataclass(frozen=True)
class Match:
    """What the knowledge base makes of a question: the decision and the ranking behind it."""

    kind: MatchKind
    ranked: list[tuple[str, float]] = field(default_factory=list)

    @property
    def topic_id(self) -> str | None:
        """The topic to answer with, when the decision is to answer."""
        return self.ranked[0][0] if self.kind == "answer" and self.ranked else None


class KnowledgeBase:
    """Topics in a stable order, with an index per language for ranking questions against them."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        counts = Counter(t.id for t in topics)
        dupes = sorted(topic_id for topic_id, n in counts.items() if n > 1)
        if dupes:
            raise KnowledgeBaseError(f"topic ids used twice: {', '.join(dupes)}")
        self._topics = {t.id: t for t in topics}
        self._order = sorted(self._topics)
        self._indexes = {lang: LanguageIndex(self._documents(lang)) for lang in LANGUAGES}

    @classmethod
    def load(cls, folder: Path) -> KnowledgeBase:
        """Read every *.yaml topic in a folder; raises KnowledgeBaseError naming a bad file."""
        if not folder.is_dir():
            raise KnowledgeBaseError(f"{folder}: no such knowledge-base folder")
        topics = []
        for path in sorted(folder.glob("*.yaml")):
            topic = read_topic(path)
            if path.stem != topic.id:
                raise KnowledgeBaseError(f"{path.name}: holds topic {topic.id!r}; name the file {topic.id}.yaml")
            topics.append(topic)
        return cls(topics)

    @property
    def topics(self) -> list[str]:
        """Topic ids in a stable (alphabetical) order."""
        return list(self._order)

    def topic(self, topic_id: str) -> Topic:
        """The topic with this id; KeyError when there is none."""
        return self._topics[topic_id]

    def problems(self) -> list[str]:
        """What keeps the content from being complete, one line each; empty when complete."""
        known = set(self._order)
        found = [f"missing topic: {tid}" for tid in REQUIRED_TOPICS if tid not in known]
        for topic_id in self._order:
            found.extend(self._topics[topic_id].problems(known))
        return found

    def rank(self, text: str, lang: str | None = None, limit: int = 3) -> list[tuple[str, float]]:
        """Topics sharing anything with the text, best first, as (topic id, score 0–1)."""
        hint = lang if lang in LANGUAGES else guess_language(text)
        combined: dict[str, float] = {}
        for language, index in self._indexes.items():
            factor = OTHER_LANGUAGE if hint is not None and language != hint else 1.0
            for topic_id, score in index.scores(analyse(text, language)).items():
                value = score * factor
                if value > combined.get(topic_id, 0.0):
                    combined[topic_id] = value
        ranked = sorted(combined.items(), key=lambda item: (-item[1], item[0]))
        return [(topic_id, round(score, 4)) for topic_id, score in ranked[:limit] if score > 0]

    def match(self, text: str, lang: str | None = None) -> Match:
        """Decide whether to answer, to offer up to three topics, or to say nothing fits."""
        ranked = self.rank(text, lang, limit=3)
        if not ranked or ranked[0][1] < OFFER_AT:
            return Match("none", ranked)
        best = ranked[0][1]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if best >= ANSWER_AT and best >= ANSWER_LEAD * runner_up:
            return Match("answer", ranked)
        offered = [(tid, score) for tid, score in ranked if score >= max(OFFER_AT, OFFER_SHARE * best)]
        return Match("unsure", offered)

    def _documents(self, lang: str) -> list[tuple[str, list[Field]]]:
        documents = []
        for topic_id in self._order:
            topic = self._topics[topic_id]
            fields = [
                Field("title", analyse(topic.titles.get(lang, ""), lang)),
                Field("keywords", [t for k in topic.keywords.get(lang, ()) for t in analyse(k, lang)]),
                Field("phrasings", [t for p in topic.phrasings.get(lang, ()) for t in analyse(p, lang)]),
                Field("answer", [t for part in topic.answers.get(lang, ()) for t in analyse(part, lang)]),
            ]
            documents.append((topic_id, fields))
        return documents
