"""Templates and the interface language of the console and the chat page.

Every label goes through the same gettext catalogs as the chat. A staff member picks Albanian,
Serbian Cyrillic, Serbian Latin or English (the catalogs' msgids, for international staff); until
someone has picked (the sign-in page, a new visitor of the chat page) every label is shown in
Albanian and Serbian side by side, so no community comes second. Jinja2 autoescapes everything,
including what returnees typed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.events import KIND_LABELS
from bot.i18n import CONSOLE_LOCALES, LOCALES, N_, Translations, Translator

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
LOCALE_NAMES = {"sq": "Shqip", "sr-Cyrl": "Српски", "sr-Latn": "Srpski", "en": "English"}
ROLE_LABELS = {
    "admin": N_("Administrator"),
    "caseworker": N_("Caseworker"),
    "youth_coordinator": N_("Youth coordinator"),
    "viewer": N_("Viewer"),
}
MODE_LABELS = {"bot": N_("With the bot"), "human": N_("With a caseworker"), "closed": N_("Conversation closed")}
# A conversation's status in the caseworkers' queue (bot.ownership.STATUSES).
CONVERSATION_STATUS = {
    "open": N_("Open, in the queue"),
    "pending": N_("Pending: waiting for the person or someone else"),
    "snoozed": N_("Snoozed until a set time"),
    "closed": N_("Conversation closed"),
}
STATUS_LABELS = {
    "received": N_("received"),
    "queued": N_("waiting to be sent"),
    "sending": N_("waiting to be sent"),
    "sent": N_("delivered"),
    "delivered": N_("delivered"),
    "read": N_("read"),
    "failed": N_("not delivered"),
    "skipped": N_("not sent"),
}
# The apps a person writes from; the names of the apps themselves are not translated.
APP_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "viber": "Viber", "web": N_("Web chat")}

# Beside the kind's name where a line without words is previewed (the inbox).
KIND_ICONS = {"photo": "📷", "voice": "🎤", "audio": "🎵", "video": "🎬", "video_note": "🎬", "location": "📍"}


class BothLanguages:
    """Albanian and Serbian (Cyrillic) side by side, for pages where nobody has chosen a language yet."""

    locale = "sq sr-Cyrl"

    def __init__(self, translations: Translations) -> None:
        self._sq = translations("sq")
        self._sr = translations("sr-Cyrl")

    def gettext(self, message: str, **values: Any) -> str:
        return f"{self._sq.gettext(message, **values)} · {self._sr.gettext(message, **values)}"

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        return (
            f"{self._sq.ngettext(singular, plural, n, **values)} · {self._sr.ngettext(singular, plural, n, **values)}"
        )

    def datetime(self, value: datetime) -> str:
        return self._sq.datetime(value)

    def date(self, value: date) -> str:
        return self._sq.date(value)


Interface = Translator | BothLanguages


def interface(translations: Translations, locale: str | None) -> Interface:
    return translations(locale) if locale in CONSOLE_LOCALES else BothLanguages(translations)


def places(registry: Any, t: Interface) -> Callable[[str | None], str]:
    """Municipality ids as names in the interface language (both languages until one is chosen)."""

    def name(municipality_id: str | None) -> str:
        found = registry.get(municipality_id) if registry is not None else None
        if found is None:
            return municipality_id or ""
        if isinstance(t, BothLanguages) or t.locale not in LOCALES:  # English: both names, as each community says it
            return found.sq if found.sq == found.sr_cyrl else f"{found.sq} / {found.sr_cyrl}"
        return str(found.name(t.locale))

    return name


def municipality_choices(registry: Any, staff_municipalities: tuple[str, ...]) -> list[str]:
    """The ids offered by the inbox's municipality filter: a limited caseworker's own, else all known."""
    if staff_municipalities:
        return list(staff_municipalities)
    return [m.id for m in registry.items] if registry is not None else []


def decimal(value: float | None, places: int = 2) -> str:
    """A number with a decimal comma, as Albanian and Serbian write it; a dash when there is none."""
    return "—" if value is None else f"{value:.{places}f}".replace(".", ",")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        LOCALE_NAMES=LOCALE_NAMES,
        ROLE_LABELS=ROLE_LABELS,
        MODE_LABELS=MODE_LABELS,
        STATUS_LABELS=STATUS_LABELS,
        CONVERSATION_STATUS=CONVERSATION_STATUS,
        KIND_LABELS=KIND_LABELS,
        KIND_ICONS=KIND_ICONS,
        APP_NAMES=APP_NAMES,
        LOCALES=LOCALES,
        CONSOLE_LOCALES=CONSOLE_LOCALES,
    )
    env.filters.update(decimal=decimal, percent=percent)
    return env


def render(env: Environment, name: str, t: Interface, **context: Any) -> str:
    return env.get_template(name).render(gettext=t.gettext, ngettext=t.ngettext, t=t, **context)
