"""Links that open Homeward in a given app with a start parameter (a deep link), where the app has one.

A start parameter (`g_<token>` for a guardian, `youth_<source>`, `link_<code>` to link another app, or
any word naming where a person came from) reaches the handlers the same way from every app, as
`/start <parameter>`:

- Telegram: `https://t.me/<bot>?start=<parameter>`; the bot's username is asked of Telegram at start.
- Viber: `viber://pa?chatURI=<uri>&context=<parameter>`; Viber gives the parameter as the `context`
  of `conversation_started` (`HOMEWARD_VIBER_CHAT_URI`).
- WhatsApp: `https://wa.me/<number>?text=/start%20<parameter>`; the person sends the prefilled text
  (`HOMEWARD_WHATSAPP_PHONE_NUMBER`).

Without the setting that names the account there is no link (None): the caller then gives plain
instructions (the code, or the command to type).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.services import Services

# Telegram's rule for a start parameter, which the other apps' links keep too.
PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
APP_NAMES = {"telegram": "Telegram", "viber": "Viber", "whatsapp": "WhatsApp"}


def app_link(services: Services, channel: str, parameter: str) -> str | None:
    """The link that opens Homeward in `channel` and starts it with `parameter`; None where there is none."""
    if not PARAMETER.match(parameter):
        raise ValueError("a start parameter is 1 to 64 letters, digits, _ or -")
    settings = services.settings
    if channel == "telegram":
        username = services.extras.get("bot_username")
        return f"https://t.me/{username}?start={parameter}" if username else None
    if channel == "viber":
        uri = (settings.viber_chat_uri or "").strip()
        return f"viber://pa?chatURI={quote(uri, safe='')}&context={parameter}" if uri and settings.viber_token else None
    if channel == "whatsapp":
        number = re.sub(r"\D", "", settings.whatsapp_phone_number or "")
        enabled = settings.whatsapp_token and settings.whatsapp_phone_number_id
        return f"https://wa.me/{number}?text={quote('/start ' + parameter, safe='')}" if number and enabled else None
    return None  # the web chat: a page, not an app account


def other_apps(services: Services, here: str, parameter: str) -> list[tuple[str, str]]:
    """(app name, link) for every app but `here` that has a link in this deployment."""
    found = []
    for channel, name in APP_NAMES.items():
        if channel == here:
            continue
        link = app_link(services, channel, parameter)
        if link is not None:
            found.append((name, link))
    return found
