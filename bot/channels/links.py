"""Links that open a chat with Homeward in each messaging app, carrying a start payload.

Telegram: `https://t.me/<bot>?start=<payload>` (the app sends `/start <payload>`). WhatsApp:
`https://wa.me/<number>?text=/start%20<payload>` (the app opens the chat with the words written in,
the person sends them). Viber: `viber://pa?chatURI=<uri>&context=<payload>` (the app opens the chat
and Viber calls with `conversation_started` and the payload as its `context`). A link is made only
when what it needs is known: the bot's username, the business number, the bot account's URI.
"""

from __future__ import annotations

from urllib.parse import quote

from bot.config import Settings

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


def start_command(payload: str) -> str:
    """What a person sends to start with `payload` when no link can be made."""
    return f"/start {payload}"


def start_link(app: str, payload: str, settings: Settings, bot_username: str | None) -> str | None:
    """The link that opens Homeward in `app` with `payload`, or None when it cannot be made."""
    if app == "telegram" and bot_username:
        return f"https://t.me/{bot_username}?start={quote(payload, safe='')}"
    if app == "whatsapp" and settings.whatsapp_number:
        number = "".join(c for c in settings.whatsapp_number if c.isdigit())
        return f"https://wa.me/{number}?text={quote(start_command(payload), safe='')}" if number else None
    if app == "viber" and settings.viber_chat_uri:
        return f"viber://pa?chatURI={quote(settings.viber_chat_uri, safe='')}&context={quote(payload, safe='')}"
    return None
