"""`homeward export …`: writes an export to a file or standard output, and records it in the audit log.

The audit entry names the operating-system user who ran the command (`cli:<user>`), as the
console's entries name the staff member.
"""

from __future__ import annotations

import getpass
import os
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import IO, Any

from bot.config import Settings
from bot.followup.contacts import FORM_ID
from bot.followup.export import export as export_followups
from bot.questionnaires import Questionnaires
from bot.transcripts import export as export_transcripts
from bot.youth.export import export as export_signups
from db.migrate import upgrade_async
from db.models import AuditEntry

SIGNUP_FORM = "youth_signup"


def os_user() -> str:
    """Who runs this command, as the operating system knows them."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no password-file entry: the numeric id still says who
        return f"uid {os.getuid()}"


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
                count = await export_transcripts(db, fmt, out, since, redacted=redacted, timezone=settings.timezone)
            elif what == "followups":
                forms = Questionnaires.load(settings.content_dir / "forms")
                count = await export_followups(
                    db, forms.items[FORM_ID], fmt, out, since, locale, redacted, timezone=settings.timezone
                )
            elif what == "signups":
                forms = Questionnaires.load(settings.content_dir / "forms")
                count = await export_signups(
                    db,
                    forms.items[SIGNUP_FORM],
                    fmt,
                    out,
                    programme=programme,
                    cohort=cohort,
                    since=since,
                    redacted=redacted,
                )
            else:
                print(f"export of {what} is not available in this version", file=sys.stderr)
                return 2
        async with db.transaction() as session:
            session.add(
                AuditEntry(
                    at=datetime.now(UTC),
                    actor=f"cli:{os_user()}"[:80],
                    action=f"export.{what}",
                    target=None,
                    detail={
                        "format": fmt,
                        "since": since.isoformat() if since else None,
                        "records": count,
                        "redacted": redacted,
                        "output": "file" if output else "standard output",
                        **({"programme": programme, "cohort": cohort} if what == "signups" else {}),
                    },
                )
            )
        print(f"{count} records written", file=sys.stderr)
        return 0
    finally:
        await db.dispose()
