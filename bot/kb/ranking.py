"""Ranking topics for a question: BM25 over stemmed terms, with typo and prefix tolerance.

Each topic becomes one document per language, built from its title and keywords (weighted
up), its phrasings, its answer (weighted down, since answers mention many offices) and, where the
knowledge base has them, its example questions (weighted down further: many, and as people write).
A query term that is not in the vocabulary, or only half of a compound, still counts through
its nearest vocabulary terms: a typo within a small edit distance (rapidfuzz), or a stem that
is a prefix of the other ("shendet" / "shendetesor"). Each query term contributes through its
best match in a document, so one word typed three ways is not counted three times.

Scores are normalised to 0–1 by the most the query could have scored, so that a threshold
means the same for a two-word and a ten-word question.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

K1 = 1.2
B = 0.6
FIELD_WEIGHTS = {"title": 2.0, "keywords": 2.0, "phrasings": 1.0, "answer": 0.4, "examples": 0.1}
_MIN_FUZZY_LEN = 4
TYPO_TRUST = 0.8  # a look-alike of a word not in the vocabulary...
TYPO_TRUST_KNOWN = 0.4  # ...and of a word that is
_MIN_PREFIX_LEN = 4
_CACHE_LIMIT = 20000


@dataclass(frozen=True)
class Field:
    """One field of a topic document in one language: its terms and how much it counts."""

    name: str
    terms: Sequence[str]


class LanguageIndex:
    """A BM25 index of the topics in one language."""

    def __init__(
        self,
        documents: Sequence[tuple[str, Sequence[Field]]],
        general: Iterable[str] = (),
        general_weight: float = 1.0,
    ) -> None:
        """`general`: terms that count `general_weight` times their usual weight, in the topics and
        in the question alike (words nearly every question may carry)."""
        tf: dict[str, dict[str, float]] = {}
        lengths: dict[str, float] = {}
        for topic_id, fields in documents:
            counts: dict[str, float] = defaultdict(float)
            for fld in fields:
                weight = FIELD_WEIGHTS[fld.name]
                for term in fld.terms:
                    counts[term] += weight
            tf[topic_id] = dict(counts)
            lengths[topic_id] = sum(counts.values())
        n_docs = max(len(documents), 1)
        avg_len = sum(lengths.values()) / n_docs if lengths else 1.0
        df: dict[str, int] = defaultdict(int)
        for counts in tf.values():
            for term in counts:
                df[term] += 1
        self.idf: dict[str, float] = {term: math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for term, d in df.items()}
        for term in general:
            if term in self.idf:
                self.idf[term] *= general_weight
        self.default_idf = math.log(1 + (n_docs - 1 + 0.5) / 1.5)
        # Term weight per document, precomputed: the BM25 saturation of the weighted frequency.
        self._postings: dict[str, dict[str, float]] = defaultdict(dict)
        for topic_id, counts in tf.items():
            norm = K1 * (1 - B + B * lengths[topic_id] / (avg_len or 1.0))
            for term, freq in counts.items():
                self._postings[term][topic_id] = freq * (K1 + 1) / (freq + norm)
        self._vocabulary = sorted(self._postings)
        self._expansions: dict[str, tuple[tuple[str, float], ...]] = {}

    def expand(self, term: str) -> tuple[tuple[str, float], ...]:
        """Vocabulary terms standing for a query term, with how much each is trusted (0–1]."""
        cached = self._expansions.get(term)
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if term in self._postings:
            found[term] = 1.0
        # A word found as it is is less likely a typo of another.
        typo = TYPO_TRUST_KNOWN if term in self._postings else TYPO_TRUST
        if len(term) >= _MIN_FUZZY_LEN:
            # One inserted letter in a short word, one wrong letter from five letters, two from eight.
            cutoff = 85.0 if len(term) < 5 else 80.0 if len(term) < 8 else 75.0
            for candidate, score, _ in process.extract(
                term, self._vocabulary, scorer=fuzz.ratio, score_cutoff=cutoff, limit=4
            ):
                if len(candidate) >= _MIN_FUZZY_LEN:
                    found[candidate] = max(found.get(candidate, 0.0), typo * (score / 100.0) ** 2)
        if len(term) >= _MIN_PREFIX_LEN:
            for candidate in self._prefix_relatives(term):
                short, long_ = sorted((len(candidate), len(term)))
                found[candidate] = max(found.get(candidate, 0.0), 0.5 + 0.3 * short / long_)
        result = tuple(sorted(found.items(), key=lambda item: -item[1]))
        if len(self._expansions) > _CACHE_LIMIT:
            self._expansions.clear()
        self._expansions[term] = result
        return result

    def _prefix_relatives(self, term: str) -> list[str]:
        """Vocabulary terms that extend the term, or that the term extends (at least 4 letters)."""
        found = [term[:n] for n in range(_MIN_PREFIX_LEN, len(term)) if term[:n] in self._postings]
        start = bisect.bisect_right(self._vocabulary, term)
        for candidate in self._vocabulary[start:]:
            if not candidate.startswith(term):
                break
            found.append(candidate)
        return found

    def scores(self, terms: Iterable[str]) -> dict[str, float]:
        """Each topic's score for the query terms, from 0 (nothing shared) to 1."""
        best_total: dict[str, float] = defaultdict(float)
        possible = 0.0
        for term in dict.fromkeys(terms):
            expansions = self.expand(term)
            if not expansions:
                possible += self.default_idf * 0.5
                continue
            possible += max(self.idf[t] for t, _ in expansions)
            best: dict[str, float] = {}
            for candidate, trust in expansions:
                weight = trust * self.idf[candidate]
                for topic_id, saturation in self._postings[candidate].items():
                    value = weight * saturation
                    if value > best.get(topic_id, 0.0):
                        best[topic_id] = value
            for topic_id, value in best.items():
                best_total[topic_id] += value
        if possible <= 0:
            return {}
        ceiling = possible * (K1 + 1)
        return {topic_id: min(total / ceiling, 1.0) for topic_id, total in best_total.items()}
