"""The `homeward viber set-webhook URL` command: register Homeward's address with Viber, and say what is wrong.

It reads the bot account with the configured token, then sets the webhook to URL + `/viber/webhook`
(Viber calls it at once with a `webhook` callback, so Homeward must already be serving there).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiohttp import ClientError

from bot.channels import viber
from bot.config import Settings

PATH = "/viber/webhook"


def add_commands(subparsers: Any) -> None:
    command = subparsers.add_parser("viber", help="the Viber channel")
    commands = command.add_subparsers(dest="viber_command", required=True)
    hook = commands.add_parser("set-webhook", help="register Homeward's public address with Viber")
    hook.add_argument("url", help="Homeward's public https address (the path /viber/webhook is added)")
    hook.set_defaults(func=run_set_webhook)


def run_set_webhook(args: argparse.Namespace, settings: Settings) -> int:
    code, lines = asyncio.run(set_webhook(settings, args.url))
    print("\n".join(lines))
    return code


async def set_webhook(settings: Settings, url: str) -> tuple[int, list[str]]:
    """(exit code, lines to print): 0 when set, 2 when a setting or the address is wrong, 1 when Viber refuses."""
    if not settings.viber_token:
        return 2, ["not set: HOMEWARD_VIBER_TOKEN", "the Viber channel stays off until it is set"]
    address = url.rstrip("/")
    if not address.endswith(PATH):
        address += PATH
    if not address.startswith("https://"):
        return 2, [f"Viber calls only https addresses with a trusted certificate, not {address}"]
    client = viber.ViberClient(settings.viber_api_base, settings.viber_token, settings.viber_sender_name, timeout=15)
    try:
        account = await client.account_info()
        await client.set_webhook(address)
    except viber.ViberError as exc:
        return 1, [_refusal(exc)]
    except (ClientError, OSError, TimeoutError) as exc:
        return 1, [f"cannot reach {settings.viber_api_base}: {type(exc).__name__}"]
    finally:
        await client.close()
    return 0, [
        f"ok: the bot account {account.get('name', '?')} ({account.get('uri', '?')}) now calls {address}",
        "events: " + ", ".join(("message", *viber.EVENT_TYPES)),
    ]


def _refusal(exc: viber.ViberError) -> str:
    if exc.status == 2:
        return "Viber refuses the token (HOMEWARD_VIBER_TOKEN): copy it again from the bot's Edit info screen"
    if exc.status == 1:
        return "Viber refuses the address: it must be public, https, with a trusted certificate, and answer 200"
    if exc.status in (7, 8, 9):
        return f"the bot account cannot be used: {exc.name}"
    return f"Viber answered {exc}"
