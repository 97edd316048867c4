"""`homeward youth …`: programmes and cohorts, sign-ups and the waiting list, guardian consent, announcements.

The console's youth page does the same through `bot.youth.coordination`, with the signed-in
person as the actor. Every change is written to the audit log with the name given in `--by`.
Announcements, and the message telling a young person that their guardian's consent was
recorded, are queued in the outbox; a running `homeward serve`, `bot` or `worker` delivers them.
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
from bot.youth import coordination
from bot.youth.coordination import Refused
from bot.youth.eligibility import DEFAULT_MAX_AGE, DEFAULT_MIN_AGE
from bot.youth.enrolments import holding, waiting_list, waiting_position
from db.migrate import upgrade_async
from db.youth import Cohort, Enrolment, Programme


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


def _fail(refused: Refused) -> int:
    print(refused.english(), file=sys.stderr)
    return 2


async def programme_add(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    try:
        programme = await coordination.add_programme(
            session,
            args.by,
            Clock().now(),
            code=args.code,
            name_sq=args.name_sq,
            name_sr=args.name_sr,
            min_age=args.min_age,
            max_age=args.max_age,
            offer_hours=args.offer_hours,
        )
    except Refused as refused:
        return _fail(refused)
    print(f"programme {programme.id} {programme.code}: ages {programme.min_age}-{programme.max_age}")
    return 0


async def programmes(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    for p in (await session.execute(select(Programme).order_by(Programme.id))).scalars():
        print(
            f"{p.id}\t{p.code}\t{p.min_age}-{p.max_age}\t{'active' if p.active else 'closed'}\t{p.name_sq} / "
            f"{p.name_sr}"
        )
    return 0


async def cohort_add(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    registry = Municipalities.load(settings.content_dir / "municipalities.csv")
    try:
        cohort = await coordination.add_cohort(
            session,
            args.by,
            Clock().now(),
            programme_code=args.programme,
            name_sq=args.name_sq,
            name_sr=args.name_sr,
            municipality=None if args.municipality == "any" else args.municipality,
            known_municipality=lambda m: registry.get(m) is not None,
            starts=args.starts,
            ends=args.ends,
            capacity=args.capacity,
        )
    except Refused as refused:
        return _fail(refused)
    print(
        f"cohort {cohort.id}: {cohort.name_sq}, {cohort.municipality or 'any'}, from {cohort.starts_on}, "
        f"{cohort.capacity} places"
    )
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
    translations = Translations(settings.locales_dir, settings.timezone)
    try:
        done = await coordination.confirm_guardian(
            session, translations, args.by, Clock().now(), args.signup, media=args.media == "yes"
        )
    except Refused as refused:
        return _fail(refused)
    told = "told" if done.skipped is None else f"not told ({done.skipped})"
    print(
        f"sign-up {done.enrolment.id}: guardian consent recorded; status {done.enrolment.status}; "
        f"the young person {told}"
    )
    return 0


async def cancel_signup(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    try:
        done = await coordination.cancel_sign_up(session, args.by, Clock().now(), args.signup)
    except Refused as refused:
        return _fail(refused)
    onward = "; its place goes to the next in line" if done.held_place else ""
    print(f"sign-up {done.enrolment.id} cancelled{onward}")
    return 0


async def announce_command(args: argparse.Namespace, settings: Settings, session: AsyncSession) -> int:
    translations = Translations(settings.locales_dir, settings.timezone)
    try:
        outcome = await coordination.announce_to_cohort(
            session, translations, args.by, Clock().now(), args.cohort, args.sq, args.sr
        )
    except Refused as refused:
        return _fail(refused)
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(outcome.skipped.items())) or "none"
    print(f"{outcome.queued} messages queued; skipped: {skipped}")
    return 0
