"""Benchmark of knowledge-base retrieval on every question set, lexical and hybrid side by side.

For each set it prints top-1 / top-3 accuracy and median / p95 time per question, for the
lexical ranking, for the hybrid ranking (lexical plus the embedding model, what the bot runs
once the model is loaded), for the embedding model alone, and for the naive baseline (verbatim
word overlap, no folding, stemming or typo tolerance). Under each ranking it prints what people
would get (answer, "not sure" with buttons, nothing) and the confident wrong answers.
Before the sets it prints what loading the model costs: seconds of start-up and memory.
Off-topic messages (tests/kb_tuning_offtopic.jsonl, used for tuning) show how often something
unrelated gets an answer or buttons instead of "no answer".
It also prints the danger detector's recall on the danger set and its false alarms on the
ordinary questions (tests/kb_ordinary.jsonl and every question set).
Run: python -m bench.kb_eval [--kb-dir content/kb] [--set FILE ...] [--lexical-only]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

from bot.kb import KnowledgeBase
from bot.kb.commands import DEFAULT_KB_DIR
from bot.kb.evaluation import (
    Decisions,
    Evaluation,
    Question,
    Ranker,
    agreement,
    danger_evaluation,
    decide,
    evaluate,
    keyword_baseline,
    knowledge_base_ranker,
    read_messages,
    read_questions,
)
from bot.kb.safety import is_emergency
from bot.kb.semantic import TopicEmbeddings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SETS = [
    Path(os.environ.get("HOMEWARD_SHARED_DIR", ROOT.parent / "shared")) / "content" / "kb-dev-questions.jsonl",
    *sorted((ROOT / "content" / "kb" / "examples").glob("*.jsonl")),
]


DANGER_SET = ROOT / "tests" / "kb_danger.jsonl"
ORDINARY_SET = ROOT / "tests" / "kb_ordinary.jsonl"
OFFTOPIC_SET = ROOT / "tests" / "kb_tuning_offtopic.jsonl"


def offtopic_report(kb: KnowledgeBase, name: str) -> str:
    """How the knowledge base decides on messages that belong to no topic: ideally "no answer"."""
    messages = read_messages(OFFTOPIC_SET)
    kinds = Counter(kb.match(m.text, "sq" if m.script == "sq" else "sr").kind for m in messages)
    n = max(len(messages), 1)
    return (
        f"  {name:15} answered {kinds['answer'] / n:.3f} ({kinds['answer']})  unsure {kinds['unsure'] / n:.3f} "
        f"({kinds['unsure']})  none {kinds['none'] / n:.3f} ({kinds['none']})"
    )


def danger_report(question_sets: list[Path]) -> str:
    """Recall on the danger set and false alarms on ordinary questions, per script and overall."""
    danger = read_messages(DANGER_SET)
    ordinary = [m for path in [ORDINARY_SET, *question_sets] if path.exists() for m in read_messages(path)]
    lines = [f"danger detection  {danger_evaluation(is_emergency, danger, ordinary).summary()}"]
    for script in ("sq", "sr-Latn", "sr-Cyrl"):
        part = danger_evaluation(
            is_emergency, [m for m in danger if m.script == script], [m for m in ordinary if m.script == script]
        )
        lines.append(f"  {script:8} {part.summary()}")
    result = danger_evaluation(is_emergency, danger, ordinary)
    lines.extend(f"  missed: {m.script} {m.kind}: {m.text!r}" for m in result.missed)
    lines.extend(f"  false alarm: {m.text!r}" for m in result.false_alarms)
    return "\n".join(lines)


def decisions_report(decisions: Decisions, confusions: int = 8) -> str:
    """What people would get (answer, unsure, nothing), the confident wrong answers and the worst confusions."""
    lines = [f"  decisions       {decisions.summary()}"]
    lines.extend(
        f"  confident wrong: {question.text!r} expected {question.topic}, answered {got}"
        for question, got in decisions.confident_wrong
    )
    if decisions.confusion:
        lines.append("  confusion (expected -> ranked first, count):")
        lines.extend(f"    {expected} -> {got}: {n}" for expected, got, n in decisions.confusion[:confusions])
    return "\n".join(lines)


def _ratio(ours: float, base: float) -> str:
    return f"{ours / base:.2f}x" if base else "n/a"


def report(name: str, ours: Evaluation, base: Evaluation) -> str:
    """A few lines comparing the knowledge base with the baseline on one question set."""
    return "\n".join(
        [
            f"{name} ({ours.count} questions)",
            f"  knowledge base  {ours.summary()}",
            f"  baseline        {base.summary()}",
            f"  ratio           top-1 {_ratio(ours.top1, base.top1)}  top-3 {_ratio(ours.top3, base.top3)}  "
            f"median time {_ratio(ours.median_ms, base.median_ms)}",
        ]
    )


def same_topic_report(rank: Ranker, questions: list[Question]) -> str:
    """How many of the set's questions asked in all three scripts get the same first topic in each."""
    same, groups = agreement(rank, questions)
    return f"  same first topic in sq, sr-Latn and sr-Cyrl: {same}/{groups} questions" if groups else ""


