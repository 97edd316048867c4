"""`homeward staff …`: console accounts from the server's command line.

| command | what it does |
|---|---|
| `staff add NAME --role ROLE [--municipality X …]` | a new account; the passphrase is read from standard input |
| `staff list` | every account: name, role, municipalities, active or not |
| `staff disable NAME` · `staff enable NAME` | no more sign-in, and every open session ends at once · allowed again |
| `staff role NAME ROLE` | another role |
| `staff municipalities NAME [X …]` | limit a caseworker or youth coordinator to these (none: all) |
| `staff password NAME` | a new passphrase from standard input; the account's sessions end |
| `staff sessions end NAME` | sign the account out everywhere |

Passphrases come from standard input (one line), so they never appear in the shell history or
the process list. Every change is in the audit log with `cli:<user of the operating system>` as
who made it. Messages are in English, the language of the catalogs' source text.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.municipalities import Municipalities
from console import accounts, auth
from db.migrate import upgrade_async
from db.staff import ROLES, StaffUser

Change = Callable[[AsyncSession, StaffUser, datetime], Awaitable[accounts.Outcome]]


def actor() -> str:
    """Who runs the command, as the operating system knows them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in the environment or the password database
        return "cli:unknown"


def _registry(settings: Settings) -> Municipalities:
    return Municipalities.load(settings.content_dir / "municipalities.csv")


def _refused(verb: str, exc: auth.AccountError) -> int:
    print(f"{verb}: {exc.text(accounts.REASONS[exc.reason])}", file=sys.stderr)
    return 2


def _read_passphrase() -> str:
    return sys.stdin.readline().rstrip("\r\n")


async def _add(settings: Settings, name: str, role: str, municipalities: list[str], passphrase: str) -> int:
    await upgrade_async(settings.database_url)
    db = settings.database()
    try:
        async with db.transaction() as session:
            user = await accounts.add(
                session,
                _registry(settings),
                actor=actor(),
                name=name,
                role=role,
                municipalities=municipalities,
                passphrase=passphrase,
                now=Clock().now(),
            )
            places = list(user.municipalities)
    except auth.AccountError as exc:
        return _refused("not created", exc)
    finally:
        await db.dispose()
    scope = ", ".join(places) if places else "all municipalities"
    print(f"created {role} {name} ({scope})")
    return 0


async def _list(settings: Settings) -> int:
    await upgrade_async(settings.database_url)
    db = settings.database()
    try:
        async with db.sessions() as session:
            users = await accounts.listing(session)
    finally:
        await db.dispose()
    for user in users:
        where = ",".join(user.municipalities) or "*"
        print(f"{user.name}\t{user.role}\t{where}\t{'active' if user.active else 'inactive'}")
    return 0


async def _change(settings: Settings, name: str, change: Change) -> accounts.Outcome | auth.AccountError:
    await upgrade_async(settings.database_url)
    db = settings.database()
    try:
        async with db.transaction() as session:
            user = await accounts.find(session, name)
            return await change(session, user, Clock().now())
    except auth.AccountError as exc:
        return exc
    finally:
        await db.dispose()


def _report(name: str, done: str, outcome: accounts.Outcome | auth.AccountError) -> int:
    if isinstance(outcome, auth.AccountError):
        return _refused("not changed", outcome)
    extras = []
    if outcome.sessions:
        extras.append(f"{outcome.sessions} session(s) ended")
    if outcome.released:
        extras.append(f"{outcome.released} conversation(s) back in the queue")
    print(f"{name}: {done}" + (f" ({'; '.join(extras)})" if extras else ""))
    return 0


def cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_add(settings, args.name, args.role, args.municipality or [], _read_passphrase()))


def cmd_staff_list(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_list(settings))


def cmd_staff_disable(args: argparse.Namespace, settings: Settings) -> int:
    who = actor()

    def change(session: AsyncSession, user: StaffUser, now: datetime) -> Awaitable[accounts.Outcome]:
        return accounts.disable(session, actor=who, user=user, now=now, by=None)

    return _report(args.name, "disabled", asyncio.run(_change(settings, args.name, change)))


