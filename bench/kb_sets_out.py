"""Each example set left out of the examples in turn and asked as new questions: how the examples generalise.

The knowledge base's examples (content/kb/examples/*.jsonl) are embedded beside the topics' own
texts, so each set ranks almost perfectly against them. Here every set is taken out of the
examples (its questions no longer among the embedded texts) and its questions are asked as new
ones, for the hybrid ranking; it prints top-1 / top-3 and what people would get per set and over
all sets, like `bench.kb_eval`. A change to the ranking or to the topics' phrasings that gains on
the sets written blind but loses here fits those sets rather than the questions people ask.
Run: python -m bench.kb_sets_out [--kb-dir content/kb]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.kb_eval import load_embeddings
from bot.kb import KnowledgeBase
from bot.kb.commands import DEFAULT_KB_DIR
from bot.kb.evaluation import decide, evaluate, knowledge_base_ranker, read_questions
from bot.kb.knowledge import EXAMPLES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, default=DEFAULT_KB_DIR)
    args = parser.parse_args()
    full = KnowledgeBase.load(args.kb_dir)
    embeddings = load_embeddings(full)
    if embeddings is None:
        return 1
    topics = [full.topic(topic_id) for topic_id in full.topics]
    hits1 = hits3 = count = wrong = 0
    for path in sorted((args.kb_dir / EXAMPLES).glob("*.jsonl")):
        questions = read_questions(path)
        asked = {(q.text, q.topic) for q in questions}
        kept = [(text, topic_id) for text, topic_id in full.examples if (text, topic_id) not in asked]
        kb = KnowledgeBase(topics, kept, full.example_languages)
        reduced = embeddings.leaving_out(asked)
        reduced.forget()
        kb.use_embeddings(reduced)
        result = evaluate(knowledge_base_ranker(kb), questions)
        decisions = decide(kb, questions)
        print(f"{path.name} left out ({len(questions)})")
        print(f"  hybrid          {result.summary()}")
        print(f"  decisions       {decisions.summary()}")
        for question, got in decisions.sensitive_wrong:
            print(f"  psychosocial/emergency wrong: {question.text!r} expected {question.topic}, answered {got}")
        hits1 += round(result.top1 * result.count)
        hits3 += round(result.top3 * result.count)
        count += result.count
        wrong += len(decisions.confident_wrong)
    print(
        f"all sets left out in turn ({count}): top-1 {hits1 / count:.3f}  top-3 {hits3 / count:.3f}  "
        f"confident wrong {wrong} ({wrong / count:.3f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