def resident_mb() -> float:
    """This process's resident memory in MB (Linux), 0 where it cannot be read."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def load_embeddings(kb: KnowledgeBase) -> TopicEmbeddings | None:
    """Load the model and embed the topics once, printing the start-up time and memory it costs."""
    before = resident_mb()
    start = time.perf_counter()
    try:
        embeddings = TopicEmbeddings.build([kb.topic(topic_id) for topic_id in kb.topics], examples=kb.examples)
    except Exception as exc:
        print(f"embedding model not available ({exc}): lexical ranking only")
        return None
    print(
        f"embedding model loaded and {embeddings.text_count} topic texts embedded in "
        f"{time.perf_counter() - start:.1f} s (once, in the background at start); "
        f"memory {before:.0f} MB -> {resident_mb():.0f} MB"
    )
    return embeddings


def embedding_ranker(embeddings: TopicEmbeddings) -> Ranker:
    """The embedding model alone: topics by similarity."""

    def rank(text: str, lang: str | None) -> list[tuple[str, float]]:
        similarities = embeddings.similarities(text)
        return sorted(similarities.items(), key=lambda item: (-item[1], item[0]))[:3]

    return rank


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, default=DEFAULT_KB_DIR)
    parser.add_argument("--set", type=Path, action="append", dest="sets", help="JSONL question set")
    parser.add_argument("--lexical-only", action="store_true", help="do not load the embedding model")
    args = parser.parse_args()
    embeddings = None if args.lexical_only else load_embeddings(KnowledgeBase.load(args.kb_dir))
    for path in args.sets or DEFAULT_SETS:
        if not path.exists():
            print(f"{path.name}: not present, skipped")
            continue
        questions = read_questions(path)
        # A fresh knowledge base per set, so that no set profits from another's warm caches.
        kb = KnowledgeBase.load(args.kb_dir)
        ours = evaluate(knowledge_base_ranker(kb), questions)
        base = evaluate(keyword_baseline(kb), questions)
        name = f"{path.name} (examples: learned, not held out)" if path.parent.name == "examples" else path.name
        print(report(name, ours, base).replace("knowledge base", "lexical       ", 1))
        if line := same_topic_report(knowledge_base_ranker(kb), questions):
            print(line)
        print(decisions_report(decide(kb, questions)))
        if embeddings is None:
            continue
        embeddings.forget()
        alone = evaluate(embedding_ranker(embeddings), questions)
        embeddings.forget()
        kb.use_embeddings(embeddings)
        hybrid = evaluate(knowledge_base_ranker(kb), questions)
        print(f"  embedding alone {alone.summary()}")
        print(f"  hybrid          {hybrid.summary()}")
        if line := same_topic_report(knowledge_base_ranker(kb), questions):
            print(line)
        print(decisions_report(decide(kb, questions)))
    kb = KnowledgeBase.load(args.kb_dir)
    print(f"{OFFTOPIC_SET.name} ({len(read_messages(OFFTOPIC_SET))} messages that belong to no topic)")
    print(offtopic_report(kb, "lexical"))
    if embeddings is not None:
        kb.use_embeddings(embeddings)
        print(offtopic_report(kb, "hybrid"))
    print(danger_report([path for path in args.sets or DEFAULT_SETS if path.exists()]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
