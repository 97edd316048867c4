"""The ``homeward forms`` command line: check that a questionnaire plays, and see where forms failed."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.forms.checks import check_form, summary
from bot.forms.errors import FormError
from bot.forms.loading import load_form


def add_commands(subparsers: Any) -> None:
    """Register ``forms check FILE`` and ``forms problems`` on an argparse sub-parser collection."""
    forms = subparsers.add_parser("forms", help="questionnaires (XLSForm)")
    actions = forms.add_subparsers(dest="forms_command", required=True)
    check = actions.add_parser("check", help="is an XLSForm playable in chat and complete in sq and sr?")
    check.add_argument("file", type=Path, help="an XLSForm: .md, .xlsx or .xls")
    check.add_argument("--all-problems", action="store_true", help="list every problem, each with its sheet and row")
    check.set_defaults(func=check_command)
    problems = actions.add_parser("problems", help="expressions that failed while people answered, per form row")
    problems.add_argument("--form", help="only this form id")
    problems.set_defaults(func=problems_command)


def check_command(args: argparse.Namespace) -> int:
    try:
        form = load_form(args.file)
    except FormError as err:
        if getattr(args, "all_problems", False):
            for problem in err.problems:
                print(f"{args.file}: {problem}", file=sys.stderr)
            print(f"{args.file}: {len(err.problems)} problem(s); the form cannot be played", file=sys.stderr)
        else:
            print(f"{args.file}: {err.summary()}", file=sys.stderr)
            if len(err.problems) > 1:
                print(f"{args.file}: run with --all-problems to list them all", file=sys.stderr)
        return 1
    found = check_form(form)
    for text in found:
        print(f"{args.file}: {text}", file=sys.stderr)
    if found:
        return 1
    print(summary(form))
    return 0


def problems_command(args: argparse.Namespace, settings: Any) -> int:
    """Print, per form and row, the expressions that failed in submissions (no answers are shown)."""
    from bot.forms.problems import recorded
    from db.migrate import upgrade

    upgrade(settings.database_url)

    async def run() -> list[tuple[str, int | None, str, str, str, int]]:
        db = settings.database()
        try:
            return await recorded(db, args.form)
        finally:
            await db.dispose()

    rows = asyncio.run(run())
    for form_id, row, field, part, error, count in rows:
        where = f"survey row {row}" if row else f"'{field}'"
        print(f"{form_id}: {where}: the {part} of '{field}' failed ({error}) in {count} submission(s)")
    if not rows:
        print("no failed expressions recorded")
    return 0
