"""Links that open Homeward in a given app with a start parameter (a deep link), where the app has one.

A start parameter (`g_<token>` for a guardian, `youth_<source>`, `link_<code>` to link another app, or
any word naming where a person came from) reaches the handlers the same way from every app, as
`/start <parameter>`:

- Telegram: `https://t.me/<bot>?start=<parameter>`; the bot's username is asked of Telegram at start.
- Viber: `viber://pa?chatURI=<uri>&context=<parameter>`; Viber gives the parameter as the `context`
  of `conversation_started` (`HOMEWARD_VIBER_CHAT_URI`).
- WhatsApp: `https://wa.me/<number>?text=/start%20<parameter>`; the app opens the chat with the words
  written in and the person sends them (`HOMEWARD_WHATSAPP_PHONE_NUMBER`).

A link is made only for an app this deployment runs and whose account is named; otherwise None, and
the caller gives plain instructions (the code, or the command to type).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.config import Settings

# Telegram's rule for a start parameter, which the other apps' links keep too.
PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The apps where a chat identity is one person's own account, tied to a phone number.
PHONE_APPS = ("telegram", "whatsapp", "viber")
APP_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "viber": "Viber"}


def apps_on(settings: Settings) -> list[str]:
    """The messaging apps this deployment speaks, in a fixed order."""
    on = {
        "telegram": bool(settings.telegram_token),
        "whatsapp": bool(settings.whatsapp_token and settings.whatsapp_phone_number_id),
        "viber": bool(settings.viber_token),
    }
    return [app for app in PHONE_APPS if on[app]]


def start_command(parameter: str) -> str:
    """What a person sends to start with `parameter` when no link can be made."""
    return f"/start {parameter}"


def start_link(app: str, parameter: str, settings: Settings, bot_username: str | None) -> str | None:
    """The link that opens Homeward in `app` and starts it with `parameter`; None where there is none."""
    if not PARAMETER.match(parameter):
        raise ValueError("a start parameter is 1 to 64 letters, digits, _ or -")
    if app == "telegram":
        return f"https://t.me/{bot_username}?start={parameter}" if bot_username else None
    if app not in apps_on(settings):
        return None
    if app == "viber":
        uri = (settings.viber_chat_uri or "").strip()
        return f"viber://pa?chatURI={quote(uri, safe='')}&context={parameter}" if uri else None
    if app == "whatsapp":
        number = re.sub(r"\D", "", settings.whatsapp_phone_number or "")
        return f"https://wa.me/{number}?text={quote(start_command(parameter), safe='')}" if number else None
    return None  # the web chat: a page, not an app account


def other_apps(settings: Settings, bot_username: str | None, here: str, parameter: str) -> list[tuple[str, str]]:
    """(app name, link) for every app but `here` that has a link in this deployment."""
    found = []
    for app in PHONE_APPS:
        if app != here and (link := start_link(app, parameter, settings, bot_username)):
            found.append((APP_NAMES[app], link))
    return found
