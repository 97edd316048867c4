"""The `homeward whatsapp check` command: are the WhatsApp settings complete, and does Meta accept them?

It reads the phone number through the Graph API with the configured token and says plainly what
is wrong: a missing setting, a token Meta refuses, a phone number id the token cannot see, an
address that cannot be reached, or templates missing for a locale (replies outside the 24-hour
window are then skipped).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiohttp import ClientError

from bot.channels import whatsapp
from bot.config import Settings
from bot.i18n import LOCALES
from bot.outbox import PURPOSES


def add_commands(subparsers: Any) -> None:
    wa = subparsers.add_parser("whatsapp", help="the WhatsApp Cloud API channel")
    commands = wa.add_subparsers(dest="whatsapp_command", required=True)
    check = commands.add_parser("check", help="verify the credentials with Meta and report what is missing")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    code, lines = asyncio.run(check(settings))
    print("\n".join(lines))
    return code


async def check(settings: Settings) -> tuple[int, list[str]]:
    """(exit code, lines to print): 0 when WhatsApp can run, 2 when a setting is missing, 1 when Meta refuses."""
    missing = [
        name
        for name, value in (
            ("HOMEWARD_WHATSAPP_TOKEN", settings.whatsapp_token),
            ("HOMEWARD_WHATSAPP_PHONE_NUMBER_ID", settings.whatsapp_phone_number_id),
            ("HOMEWARD_WHATSAPP_APP_SECRET", settings.whatsapp_app_secret),
            ("HOMEWARD_WHATSAPP_VERIFY_TOKEN", settings.whatsapp_verify_token),
        )
        if not value
    ]
    if missing:
        return 2, [f"not set: {name}" for name in missing] + ["the WhatsApp channel stays off until they are set"]
    assert settings.whatsapp_token and settings.whatsapp_phone_number_id
    client = whatsapp.GraphClient(
        settings.whatsapp_api_base, settings.whatsapp_token, settings.whatsapp_phone_number_id, timeout=15
    )
    try:
        number = await client.phone_number()
    except whatsapp.GraphError as exc:
        return 1, [_refusal(exc, settings)]
    except (ClientError, OSError, TimeoutError) as exc:
        return 1, [f"cannot reach {settings.whatsapp_api_base}: {type(exc).__name__}"]
    finally:
        await client.close()
    lines = [
        f"ok: the token can send from {number.get('display_phone_number', '?')} ({number.get('verified_name', '?')})",
        "webhook: GET and POST /whatsapp/webhook on the console's address; subscribe the app to the `messages` field",
    ]
    for purpose in PURPOSES.values():
        absent = [loc for loc in LOCALES if f"{purpose}:{loc}" not in settings.whatsapp_templates]
        if absent:
            lines.append(
                f"no `{purpose}` template for {', '.join(absent)}: such messages outside the 24-hour window "
                "are skipped (reason outside_window)"
            )
    return 0, lines


def _refusal(exc: whatsapp.GraphError, settings: Settings) -> str:
    if exc.code == 190 or exc.status == 401:
        return "Meta refuses the token (HOMEWARD_WHATSAPP_TOKEN): it is invalid or has expired"
    if exc.code == 100:
        return (
            f"the phone number id {settings.whatsapp_phone_number_id} is not one this token can use "
            "(HOMEWARD_WHATSAPP_PHONE_NUMBER_ID)"
        )
    if exc.code in (10, 200):
        return "the token lacks the whatsapp_business_messaging permission"
    return f"Meta answered HTTP {exc.status}: {exc}"
