"""Each topic's own phrasings, left out in turn and asked as new questions: tuning material beside the tuning set.

For every phrasing of every topic, the phrasing is removed from its topic (from the words the
lexical ranking indexes and from the texts the model embedded) and asked as a question; the
examples stay, in the words indexed and among the texts embedded. Prints
top-1 / top-3 and what people would get (answer, "not sure", nothing, confident wrong answers),
for the lexical ranking and the hybrid, like `bench.kb_eval`. The decision rule's thresholds were
calibrated on this together with content/kb/examples/tuning_people.jsonl and tuning_written.jsonl, the
development set and tests/kb_tuning_offtopic.jsonl; never on the held-out sets.
Run: python -m bench.kb_loo [--kb-dir content/kb] [--lexical-only]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from bench.kb_eval import decisions_report, load_embeddings
from bot.kb import KnowledgeBase
from bot.kb.commands import DEFAULT_KB_DIR
from bot.kb.evaluation import Decisions, Evaluation, Question, decide, evaluate, knowledge_base_ranker
from bot.kb.semantic import TopicEmbeddings


def left_out(folder: Path, embeddings: TopicEmbeddings | None) -> tuple[Evaluation, Decisions, int]:
    """Every phrasing asked of a knowledge base without it; the evaluations summed over all of them."""
    full = KnowledgeBase.load(folder)
    topics = [full.topic(topic_id) for topic_id in full.topics]
    spelling = full.spelling()  # built once; each knowledge base below gets it with its phrasing left out
    evaluations: list[Evaluation] = []
    decisions: list[Decisions] = []
    for topic in topics:
        for lang, phrasings in topic.phrasings.items():
            for phrasing in phrasings:
                others = tuple(p for p in phrasings if p != phrasing)
                changed = dataclasses.replace(topic, phrasings={**topic.phrasings, lang: others})
                kb = KnowledgeBase(
                    [changed if t.id == topic.id else t for t in topics], full.examples, full.example_languages
                )
                if embeddings is not None:
                    kb.use_embeddings(embeddings.without(phrasing, topic.id))
                    kb.use_spelling(spelling.without(phrasing, topic.id))
                question = [Question(phrasing, lang, topic.id)]
                evaluations.append(evaluate(knowledge_base_ranker(kb), question))
                decisions.append(decide(kb, question))
    n = len(evaluations)
    timings = sorted(e.median_ms for e in evaluations)
    total = Evaluation(
        count=n,
        top1=sum(e.top1 for e in evaluations) / n,
        top3=sum(e.top3 for e in evaluations) / n,
        median_ms=timings[n // 2],
        p95_ms=timings[min(n - 1, int(0.95 * n))],
        misses=tuple(m for e in evaluations for m in e.misses),
    )
    confusion: dict[tuple[str, str], int] = {}
    for d in decisions:
        for expected, got, count in d.confusion:
            confusion[(expected, got)] = confusion.get((expected, got), 0) + count
    summed = Decisions(
        count=n,
        answered=sum(d.answered for d in decisions),
        answered_right=sum(d.answered_right for d in decisions),
        unsure=sum(d.unsure for d in decisions),
        unsure_with_right=sum(d.unsure_with_right for d in decisions),
        nothing=sum(d.nothing for d in decisions),
        confident_wrong=tuple(w for d in decisions for w in d.confident_wrong),
        confusion=tuple(sorted(((e, g, c) for (e, g), c in confusion.items()), key=lambda x: (-x[2], x[0], x[1]))),
        sensitive_wrong=tuple(w for d in decisions for w in d.sensitive_wrong),
    )
    return total, summed, n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, default=DEFAULT_KB_DIR)
    parser.add_argument("--lexical-only", action="store_true", help="do not load the embedding model")
    args = parser.parse_args()
    embeddings = None if args.lexical_only else load_embeddings(KnowledgeBase.load(args.kb_dir))
    rankings = [("lexical", None)] + ([("hybrid", embeddings)] if embeddings is not None else [])
    for name, used in rankings:
        result, decisions, n = left_out(args.kb_dir, used)
        print(f"phrasings left out in turn ({n}), {name}")
        print(f"  {name:15} {result.summary()}")
        print(decisions_report(decisions))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
