"""The knowledge base: all topics loaded from one folder, and the decision what to answer.

`match` turns a ranking into one of three outcomes: answer with the best topic, offer a few
topics when the ranking is close, or admit that nothing fits (the handler then offers a
caseworker). The thresholds were set on the shared development questions and on questions
that belong to no topic.

Ranking is lexical (BM25, `bot.kb.ranking`) until the topic embeddings are ready
(`load_embeddings`, in the background); from then on it is hybrid: each topic's lexical score
plus `EMBEDDING_WEIGHT × (its similarity − the best similarity)` and
`SPELLING_WEIGHT × (its similarity in spelling − the best one)` (`bot.kb.spelling`: character
n-grams and stems against the topics' texts and the examples), so the topic closest in meaning and
in spelling keeps its lexical score and the others lose in proportion to how much further they are.
The psychosocial and emergency topics lose nothing in spelling: a person in distress seldom writes
like anybody before.
A question is then answered outright only when the topic closest in meaning is also the hybrid's
first; otherwise the person is offered the few best topics. The weight and that rule were chosen
on the tuning questions and on each topic's own phrasings left out in turn, never on the
held-out sets. If the model cannot be loaded, ranking stays lexical.

Two guards were calibrated the same way, with off-topic messages (tests/kb_tuning_offtopic.jsonl)
as the counterweight. A question that shares too few words with any topic but is clearly closer
in meaning to one topic than to all others (a person in distress rarely uses the words of the
topic's title) gets the "not sure" buttons instead of nothing: off-topic messages are about as
close to two or three topics at once. And no other topic is answered outright while the
psychosocial or the emergency topic is offered close behind it: the person chooses.

Examples: the folder's `examples/*.jsonl` hold people's questions labelled with their topic (one
JSON object a line: "q", "lang", "topic"), the question sets written over earlier rounds. They are
embedded beside the topics' own texts and compared in spelling with a new question, so that a new
question close to how people asked before finds its topic, and their words are indexed with the
topic's in their language, counting a tenth of a phrasing's (`FIELD_WEIGHTS` in `bot.kb.ranking`):
the words people use for a topic rank it, and words all topics' examples share count for less.
Whether anything fits at all (the "no answer" guard) is still judged on the topics' own words, as
it was calibrated. Measured with each
set written blind left out of the examples in turn: see the README's knowledge-base figures.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.kb.analysis import GENERAL_WEIGHT, LANGUAGES, analyse, general_terms, guess_language
from bot.kb.ranking import Field, LanguageIndex
from bot.kb.semantic import TopicEmbeddings
from bot.kb.spelling import SpellingNeighbours
from bot.kb.topic import KnowledgeBaseError, Topic, read_topic

EXAMPLES = "examples"  # the folder of example questions, inside the knowledge-base folder

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
ANSWER_AT_AGREED = 0.27  # ...or, ranking hybrid, since the topic closest in meaning must agree...
ANSWER_LEAD = 1.35  # ...provided it leads the runner-up by this factor
OFFER_AT = 0.2  # below this, no topic is offered at all
OFFER_SHARE = 0.5  # topics offered when unsure score at least this share of the best
OTHER_LANGUAGE = 0.9  # a topic matched only through the other language counts a little less
EMBEDDING_WEIGHT = 3.0  # how much a topic loses per unit of similarity behind the closest topic
SPELLING_WEIGHT = 0.5  # ...and per unit of similarity in spelling behind the closest one (`bot.kb.spelling`)
CLEAR_MEANING_AT = 0.86  # with too few words shared, the closest topic's similarity from which...
CLEAR_MEANING_LEAD = 0.025  # ...and its lead over the next one by which the best topics are still offered
AGREE_OFFER_AT = 0.1  # with too few words shared, the lexical score from which the best topics are offered
# when the topic sharing the most words is also the closest in meaning
SENSITIVE_TOPICS: tuple[str, ...] = ("psychosocial.support", "emergency.numbers")
SENSITIVE_SHARE = 0.5  # another topic is not answered outright while one of these scores this share of it

log = logging.getLogger(__name__)

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

    def __init__(
        self,
        topics: Sequence[Topic],
        examples: Sequence[tuple[str, str]] = (),
        languages: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        """`examples`: (question, topic id) pairs embedded beside the topics' texts and indexed, weighted
        down, beside their words; `languages`: each example's language ("sq" or "sr"), guessed from its
        words when not given (an example in neither language is indexed in both)."""
        counts = Counter(t.id for t in topics)
        dupes = sorted(topic_id for topic_id, n in counts.items() if n > 1)
        if dupes:
            raise KnowledgeBaseError(f"topic ids used twice: {', '.join(dupes)}")
        self._topics = {t.id: t for t in topics}
        self._order = sorted(self._topics)
        # A question is ranked in both languages; its general words count for less in either.
        general = frozenset().union(*(general_terms(lang) for lang in LANGUAGES))
        unknown = sorted({topic_id for _, topic_id in examples if topic_id not in self._topics})
        if unknown:
            raise KnowledgeBaseError(f"examples of unknown topics: {', '.join(unknown)}")
        self.examples: tuple[tuple[str, str], ...] = tuple(examples)
        given = languages or {}
        self.example_languages: dict[tuple[str, str], str | None] = {
            example: given.get(example) or guess_language(example[0]) for example in self.examples
        }
        # Whether anything fits is judged on the topics' own words (`_own`); the ranking also counts the
        # examples' words.
        self._own = {lang: LanguageIndex(self._documents(lang), general, GENERAL_WEIGHT) for lang in LANGUAGES}
        self._indexes = (
            {
                lang: LanguageIndex(self._documents(lang, with_examples=True), general, GENERAL_WEIGHT)
                for lang in LANGUAGES
            }
            if self.examples
            else self._own
        )
        self._embeddings: TopicEmbeddings | None = None
        self._loading: threading.Thread | None = None
        self._spelling: SpellingNeighbours | None = None
        self._spelling_lock = threading.Lock()

    @classmethod
    def load(cls, folder: Path) -> KnowledgeBase:
        """Read every *.yaml topic in a folder and the example questions in its `examples/*.jsonl`;
        raises KnowledgeBaseError naming a bad file (and line)."""
        if not folder.is_dir():
            raise KnowledgeBaseError(f"{folder}: no such knowledge-base folder")
        topics = []
        for path in sorted(folder.glob("*.yaml")):
            topic = read_topic(path)
            if path.stem != topic.id:
                raise KnowledgeBaseError(f"{path.name}: holds topic {topic.id!r}; name the file {topic.id}.yaml")
            topics.append(topic)
        known = {topic.id for topic in topics}
        labelled = [e for path in sorted((folder / EXAMPLES).glob("*.jsonl")) for e in read_labelled(path, known)]
        languages = {(text, topic_id): lang for text, topic_id, lang in labelled if lang}
        return cls(topics, [(text, topic_id) for text, topic_id, _ in labelled], languages)

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

    @property
    def embeddings(self) -> TopicEmbeddings | None:
        """The topic embeddings ranking uses, once loaded; None while ranking is lexical."""
        return self._embeddings

    def spelling(self) -> SpellingNeighbours:
        """The topics' texts and examples by spelling, for the hybrid ranking: built on first use (about a
        second for a few thousand texts; `load_embeddings` builds them, off the event loop, before the
        model's embeddings are used)."""
        with self._spelling_lock:
            if self._spelling is None:
                topics = [self._topics[topic_id] for topic_id in self._order]
                self._spelling = SpellingNeighbours(topics, self.examples)
            return self._spelling

    def use_spelling(self, spelling: SpellingNeighbours) -> None:
        """Rank with these spelling neighbours from now on (`bench.kb_loo`: the same with one text left out)."""
        with self._spelling_lock:
            self._spelling = spelling

    def use_embeddings(self, embeddings: TopicEmbeddings | None) -> None:
        """Rank with these topic embeddings from now on (None: lexical ranking only)."""
        self._embeddings = embeddings

    def load_embeddings(self, background: bool = True, cache_dir: Path | None = None) -> threading.Thread | None:
        """Load the embedding model and embed the topics, in a thread of its own unless told otherwise.

        Ranking stays lexical until this is done, and for good when the model is not installed or
        fails to load (logged as a warning). With a cache folder the topic embeddings are kept for
        the next start. Returns the thread, or None when run in the caller's.
        """
        if self._loading is not None:
            return self._loading
        topics = [self._topics[topic_id] for topic_id in self._order]

        def load() -> None:
            try:
                embeddings = TopicEmbeddings.build(topics, cache_dir, self.examples)
                self.spelling()  # the hybrid's too: built before the first question ranked with the model
            except Exception as exc:  # ImportError, a missing model file, a failing engine
                log.warning("knowledge base: no embedding model (%s); ranking stays lexical", exc)
                return
            self._embeddings = embeddings
            log.info(
                "knowledge base: %d topic texts and examples embedded in %.1f s%s; ranking is hybrid",
                embeddings.text_count,
                embeddings.build_seconds,
                " (from the cache)" if embeddings.from_cache else "",
            )

        if not background:
            load()
            return None
        self._loading = threading.Thread(target=load, name="kb-embeddings", daemon=True)
        self._loading.start()
        return self._loading

    def lexical_rank(self, text: str, lang: str | None = None, own: bool = False) -> dict[str, float]:
        """Each topic sharing anything with the text, with its lexical score 0–1; `own`: counting the
        topics' own words only, not their examples'."""
        hint = lang if lang in LANGUAGES else guess_language(text)
        combined: dict[str, float] = {}
        for language, index in (self._own if own else self._indexes).items():
            factor = OTHER_LANGUAGE if hint is not None and language != hint else 1.0
            for topic_id, score in index.scores(analyse(text, language)).items():
                value = score * factor
                if value > combined.get(topic_id, 0.0):
                    combined[topic_id] = value
        return combined

    def rank(
        self, text: str, lang: str | None = None, limit: int = 3, lexical: bool = False
    ) -> list[tuple[str, float]]:
        """Topics for the text, best first, as (topic id, score 0–1); hybrid once embeddings are loaded,
        unless `lexical` asks for the words alone (a fraction of a millisecond instead of tens)."""
        return self._ranking(text, lang, lexical)[0][:limit]

    def _ranking(
        self, text: str, lang: str | None, lexical: bool = False
    ) -> tuple[list[tuple[str, float]], str | None, float, float, str | None]:
        """The full ranking, the topic closest in meaning (None while lexical), the best lexical score,
        how much closer in meaning the closest topic is than the next one (0 while lexical), and the
        topic sharing the most words (None when none shares any)."""
        scores = self.lexical_rank(text, lang)
        own = self.lexical_rank(text, lang, own=True) if self._own is not self._indexes else scores
        lexical_best = max(own.values(), default=0.0)
        lexical_first = min(own, key=lambda topic_id: (-own[topic_id], topic_id)) if own else None
        embeddings = None if lexical else self._embeddings
        if embeddings is None or not scores:
            ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
            ranking = [(topic_id, round(score, 4)) for topic_id, score in ranked if score > 0]
            return ranking, None, lexical_best, 0.0, lexical_first
        # Each topic loses in proportion to how much further it is, in spelling and in meaning, than
        # the closest topic; distress and emergencies lose nothing in spelling, which cannot tell
        # "I am looking for work and I feel low" from a plain question about work.
        spelled = self.spelling().similarities(text)
        nearest = max(spelled.values(), default=0.0)
        # Every topic takes part, so that a topic close in meaning but sharing no word can still be
        # offered among the first three; its score shows as 0.
        similarities = embeddings.similarities(text)
        closest = max(similarities, key=lambda topic_id: (similarities[topic_id], topic_id))
        top = similarities[closest]
        hybrid = {
            topic_id: scores.get(topic_id, 0.0)
            + (0.0 if topic_id in SENSITIVE_TOPICS else SPELLING_WEIGHT * (spelled.get(topic_id, 0.0) - nearest))
            + EMBEDDING_WEIGHT * (similarities.get(topic_id, -1.0) - top)
            for topic_id in self._order
        }
        ranked = sorted(hybrid.items(), key=lambda item: (-item[1], item[0]))
        second = max((value for topic_id, value in similarities.items() if topic_id != closest), default=top)
        # Below the floor the lead is not counted: every topic is far in meaning.
        lead = top - second if top >= CLEAR_MEANING_AT else 0.0
        ranking = [(topic_id, round(max(score, 0.0), 4)) for topic_id, score in ranked]
        return ranking, closest, lexical_best, lead, lexical_first

    def match(self, text: str, lang: str | None = None) -> Match:
        """Decide whether to answer, to offer up to three topics, or to say nothing fits."""
        full, closest, lexical_best, lead, lexical_first = self._ranking(text, lang)
        ranked = full[:3]
        # Whether anything fits is judged on the words shared: the model finds some topic closest
        # to any text at all. Only a topic clearly closer in meaning than every other one, or the
        # topic sharing the most words when it is also the closest in meaning (two signals that
        # agree), makes up for too few words, and then the person is offered the best topics,
        # never answered.
        if not ranked:
            return Match("none", ranked)
        if lexical_best < OFFER_AT:
            clear = closest is not None and lead >= CLEAR_MEANING_LEAD
            agree = closest is not None and closest == lexical_first and lexical_best >= AGREE_OFFER_AT
            return Match("unsure", ranked) if clear or agree else Match("none", ranked)
        best = ranked[0][1]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        agrees = closest is None or closest == ranked[0][0]
        sensitive_close = ranked[0][0] not in SENSITIVE_TOPICS and any(
            topic_id in SENSITIVE_TOPICS and score >= SENSITIVE_SHARE * best for topic_id, score in ranked[1:]
        )
        answer_at = ANSWER_AT if closest is None else ANSWER_AT_AGREED
        if best >= answer_at and best >= ANSWER_LEAD * runner_up and agrees and not sensitive_close:
            return Match("answer", ranked)
        if closest is not None:
            # A hybrid score is the lexical score less the distance in meaning: the first three are
            # offered, whatever their score.
            return Match("unsure", ranked)
        # Something fits, judged on the topics' own words; the ranking also counts the examples' words,
        # which can leave even the first topic under the floor: the first is offered all the same.
        floor = max(min(OFFER_AT, best), OFFER_SHARE * best)
        offered = [(tid, score) for tid, score in ranked if score >= floor]
        return Match("unsure", offered)

    def _documents(self, lang: str, with_examples: bool = False) -> list[tuple[str, list[Field]]]:
        asked: dict[str, list[str]] = {}
        if with_examples:
            for (text, topic_id), language in self.example_languages.items():
                if language in (lang, None):
                    asked.setdefault(topic_id, []).append(text)
        documents = []
        for topic_id in self._order:
            topic = self._topics[topic_id]
            fields = [
                Field("title", analyse(topic.titles.get(lang, ""), lang)),
                Field("keywords", [t for k in topic.keywords.get(lang, ()) for t in analyse(k, lang)]),
                Field("phrasings", [t for p in topic.phrasings.get(lang, ()) for t in analyse(p, lang)]),
                Field("answer", [t for part in topic.answers.get(lang, ()) for t in analyse(part, lang)]),
            ]
            if with_examples:
                fields.append(Field("examples", [t for q in asked.get(topic_id, ()) for t in analyse(q, lang)]))
            documents.append((topic_id, fields))
        return documents


def read_labelled(path: Path, known: set[str]) -> list[tuple[str, str, str | None]]:
    """(question, topic id, language or None) of a JSON Lines file of example questions; blank lines are
    skipped. Raises KnowledgeBaseError naming the file and line of one that is not a question of a known
    topic."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.parent.name}/{path.name}:{number}"
        try:
            item = json.loads(line)
            text, topic_id = item["q"], item["topic"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise KnowledgeBaseError(f"{where}: expected {{'q', 'lang', 'topic'}} ({exc})") from exc
        if not isinstance(text, str) or not text.strip():
            raise KnowledgeBaseError(f"{where}: the question is empty")
        if topic_id not in known:
            raise KnowledgeBaseError(f"{where}: no topic {topic_id!r}")
        lang = item.get("lang")
        found.append((text, str(topic_id), lang if lang in LANGUAGES else None))
    return found
