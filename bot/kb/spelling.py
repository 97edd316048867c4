"""How close a question is in spelling to each topic: its character n-grams and stems against every
labelled text's, weighted by how rare they are.

The texts are those the embedding model ranks beside (each topic's titles, phrasings and keywords
in both languages, and the example questions people asked before, see `KnowledgeBase.load`).
Each text becomes two TF-IDF vectors, each of unit length, then joined and scaled to unit length:
  * the character n-grams (2 to 5 letters) of its folded words, each word padded with a space at
    either end, so "shendetesor", "shendetsor" and "shëndetësor" share most of theirs, and Gheg,
    typos and missing diacritics cost a few n-grams, not the word;
  * its stems in both languages (`analyse`), alone and in pairs, so that a word that decides the
    topic counts as a whole too.
Weights are sublinear in the count (1 + log n) and scaled by the smoothed inverse document frequency
log((1 + N) / (1 + df)) + 1 over the labelled texts. A question's similarity to a text is the cosine
of their vectors; its similarity to a topic is the mean over the topic's two closest texts, as for
the embeddings (`bot.kb.semantic.CLOSEST`).

The lexical ranking counts the examples' words at a tenth of a phrasing's (`bot.kb.ranking`); here each
example is a text of its own, as close to a question as its spelling makes it: how people asked before.
It needs NumPy (a dependency of the project) and builds in about a second for a few thousand texts.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from bot.kb.analysis import LANGUAGES, analyse
from bot.kb.semantic import closest_means, topic_texts
from bot.kb.topic import Topic
from bot.text import cyrillic_to_latin, words

SHORTEST, LONGEST = 2, 5  # the character n-grams of a word, padded with a space at either end
_CACHE_LIMIT = 2000


def _grams(text: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for word in words(text):
        padded = f" {word} "
        for n in range(SHORTEST, LONGEST + 1):
            for start in range(len(padded) - n + 1):
                found[padded[start : start + n]] += 1
    return found


def _features(text: str) -> tuple[Counter[str], Counter[str]]:
    return _grams(text), _stems(text)


def _stems(text: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for lang in LANGUAGES:
        stems = analyse(text, lang)
        found.update(f"{lang}:{stem}" for stem in stems)
        found.update(f"{lang}:{a} {b}" for a, b in pairwise(stems))
    return found


class SpellingNeighbours:
    """Topic similarities for questions by spelling; safe to call from several threads."""

    def __init__(self, topics: Sequence[Topic], examples: Sequence[tuple[str, str]] = ()) -> None:
        import numpy as np

        self._np = np
        texts, labels = topic_texts(topics, examples)
        self.text_count = len(texts)
        self._texts = texts
        self._topic_ids = list(dict.fromkeys(labels))
        column = {topic_id: n for n, topic_id in enumerate(self._topic_ids)}
        self._labels = np.array([column[label] for label in labels], dtype=np.int64)
        self._vocab: tuple[dict[str, int], dict[str, int]] = ({}, {})
        # Two passes over the texts, each text's features counted anew in the second: the counts of
        # every text at once would take several times the memory of what is kept.
        frequencies: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
        for text in texts:
            for block, features in enumerate(_features(text)):
                frequencies[block].update(features.keys())
        self._idf: list[Any] = []
        for vocab, frequency in zip(self._vocab, frequencies, strict=True):
            for feature in sorted(frequency):
                vocab[feature] = len(vocab)
            counts = np.array([frequency[f] for f in sorted(frequency)], dtype=np.float64)
            self._idf.append(np.log((1 + len(texts)) / (1 + counts)) + 1)
        del frequencies
        # The texts' vectors as postings: for each feature, the texts holding it and its weight there.
        columns: list[Any] = []
        weights: list[Any] = []
        lengths = np.zeros(len(texts), dtype=np.int64)
        for row, text in enumerate(texts):
            found = self._vector(_features(text))
            columns.append(np.fromiter(found.keys(), dtype=np.int64, count=len(found)))
            weights.append(np.fromiter(found.values(), dtype=np.float64, count=len(found)))
            lengths[row] = len(found)
        size = len(self._vocab[0]) + len(self._vocab[1])
        cols = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        order = np.argsort(cols, kind="stable")  # by feature, each feature's texts in order
        self._rows = rows[order]
        self._values = (np.concatenate(weights) if weights else np.zeros(0))[order]
        self._starts = np.searchsorted(cols[order], np.arange(size + 1))
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, dict[str, float]] = OrderedDict()

    def _vector(self, features: tuple[Counter[str], Counter[str]]) -> dict[int, float]:
        """A text's unit vector over both blocks, as {column: weight}; unknown features are left out."""
        vector: dict[int, float] = {}
        offset = 0
        for block in (0, 1):
            vocab, idf = self._vocab[block], self._idf[block]
            part = {
                offset + vocab[f]: (1 + math.log(n)) * float(idf[vocab[f]])
                for f, n in features[block].items()
                if f in vocab
            }
            norm = math.sqrt(sum(v * v for v in part.values()))
            if norm:
                vector.update({c: v / norm for c, v in part.items()})
            offset += len(vocab)
        norm = math.sqrt(sum(v * v for v in vector.values()))
        return {c: v / norm for c, v in vector.items()} if norm else {}

    def similarities(self, text: str) -> dict[str, float]:
        """Each topic's similarity to the text, 0 to 1: the mean cosine of its CLOSEST closest texts."""
        key = text.strip()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return dict(cached)  # a copy: the caller's to change, the cache stays as it was
        np = self._np
        vector = self._vector(_features(key))
        scores = np.zeros(len(self._labels))
        if vector:
            pieces = [(self._starts[c], self._starts[c + 1], w) for c, w in vector.items()]
            rows = np.concatenate([self._rows[a:b] for a, b, _ in pieces])
            weights = np.concatenate([self._values[a:b] * w for a, b, w in pieces])
            scores = np.bincount(rows, weights=weights, minlength=len(self._labels))
        result = closest_means(scores, self._labels, self._topic_ids, none=0.0)
        with self._lock:
            self._cache[key] = result
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.popitem(last=False)
        return dict(result)

    def without(self, text: str, topic_id: str) -> SpellingNeighbours:
        """The same with one of a topic's texts left out (wherever the topic has it, as a title too): how a
        phrasing ranks as if it were a new question (`bench.kb_loo`). The weights stay those of all the
        texts, the left-out one included: a question's own n-grams count a little less rare than they
        would be without it."""
        np = self._np
        key = cyrillic_to_latin(text)
        column = self._topic_ids.index(topic_id)
        keep = np.array([(t, label) != (key, column) for t, label in zip(self._texts, self._labels, strict=True)])
        renumbered = np.cumsum(keep) - 1
        held = keep[self._rows]
        features = np.repeat(np.arange(len(self._starts) - 1), np.diff(self._starts))[held]
        copy = object.__new__(SpellingNeighbours)
        copy.__dict__.update(self.__dict__)
        copy._texts = [t for t, kept in zip(self._texts, keep, strict=True) if kept]
        copy._labels = self._labels[keep]
        copy.text_count = len(copy._texts)
        copy._rows = renumbered[self._rows[held]]
        copy._values = self._values[held]
        copy._starts = np.searchsorted(features, np.arange(len(self._starts)))
        copy._lock = threading.Lock()
        copy._cache = OrderedDict()
        return copy
