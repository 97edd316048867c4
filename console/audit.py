"""The audit log: every transcript read, export and change, written in the same transaction as the act.

Entries are only ever added; the console has no route that edits or deletes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from console.ui import CONVERSATION_STATUS, ROLE_LABELS
from db.models import AuditEntry

PAGE = 100


def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    now: datetime,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor=actor[:80],
            action=action[:40],
            target=target[:80] if target else None,
            detail=detail,
        )
    )


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE))


async def entries(session: AsyncSession, *, actor: str = "", action: str = "", page: int = 1) -> AuditPage:
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(query.order_by(AuditEntry.id.desc()).offset((page - 1) * PAGE).limit(PAGE))
    return AuditPage(list(rows.scalars()), total, page)


# What each action code means, in words. Every code the code base writes has a label here
# (tests/test_audit_words.py collects them); a code without one is shown as it is.
ACTIONS: dict[str, str] = {
    "login": N_("Sign-in"),
    "login.failed": N_("Failed sign-in"),
    "login.throttled": N_("Sign-in refused after too many attempts"),
    "logout": N_("Sign-out"),
    "transcript.read": N_("Reading a transcript"),
    "transcript.denied": N_("Transcript refused: outside the account's municipalities"),
    "transcript.search": N_("Search in transcripts"),
    "conversation.take_over": N_("Take-over by a caseworker"),
    "conversation.reply": N_("Caseworker's reply"),
    "conversation.return_to_bot": N_("Conversation handed back to the bot"),
    "conversation.close": N_("Conversation closed"),
    "conversation.assign": N_("Conversation assigned"),
    "conversation.labels": N_("Labels changed"),
    "conversation.urgent": N_("Urgent flag changed"),
    "conversation.status": N_("Conversation status changed"),
    "conversation.woke": N_("Snoozed conversation opened again"),
    "conversation.auto_assign": N_("Conversation assigned automatically"),
    "note.add": N_("Note added"),
    "media.view": N_("Photo, recording or document viewed"),
    "person.return_date": N_("Return date changed"),
    "followup.send_now": N_("Follow-up sent early"),
    "followups.read": N_("Reading follow-up answers"),
    "knowledge.read": N_("Reading the questions the bot could not answer"),
    "youth.read": N_("Reading youth sign-ups"),
    "youth.programme_add": N_("Youth programme added"),
    "youth.cohort_add": N_("Cohort added"),
    "youth.cohort_capacity": N_("Places of a cohort changed"),
    "youth.guardian_confirm": N_("Guardian's consent confirmed"),
    "youth.cancel": N_("Sign-up cancelled"),
    "youth.announce": N_("Announcement to a cohort"),
    "broadcast.preview": N_("Broadcast previewed: how many it reaches"),
    "broadcast.send": N_("Broadcast sent"),
    "broadcast.queued": N_("Broadcast prepared for everyone it reaches"),
    "broadcast.failed": N_("Broadcast stopped: its messages could not all be prepared"),
    "export.transcripts": N_("Export of transcripts"),
    "export.followups": N_("Export of follow-up answers"),
    "export.signups": N_("Export of youth sign-ups"),
    "report.export": N_("Export of a report"),
    "canned.add": N_("Canned reply added"),
    "canned.remove": N_("Canned reply removed"),
    "staff.add": N_("Staff account added"),
    "staff.disable": N_("Staff account disabled"),
    "staff.enable": N_("Staff account enabled again"),
    "staff.role": N_("Role changed"),
    "staff.municipalities": N_("Municipalities of an account changed"),
    "staff.password": N_("Passphrase reset"),
    "staff.sessions_end": N_("Sessions ended"),
    "api.token_add": N_("Integration token added"),
    "api.token_revoke": N_("Integration token revoked"),
    "api.webhook_add": N_("Webhook added"),
    "api.webhook_remove": N_("Webhook removed"),
    "api.read": N_("Reading through the API"),
    "api.send": N_("Message sent through the API"),
    "mydata": N_("The person asked for their data"),
    "mydata.download": N_("The person downloaded their data"),
    "erase": N_("Erasure of a person's data"),
    "retention": N_("Removal of data past its retention period"),
}

# Where automatic assignment found the caseworker (bot.assignment).
POOLS: dict[str, str] = {
    "municipality": N_("the caseworkers of the person's municipality"),
    "all": N_("every caseworker who can see the person"),
}

# Targets: "kind:id" shown as words; conversations are links.
TARGETS: dict[str, str] = {
    "conversation": N_("conversation {id}"),
    "staff": N_("staff account {id}"),
    "beneficiary": N_("person no. {id}"),
    "integration": N_("integration {id}"),
    "webhook": N_("webhook {id}"),
    "canned": N_("canned reply no. {id}"),
    "programme": N_("programme no. {id}"),
    "cohort": N_("cohort no. {id}"),
    "signup": N_("sign-up no. {id}"),
    "broadcast": N_("broadcast no. {id}"),
}

# Detail keys shown as "Label: value"; counts, format, dates and yes/no facts have sentences of their own.
KEYS: dict[str, str] = {
    "address": N_("Network address"),
    "municipalities": N_("Municipalities"),
    "programme": N_("Programme"),
    "cohort": N_("Cohort"),
    "skipped": N_("Skipped"),
    "code": N_("Code"),
    "media": N_("Consent given by"),
    "role": N_("Role"),
    "sessions_ended": N_("Sessions ended"),
    "conversations_released": N_("Conversations released"),
    "municipalities_cleared": N_("Municipalities removed"),
    "title": N_("Title"),
    "file": N_("File"),
    "sign_ups": N_("Sign-ups shown"),
    "first": N_("First message"),
    "last": N_("Last message"),
    "previous_assignee": N_("Previously assigned to"),
    "message": N_("Message"),
    "kind": N_("Kind"),
    "submissions": N_("Answers shown"),
    "questions": N_("Questions shown"),
    "wave": N_("Wave"),
    "waves": N_("Waves"),
    "was": N_("Status before"),
    "reason": N_("Reason"),
    "until": N_("Snoozed until"),
    "was_until": N_("Was snoozed until"),
    "pool": N_("Chosen among"),
    "query": N_("Searched for"),
    "scopes": N_("Scopes"),
    "events": N_("Events"),
    "every": N_("Per"),
    "people": N_("People"),
    "reached": N_("People it reaches"),
    "attempts": N_("Attempts"),
    "error": N_("Error"),
}
LONGEST = 10  # list values beyond this many items are cut short


class Words(Protocol):
    def gettext(self, message: str, **values: Any) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str: ...

    def datetime(self, value: datetime) -> str: ...

    def date(self, value: date) -> str: ...


@dataclass(frozen=True)
class Line:
    """One audit entry in words: who did what, to what, and how."""

    at: datetime
    who: str
    did: str
    target: str
    link: str | None
    details: str


def who(actor: str, t: Words) -> str:
    kind, _, name = actor.partition(":")
    if kind == "staff" and name:
        return name
    if kind == "cli":
        return t.gettext("command line ({user})", user=name)
    if kind == "api" and name:
        return t.gettext("integration {name}", name=name)
    if actor == "person":
        return t.gettext("the person")
    if kind == "person" and name:
        return t.gettext("the person (no. {id})", id=name)
    if actor == "retention":
        return t.gettext("the retention schedule")
    if actor == "snooze":
        return t.gettext("the end of the snooze")
    if actor == "assignment":
        return t.gettext("automatic assignment")
    if actor == "broadcasts":
        return t.gettext("the preparation of broadcasts")
    return actor


def _target(target: str | None, t: Words) -> tuple[str, str | None]:
    if not target:
        return "", None
    kind, _, ident = target.partition(":")
    if kind in TARGETS and ident:
        link = f"/conversations/{ident}" if kind == "conversation" and ident.isdigit() else None
        return t.gettext(TARGETS[kind], id=ident), link
    return target, None


def _value(value: Any, t: Words) -> str:
    if isinstance(value, bool):
        return t.gettext("yes") if value else t.gettext("no")
    if value is None or value == [] or value == {}:
        return t.gettext("none")
    if isinstance(value, list):
        shown = ", ".join(_value(v, t) for v in value[:LONGEST])
        return shown + (" …" if len(value) > LONGEST else "")
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v, t)}" for k, v in value.items())
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return t.date(date.fromisoformat(value))
            if len(value) > 10 and value[4] == "-" and "T" in value:
                return t.datetime(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def _count(key: str, n: int, t: Words) -> str:
    if key == "records":
        return t.ngettext("{n} record", "{n} records", n)
    if key == "messages":
        return t.ngettext("{n} message", "{n} messages", n)
    if key == "characters":
        return t.ngettext("{n} character", "{n} characters", n)
    if key == "results":
        return t.ngettext("{n} result", "{n} results", n)
    if key == "queued":
        return t.ngettext("{n} message queued", "{n} messages queued", n)
    return t.ngettext("a wait of {n} second", "a wait of {n} seconds", n)


def details(detail: dict[str, Any] | None, t: Words, action: str = "") -> str:
    """The details of an entry as words ("3 records, CSV, redacted"), never as JSON."""
    if not detail:
        return ""
    parts: list[str] = []
    rest = dict(detail)
    for key in ("records", "messages", "characters", "results", "queued", "wait"):
        count = rest.pop(key, None)
        if isinstance(count, int) and not isinstance(count, bool):
            parts.append(_count(key, count, t))
    fmt = rest.pop("format", None)
    if fmt:
        parts.append(str(fmt).upper())
    if "redacted" in rest:
        parts.append(t.gettext("redacted") if rest.pop("redacted") else t.gettext("not redacted"))
    if rest.get("live"):
        rest.pop("live")
        parts.append(t.gettext("as it came in"))
    since = rest.pop("since", None)
    if since:
        parts.append(t.gettext("since {when}", when=_value(since, t)))
    output = rest.pop("output", None)
    if output == "file":
        parts.append(t.gettext("written to a file"))
    elif output:
        parts.append(t.gettext("written to standard output"))
    if "from" in rest and "to" in rest:
        before, after = rest.pop("from"), rest.pop("to")
        if action == "staff.role":  # role codes as the staff page names them
            before, after = (t.gettext(ROLE_LABELS[r]) if r in ROLE_LABELS else r for r in (before, after))
        elif action == "conversation.status":
            before, after = (
                t.gettext(CONVERSATION_STATUS[s]) if s in CONVERSATION_STATUS else s for s in (before, after)
            )
        parts.append(t.gettext("from {before} to {after}", before=_value(before, t), after=_value(after, t)))
    if action.startswith("broadcast.") and isinstance(rest.get("skipped"), dict):
        from console.routes.broadcasts import SKIP_REASONS  # the broadcasts' page names the reasons likewise

        rest["skipped"] = {
            t.gettext(SKIP_REASONS[reason]) if reason in SKIP_REASONS else reason: n
            for reason, n in rest["skipped"].items()
        }
    if action == "conversation.auto_assign" and rest.get("pool") in POOLS:
        rest["pool"] = t.gettext(POOLS[rest["pool"]])
    for key, value in rest.items():
        if value is None:
            continue
        label = t.gettext(KEYS[key]) if key in KEYS else key
        if key == "municipalities" and not value:  # an account limited to none sees every municipality
            everywhere = t.gettext("all municipalities")
            parts.append(f"{label}: {everywhere}")
            continue
        parts.append(f"{label}: {_value(value, t)}")
    return ", ".join(parts)


def line(entry: AuditEntry, t: Words) -> Line:
    """An entry as a sentence in the reader's language; an unknown action code is shown as it is."""
    target, link = _target(entry.target, t)
    return Line(
        at=entry.at,
        who=who(entry.actor, t),
        did=t.gettext(ACTIONS[entry.action]) if entry.action in ACTIONS else entry.action,
        target=target,
        link=link,
        details=details(entry.detail, t, entry.action),
    )
