"""`homeward staff add NAME --role ROLE [--municipality X ...]` and `homeward staff list`.

The password is read from standard input (one line), so it never appears in the shell history
or the process list. Creating an account is written to the audit log.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy import select

from bot.clock import Clock
from bot.config import Settings
from console import audit, auth
from db.migrate import upgrade_async
from db.staff import ROLES, StaffUser


async def _add(settings: Settings, name: str, role: str, municipalities: list[str], password: str) -> int:
    await upgrade_async(settings.database_url)
    db = settings.database()
    try:
        async with db.transaction() as session:
            now = Clock().now()
            user = await auth.create_account(
                session, name=name, password=password, role=role, municipalities=municipalities, now=now
            )
            audit.record(
                session,
                actor="cli",
                action="staff.add",
                now=now,
                target=f"staff:{user.name}",
                detail={"role": role, "municipalities": user.municipalities},
            )
    except auth.AccountError as exc:
        print(f"not created: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    scope = ", ".join(municipalities) if municipalities else "all municipalities"
    print(f"created {role} {name} ({scope})")
    return 0


async def _list(settings: Settings) -> int:
    await upgrade_async(settings.database_url)
    db = settings.database()
    try:
        async with db.sessions() as session:
            users = (await session.execute(select(StaffUser).order_by(StaffUser.name))).scalars().all()
    finally:
        await db.dispose()
    for user in users:
        where = ",".join(user.municipalities) or "*"
        print(f"{user.name}\t{user.role}\t{where}\t{'active' if user.active else 'inactive'}")
    return 0


def cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    password = sys.stdin.readline().rstrip("\r\n")
    return asyncio.run(_add(settings, args.name, args.role, args.municipality or [], password))


def cmd_staff_list(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_list(settings))


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    staff = sub.add_parser("staff", help="console accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="create a console account; the password comes from standard input")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--municipality", action="append", help="limit a caseworker to this municipality (repeatable)")
    add.set_defaults(func=cmd_staff_add)
    staff_sub.add_parser("list", help="list console accounts").set_defaults(func=cmd_staff_list)