def cmd_staff_enable(args: argparse.Namespace, settings: Settings) -> int:
    who = actor()

    def change(session: AsyncSession, user: StaffUser, now: datetime) -> Awaitable[accounts.Outcome]:
        return accounts.enable(session, actor=who, user=user, now=now)

    return _report(args.name, "enabled", asyncio.run(_change(settings, args.name, change)))


def cmd_staff_role(args: argparse.Namespace, settings: Settings) -> int:
    who = actor()

    def change(session: AsyncSession, user: StaffUser, now: datetime) -> Awaitable[accounts.Outcome]:
        return accounts.set_role(session, actor=who, user=user, role=args.role, now=now, by=None)

    return _report(args.name, f"role is now {args.role}", asyncio.run(_change(settings, args.name, change)))


def cmd_staff_municipalities(args: argparse.Namespace, settings: Settings) -> int:
    who, registry = actor(), _registry(settings)
    chosen: list[str] = []

    async def change(session: AsyncSession, user: StaffUser, now: datetime) -> accounts.Outcome:
        outcome = await accounts.set_municipalities(
            session, registry, actor=who, user=user, municipalities=args.municipality, now=now
        )
        chosen.extend(user.municipalities)
        return outcome

    outcome = asyncio.run(_change(settings, args.name, change))
    return _report(args.name, f"limited to {', '.join(chosen) or 'all municipalities'}", outcome)


def cmd_staff_password(args: argparse.Namespace, settings: Settings) -> int:
    who, passphrase = actor(), _read_passphrase()

    def change(session: AsyncSession, user: StaffUser, now: datetime) -> Awaitable[accounts.Outcome]:
        return accounts.set_passphrase(session, actor=who, user=user, passphrase=passphrase, now=now)

    return _report(args.name, "passphrase changed", asyncio.run(_change(settings, args.name, change)))


def cmd_staff_sessions_end(args: argparse.Namespace, settings: Settings) -> int:
    who = actor()

    def change(session: AsyncSession, user: StaffUser, now: datetime) -> Awaitable[accounts.Outcome]:
        return accounts.end_sessions(session, actor=who, user=user, now=now)

    return _report(args.name, "signed out everywhere", asyncio.run(_change(settings, args.name, change)))


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    staff = sub.add_parser("staff", help="console accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="create a console account; the passphrase comes from standard input")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--municipality",
        action="append",
        help="limit a caseworker or youth coordinator to this municipality (repeatable; an id or a name)",
    )
    add.set_defaults(func=cmd_staff_add)
    staff_sub.add_parser("list", help="list console accounts").set_defaults(func=cmd_staff_list)
    disable = staff_sub.add_parser("disable", help="stop an account from signing in and end its sessions")
    disable.add_argument("name")
    disable.set_defaults(func=cmd_staff_disable)
    enable = staff_sub.add_parser("enable", help="let a disabled account sign in again")
    enable.add_argument("name")
    enable.set_defaults(func=cmd_staff_enable)
    role = staff_sub.add_parser("role", help="give an account another role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(func=cmd_staff_role)
    places = staff_sub.add_parser("municipalities", help="limit an account to municipalities (none given: all)")
    places.add_argument("name")
    places.add_argument("municipality", nargs="*", help="an id or a name; none for all municipalities")
    places.set_defaults(func=cmd_staff_municipalities)
    password = staff_sub.add_parser("password", help="a new passphrase from standard input; ends the sessions")
    password.add_argument("name")
    password.set_defaults(func=cmd_staff_password)
    sessions = staff_sub.add_parser("sessions", help="the account's signed-in sessions")
    sessions_sub = sessions.add_subparsers(dest="sessions_command", required=True)
    end = sessions_sub.add_parser("end", help="sign the account out everywhere")
    end.add_argument("name")
    end.set_defaults(func=cmd_staff_sessions_end)
