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
from db.migrate import upgrade_async
from db.session import Database


async def run_export(settings: Settings, what: str, fmt: str, output: str | None, since: datetime | None,
                     locale: str | None = None) -> int:
    await upgrade_async(settings.database_url)
    db = Database(settings.database_url)
    try:
        with ExitStack() as stack:
            out: IO[Any]
            if output:
                out = stack.enter_context(open(output, "wb" if fmt == "xlsx" else "w", encoding=None if fmt == "xlsx"
                                               else "utf-8", newline="" if fmt == "csv" else None))
            else:
                out = sys.stdout.buffer if fmt == "xlsx" else sys.stdout
            if what == "transcripts":
                count = await export_transcripts(db, fmt, out, since)
            elif what == "followups":
                forms = Questionnaires.load(settings.content_dir / "forms")
                count = await export_followups(db, forms.items[FORM_ID], fmt, out, since, locale)
            else:
                print(f"export of {what} is not available in this version", file=sys.stderr)
                return 2
        print(f"{count} records written", file=sys.stderr)
        return 0
    finally:
        await db.dispose()
