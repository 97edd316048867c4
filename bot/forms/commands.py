"""The ``homeward forms`` command line: check that a questionnaire plays in the chat."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.forms.checks import check_form, summary
from bot.forms.errors import FormError
from bot.forms.loading import load_form


def add_commands(subparsers: Any) -> None:
    """Register ``forms check FILE`` on an argparse sub-parser collection."""
    forms = subparsers.add_parser("forms", help="questionnaires (XLSForm)")
    actions = forms.add_subparsers(dest="forms_command", required=True)
    check = actions.add_parser("check", help="is an XLSForm playable in chat and complete in sq and sr?")
    check.add_argument("file", type=Path, help="an XLSForm: .md, .xlsx or .xls")
    check.set_defaults(func=check_command)


def check_command(args: argparse.Namespace) -> int:
    try:
        form = load_form(args.file)
    except FormError as err:
        print(f"{args.file}: {err}", file=sys.stderr)
        return 1
    problems = check_form(form)
    for problem in problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(summary(form))
    return 0
