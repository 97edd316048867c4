"""`homeward youth …`: programmes and cohorts, sign-ups and the waiting list, guardian consent, announcements.

For coordinators until the console shows sign-ups. Every change is written to the audit log with
the name given in `--by`. Announcements, and the message telling a young person that their
guardian's consent was recorded, are queued in the outbox; a running `homeward serve`, `bot` or
`worker` delivers them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import Translations
from bot.municipalities import Municipalities
from bot.youth.announcements import announce
from bot.youth.eligibility import DEFAULT_MAX_AGE, DEFAULT_MIN_AGE
from bot.youth.enrolments import cancel, holding, status_with_place, waiting_list, waiting_position
from bot.youth.notices import send, status_line
from bot.youth.waiting import ACTIVE, HOLDING
from db.migrate import upgrade_async
from db.models import AuditEntry
from db.youth import Cohort, Enrolment, Programme
from handlers.turn import Reply


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value}") from exc


def add_commands(subparsers: Any) -> None:
    youth = subparsers.add_parser("youth", help="youth programme: programmes, cohorts, sign-ups, announcements")
    sub = youth.add_subparsers(dest="youth_command", required=True)

    p = sub.add_parser("programme-add", help="create a programme")
    p.add_argument("code", help="short code, e.g. languages2026")
    p.add_argument("--name-sq", required=True)
    p.add_argument("--name-sr", required=True, help="the Serbian name, in Cyrillic")
    p.add_argument("--min-age", type=int, default=DEFAULT_MIN_AGE)
    p.add_argument("--max-age", type=int, default=DEFAULT_MAX_AGE)
    p.add_argument("--offer-hours", type=int, default=48, help="how long a freed place waits for an answer")
    p.add_argument("--by", required=True, help="who does this (for the audit log)")
    p.set_defaults(func=_sync(programme_add))

    p = sub.add_parser("programmes", help="list programmes")
    p.set_defaults(func=_sync(programmes))

    p = sub.add_parser("cohort-add", help="create a cohort (a group) of a programme")
    p.add_argument("--programme", required=True, help="programme code")
    p.add_argument("--name-sq", required=True)
    p.add_argument("--name-sr", required=True, help="the Serbian name, in Cyrillic")
    p.add_argument("--municipality", default="any", help="municipality id (see content/municipalities.csv) or any")
    p.add_argument("--starts", type=_day, required=True, help="YYYY-MM-DD")
    p.add_argument("--ends", type=_day, help="YYYY-MM-DD")
    p.add_argument("--capacity", type=int, required=True)
    p.add_argument("--by", required=True)
    p.set_defaults(func=_sync(cohort_add))

    p = sub.add_parser("cohorts", help="list cohorts with places held and waiting")
    p.add_argument("--programme", help="programme code")
    p.set_defaults(func=_sync(cohorts))

    p = sub.add_parser("signups", help="list sign-ups (the waiting list in order with --waiting)")
    p.add_argument("--programme", help="programme code")
    p.add_argument("--cohort", type=int)
    p.add_argument("--waiting", action="store_true", help="only the waiting list, in order")
    p.set_defaults(func=_sync(signups))

    p = sub.add_parser("guardian-confirm", help="record a parent's or guardian's consent given outside the chat")
    p.add_argument("signup", type=int)
    p.add_argument("--media", choices=["yes", "no"], default="no", help="did they also agree to photos and videos")
    p.add_argument("--by", required=True)
    p.set_defaults(func=_sync(guardian_confirm))

    p = sub.add_parser("cancel", help="cancel a sign-up; a place it held is offered to the next in line")
    p.add_argument("signup", type=int)
    p.add_argument("--by", required=True)
    p.set_defaults(func=_sync(cancel_signup))

    p = sub.add_parser("announce", help="send a message to everyone with a place in a cohort")
    p.add_argument("--cohort", type=int, required=True)
    p.add_argument("--sq", required=True, help="the text in Albanian")
    p.add_argument("--sr", required=True, help="the text in Serbian, in Cyrillic")
    p.add_argument("--by", required=True)
    p.set_defaults(func=_sync(announce_command))


Command = Callable[[argparse.Namespace, Settings, AsyncSession], Awaitable[int]]


def _sync(command: Command) -> Callable[[argparse.Namespace, Settings], int]:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        return asyncio.run(_in_transaction(command, args, settings))

    return run


async def _in_transaction(command: Command, args: argparse.Namespace, settings: Settings) -> int:
    await upgrade_async(settings.database_url)
    db = settings.database()
    try:
        async with db.transaction() as session:
            return await command(args, settings, session)
    finally:
        await db.dispose()


def _audit(session: AsyncSession, who: str, action: str, target: str, **detail: Any) -> None:
    session.add(AuditEntry(at=Clock().now(), actor=f"staff:{who}", action=action, target=target, detail=detail or None))


async def _programme(session: AsyncSession, code: str) -> Programme | None:
    return (await session.execute(select(Programme).where(Programme.code == code))).scalar_one_or_none()


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


async def programme_add(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    if await _programme(session, args.code) is not None:
        return _fail(f"a programme with the code {args.code!r} exists already")
    if not 0 < args.min_age <= args.max_age:
        return _fail("the age range must be like 15 to 24")
    programme = Programme(
        code=args.code,
        name_sq=args.name_sq,
        name_sr=args.name_sr,
        min_age=args.min_age,
        max_age=args.max_age,
        offer_hours=args.offer_hours,
        active=True,
        created_at=Clock().now(),
    )
    session.add(programme)
    await session.flush()
    _audit(session, args.by, "youth.programme_add", f"programme:{programme.id}", code=args.code)
    print(f"programme {programme.id} {args.code}: ages {args.min_age}-{args.max_age}")
    return 0


async def programmes(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    for p in (await session.execute(select(Programme).order_by(Programme.id))).scalars():
        print(
            f"{p.id}\t{p.code}\t{p.min_age}-{p.max_age}\t{'active' if p.active else 'closed'}\t{p.name_sq} / "
            f"{p.name_sr}"
        )
    return 0


async def cohort_add(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    programme = await _programme(session, args.programme)
    if programme is None:
        return _fail(f"no programme with the code {args.programme!r}")
    municipality = None if args.municipality == "any" else args.municipality
    if (
        municipality is not None
        and Municipalities.load(settings.content_dir / "municipalities.csv").get(municipality) is None
    ):
        return _fail(f"unknown municipality {municipality!r}; use an id from municipalities.csv, or any")
    if args.capacity < 1 or (args.ends is not None and args.ends < args.starts):
        return _fail("capacity must be at least 1, and the end on or after the start")
    cohort = Cohort(
        programme_id=programme.id,
        name_sq=args.name_sq,
        name_sr=args.name_sr,
        municipality=municipality,
        starts_on=args.starts,
        ends_on=args.ends,
        capacity=args.capacity,
        created_at=Clock().now(),
    )
    session.add(cohort)
    await session.flush()
    _audit(session, args.by, "youth.cohort_add", f"cohort:{cohort.id}", programme=args.programme)
    print(f"cohort {cohort.id}: {args.name_sq}, {municipality or 'any'}, from {args.starts}, {args.capacity} places")
    return 0


async def cohorts(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    query = select(Cohort, Programme.code).join(Programme, Programme.id == Cohort.programme_id).order_by(Cohort.id)
    if args.programme:
        query = query.where(Programme.code == args.programme)
    for cohort, code in (await session.execute(query)).all():
        held, waiting = await holding(session, cohort.id), len(await waiting_list(session, cohort.id))
        print(
            f"{cohort.id}\t{code}\t{cohort.name_sq}\t{cohort.municipality or 'any'}\t{cohort.starts_on}\t"
            f"{held}/{cohort.capacity} places held\t{waiting} waiting"
        )
    return 0


async def signups(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    query = select(Enrolment).join(Programme, Programme.id == Enrolment.programme_id).where(Enrolment.status != "draft")
    if args.programme:
        query = query.where(Programme.code == args.programme)
    if args.cohort:
        query = query.where(Enrolment.cohort_id == args.cohort)
    if args.waiting:
        query = query.where(Enrolment.status == "waiting").order_by(Enrolment.waiting_since, Enrolment.id)
    else:
        query = query.order_by(Enrolment.id)
    rows = (await session.execute(query)).scalars().all()
    for e in rows:
        place = await waiting_position(session, e)
        print(
            f"{e.id}\tcohort {e.cohort_id or '-'}\t{e.status}{f' #{place}' if place else ''}\t"
            f"guardian {e.guardian_state}\tsource {e.source or '-'}\t{e.full_name or ''}"
        )
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    print(f"{total} sign-ups", file=sys.stderr)
    return 0


async def guardian_confirm(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    enrolment = await session.get(Enrolment, args.signup)
    if enrolment is None or enrolment.status not in ACTIVE:
        return _fail(f"no active sign-up {args.signup}")
    if enrolment.guardian_state == "not_needed":
        return _fail(f"sign-up {args.signup} is of someone 18 or older: no guardian consent is needed")
    now = Clock().now()
    enrolment.guardian_state, enrolment.guardian_confirmed_at = "confirmed", now
    enrolment.guardian_confirmed_by = f"staff:{args.by}"
    enrolment.guardian_token_hash = None
    enrolment.media_consent = bool(enrolment.media_consent and args.media == "yes")
    if enrolment.status == "pending_guardian":
        enrolment.status = status_with_place(enrolment)
    enrolment.updated_at = now
    # The young person is told, in their own language, as when the guardian answers in the chat.
    cohort = await session.get(Cohort, enrolment.cohort_id) if enrolment.cohort_id else None
    position = await waiting_position(session, enrolment)
    skipped = await send(
        session,
        Translations(settings.locales_dir, settings.timezone),
        enrolment.beneficiary_id,
        lambda t: Reply(
            t.gettext("Your parent or guardian has agreed.") + " " + status_line(t, enrolment, cohort, position)
        ),
        now,
    )
    _audit(session, args.by, "youth.guardian_confirm", f"signup:{enrolment.id}", media=args.media)
    told = "told" if skipped is None else f"not told ({skipped})"
    print(f"sign-up {enrolment.id}: guardian consent recorded; status {enrolment.status}; the young person {told}")
    return 0


async def cancel_signup(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    enrolment = await session.get(Enrolment, args.signup)
    if enrolment is None or enrolment.status not in (*ACTIVE, "duplicate", "choosing"):
        return _fail(f"no active sign-up {args.signup}")
    held = enrolment.status in HOLDING
    cancel(enrolment, Clock().now(), "coordinator")
    _audit(session, args.by, "youth.cancel", f"signup:{enrolment.id}")
    print(f"sign-up {enrolment.id} cancelled" + ("; its place goes to the next in line" if held else ""))
    return 0


async def announce_command(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    cohort = await session.get(Cohort, args.cohort)
    if cohort is None:
        return _fail(f"no cohort {args.cohort}")
    translations = Translations(settings.locales_dir, settings.timezone)
    outcome = await announce(session, translations, cohort, args.sq, args.sr, args.by, Clock().now())
    _audit(
        session,
        args.by,
        "youth.announce",
        f"cohort:{cohort.id}",
        queued=outcome.queued,
        skipped=dict(outcome.skipped),
    )
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(outcome.skipped.items())) or "none"
    print(f"{outcome.queued} messages queued; skipped: {skipped}")
    return 0
