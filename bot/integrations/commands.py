"""`homeward api …`: integration tokens and webhooks from the command line, each change audited.

homeward api token add NAME --scope people:read [--scope …]   the token is printed once
homeward api token list | token revoke NAME
homeward api webhook add NAME URL --event handoff [--event …]  the signing secret is printed once
homeward api webhook list | webhook remove NAME | webhook log
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.integrations import tokens, webhooks
from console import audit
from db.migrate import upgrade_async


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


async def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[Any]]) -> int:
    await upgrade_async(settings.database_url)
    db = settings.database()
    try:
        async with db.transaction() as session:
            await work(session)
    except tokens.TokenError as exc:
        print(f"not done: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    return 0


def cmd_token_add(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> None:
        now = Clock().now()
        row, plain = await tokens.issue(session, name=args.name, scopes=args.scope or [], by=_actor(), now=now)
        audit.record(
            session,
            actor=_actor(),
            action="api.token_add",
            now=now,
            target=f"integration:{row.name}",
            detail={"scopes": row.scopes},
        )
        print(f"token for {row.name} ({', '.join(row.scopes)}), shown this once:\n{plain}")

    return asyncio.run(_in_transaction(settings, work))


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> None:
        for row in await tokens.listing(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
            print(f"{row.name}\t{','.join(row.scopes)}\t{state}\t{used}")

    return asyncio.run(_in_transaction(settings, work))


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> None:
        now = Clock().now()
        row = await tokens.revoke(session, args.name, now)
        audit.record(session, actor=_actor(), action="api.token_revoke", now=now, target=f"integration:{row.name}")
        print(f"revoked {row.name}")

    return asyncio.run(_in_transaction(settings, work))


def cmd_webhook_add(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> None:
        now = Clock().now()
        row, secret = await webhooks.subscribe(
            session, name=args.name, url=args.url, events=args.event or [], by=_actor(), now=now
        )
        audit.record(
            session,
            actor=_actor(),
            action="api.webhook_add",
            now=now,
            target=f"webhook:{row.name}",
            detail={"events": row.events},
        )
        print(f"webhook {row.name} → {row.url} ({', '.join(row.events)}); signing secret, shown this once:\n{secret}")

    return asyncio.run(_in_transaction(settings, work))


def cmd_webhook_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> None:
        for row in await webhooks.subscriptions(session):
            print(f"{row.name}\t{row.url}\t{','.join(row.events)}\t{'active' if row.active else 'removed'}")

    return asyncio.run(_in_transaction(settings, work))


def cmd_webhook_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> None:
        now = Clock().now()
        row = await webhooks.unsubscribe(session, args.name)
        audit.record(session, actor=_actor(), action="api.webhook_remove", now=now, target=f"webhook:{row.name}")
        print(f"removed {row.name}")

    return asyncio.run(_in_transaction(settings, work))


def cmd_webhook_log(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session: AsyncSession) -> None:
        for delivery, name in await webhooks.deliveries(session, limit=args.limit):
            answer = delivery.last_status if delivery.last_status is not None else (delivery.last_error or "-")
            print(
                f"{delivery.id}\t{name}\t{delivery.event_key}\t{delivery.status}\t"
                f"tries {delivery.attempts}\t{answer}\t{delivery.created_at:%Y-%m-%d %H:%M}"
            )

    return asyncio.run(_in_transaction(settings, work))


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    api = sub.add_parser("api", help="REST API tokens and outgoing webhooks for other systems")
    api_sub = api.add_subparsers(dest="api_command", required=True)

    token = api_sub.add_parser("token", help="integration tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    add = token_sub.add_parser("add", help="a new token, printed once")
    add.add_argument("name")
    add.add_argument("--scope", action="append", choices=sorted(tokens.SCOPES), help="repeatable")
    add.set_defaults(func=cmd_token_add)
    token_sub.add_parser("list", help="tokens with their scopes").set_defaults(func=cmd_token_list)
    revoke = token_sub.add_parser("revoke", help="the token stops working at once")
    revoke.add_argument("name")
    revoke.set_defaults(func=cmd_token_revoke)

    hook = api_sub.add_parser("webhook", help="outgoing webhooks")
    hook_sub = hook.add_subparsers(dest="webhook_command", required=True)
    hook_add = hook_sub.add_parser("add", help="send events to a URL, signed with a secret printed once")
    hook_add.add_argument("name")
    hook_add.add_argument("url")
    hook_add.add_argument("--event", action="append", choices=webhooks.EVENTS, help="repeatable")
    hook_add.set_defaults(func=cmd_webhook_add)
    hook_sub.add_parser("list", help="webhooks and their events").set_defaults(func=cmd_webhook_list)
    remove = hook_sub.add_parser("remove", help="stop sending to a webhook")
    remove.add_argument("name")
    remove.set_defaults(func=cmd_webhook_remove)
    log = hook_sub.add_parser("log", help="the latest deliveries, newest first")
    log.add_argument("--limit", type=int, default=50)
    log.set_defaults(func=cmd_webhook_log)
