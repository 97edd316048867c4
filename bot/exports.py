"""`homeward export …`: writes an export to a file or standard output."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import datetime
from typing import IO, Any

from bot.config import Settings
from bot.followup.contacts import FORM_ID
from bot.followup.export import export as export_followups
from bot.questionnaires import Questionnaires
from bot.transcripts import export as export_transcripts
from bot.youth.export import export as export_signups
from db.migrate import upgrade_async

SIGNUP_FORM = "youth_signup"


async def run_export(
    settings: Settings,
    what: str,
    fmt: str,
    output: str | None,
    since: datetime | None,
    locale: str | None = None,
    redacted: bool = False,
    *,
    programme: str | None = None,
    cohort: int | None = None,
) -> int:
    await upgrade_async(settings.database_url)
    db = settings.database()
    try:
        with ExitStack() as stack:
            out: IO[Any]
            if output:
                # A command-line export owns its process: a blocking open of the output file is fine here.
                out = stack.enter_context(
                    open(  # noqa: ASYNC230
                        output,
                        "wb" if fmt == "xlsx" else "w",
                        encoding=None if fmt == "xlsx" else "utf-8",
                        newline="" if fmt == "csv" else None,
                    )
                )
            else:
                out = sys.stdout.buffer if fmt == "xlsx" else sys.stdout
            if what == "transcripts":
                count = await export_transcripts(db, fmt, out, since, redacted=redacted)
            elif what == "followups":
                forms = Questionnaires.load(settings.content_dir / "forms")
                count = await export_followups(db, forms.items[FORM_ID], fmt, out, since, locale, redacted)
            elif what == "signups":
                forms = Questionnaires.load(settings.content_dir / "forms")
                count = await export_signups(
                    db, forms.items[SIGNUP_FORM], fmt, out, programme=programme, cohort=cohort, since=since
                )
            else:
                print(f"export of {what} is not available in this version", file=sys.stderr)
                return 2
        print(f"{count} records written", file=sys.stderr)
        return 0
    finally:
        await db.dispose()
