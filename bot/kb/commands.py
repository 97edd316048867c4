"""The `homeward kb` command line: ask a question, check the content, evaluate retrieval."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.kb.analysis import guess_language
from bot.kb.evaluation import evaluate, keyword_baseline, knowledge_base_ranker, read_questions
from bot.kb.knowledge import KnowledgeBase
from bot.kb.topic import KnowledgeBaseError

DEFAULT_KB_DIR = Path(__file__).resolve().parents[2] / "content" / "kb"


def add_commands(subparsers: Any) -> None:
    """Register `kb ask`, `kb check` and `kb eval` on the main parser's sub-parsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--kb-dir", type=Path, default=DEFAULT_KB_DIR, help="knowledge-base folder (default: content/kb)"
    )
    kb = subparsers.add_parser("kb", help="knowledge base: ask, check, evaluate", parents=[common])
    commands = kb.add_subparsers(dest="kb_command", required=True)

    ask = commands.add_parser("ask", help="rank topics for a question", parents=[common])
    ask.add_argument("text", help="the question")
    ask.add_argument("--lang", choices=["sq", "sr"], help="language hint")
    ask.add_argument("--json", action="store_true", help='print {"results": [{"topic", "score"}, ...]}')
    ask.set_defaults(func=run_ask)

    check = commands.add_parser("check", help="report incomplete content", parents=[common])
    check.set_defaults(func=run_check)

    ev = commands.add_parser("eval", help="accuracy and speed on a JSONL question set", parents=[common])
    ev.add_argument("file", type=Path, help='JSON Lines of {"q", "lang", "topic"}')
    ev.add_argument("--baseline", action="store_true", help="also run the naive keyword baseline")
    ev.set_defaults(func=run_eval)


def _load(args: argparse.Namespace) -> KnowledgeBase | None:
    try:
        return KnowledgeBase.load(args.kb_dir)
    except KnowledgeBaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def run_ask(args: argparse.Namespace) -> int:
    """Print the ranking for one question, as a table or as JSON."""
    kb = _load(args)
    if kb is None:
        return 2
    match = kb.match(args.text, args.lang)
    if args.json:
        results = [{"topic": topic_id, "score": score} for topic_id, score in kb.rank(args.text, args.lang)]
        print(json.dumps({"results": results}, ensure_ascii=False))
        return 0
    cyrillic = any("\u0400" <= letter <= "\u04ff" for letter in args.text)
    locale = "sr-Latn" if (args.lang or ("sr" if cyrillic else guess_language(args.text))) == "sr" else "sq"
    print(f"decision: {match.kind}")
    for topic_id, score in kb.rank(args.text, args.lang):
        print(f"{score:6.3f}  {topic_id:34}  {kb.topic(topic_id).title(locale)}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Print what keeps the content from being complete; exit 1 if anything does."""
    kb = _load(args)
    if kb is None:
        return 2
    problems = kb.problems()
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"OK: {len(kb.topics)} topics, complete in Albanian and Serbian, every one with a source")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Print top-1 / top-3 accuracy and latency on a question set, optionally against the baseline."""
    kb = _load(args)
    if kb is None:
        return 2
    try:
        questions = read_questions(args.file)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = evaluate(knowledge_base_ranker(kb), questions)
    print(f"knowledge base  {result.summary()}")
    if args.baseline:
        base = evaluate(keyword_baseline(kb), questions)
        print(f"baseline        {base.summary()}")
    for question, ranked in result.misses:
        got = ", ".join(f"{tid} {score:.2f}" for tid, score in ranked) or "nothing"
        print(f"  miss: {question.text!r} expected {question.topic}, got {got}")
    return 0
