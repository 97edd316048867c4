"""Translations for the three user locales, and dates in Kosovo's time zone.

Catalogs are gettext `.po` files: `locales/sq/` (Albanian) and `locales/sr/` (Serbian, written in
Cyrillic). The Latin-script Serbian locale is the Cyrillic text transliterated, which is exact
in that direction. Catalogs are compiled in memory when loaded, so no `.mo` step can be forgotten.
"""

from __future__ import annotations

import gettext
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.text import cyrillic_to_latin

LOCALES = ("sq", "sr-Cyrl", "sr-Latn")
# The console is also offered in English, for international staff; the chat never is. Its labels
# are the catalogs' own msgids, which are written in English.
CONSOLE_LOCALES = (*LOCALES, "en")
CATALOG_OF = {"sq": "sq", "sr-Cyrl": "sr", "sr-Latn": "sr"}
BABEL_LOCALE = {"sq": "sq", "sr-Cyrl": "sr_Cyrl", "sr-Latn": "sr_Latn", "en": "en"}
DOMAIN = "messages"
MAX_KEPT = 5000  # translated messages kept per locale: the catalogs hold about a thousand


def N_(message: str) -> str:
    """Mark a message for the catalog where it is defined; it is translated later, where it is shown."""
    return message


def load_catalog(path: Path) -> gettext.GNUTranslations:
    """Read a `.po` file and compile it in memory."""
    with path.open("rb") as f:
        catalog = read_po(f)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """User-facing text in one locale: gettext with named placeholders, plurals, dates, times."""

    def __init__(self, translations: gettext.NullTranslations, locale: str, tz: ZoneInfo) -> None:
        self.locale = locale
        self.tz = tz
        self._tr = translations
        self._latin = locale == "sr-Latn"
        self._texts: dict[str, str] = {}  # each message as shown in this locale (Latin: transliterated once)

    def _script(self, text: str) -> str:
        return cyrillic_to_latin(text) if self._latin else text

    def gettext(self, message: str, **values: Any) -> str:
        text = self._texts.get(message)
        if text is None:
            text = self._script(self._tr.gettext(message))
            if len(self._texts) < MAX_KEPT:
                self._texts[message] = text
        return text.format(**values) if values else text

    _ = gettext

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = self._script(self._tr.ngettext(singular, plural, n))
        return text.format(n=n, **values)

    def script(self, text: str) -> str:
        """Content written in Cyrillic (knowledge base, forms), shown in this locale's script."""
        return self._script(text)

    def date(self, value: date) -> str:
        return format_date(value, "d.M.yyyy", locale=BABEL_LOCALE[self.locale])

    def datetime(self, value: datetime) -> str:
        """A moment as people in Kosovo read it: local time, 24-hour clock."""
        local = value.astimezone(self.tz)
        return f"{self.date(local.date())} {local:%H:%M}"


class Translations:
    """All catalogs, loaded once; hands out a Translator per locale."""

    def __init__(self, locales_dir: Path, timezone: str = "Europe/Belgrade") -> None:
        self.tz = ZoneInfo(timezone)
        self._catalogs = {
            name: load_catalog(locales_dir / name / "LC_MESSAGES" / f"{DOMAIN}.po")
            for name in sorted(set(CATALOG_OF.values()))
        }
        self._translators = {loc: Translator(self._catalogs[CATALOG_OF[loc]], loc, self.tz) for loc in LOCALES}
        self._translators["en"] = Translator(gettext.NullTranslations(), "en", self.tz)

    def __call__(self, locale: str) -> Translator:
        return self._translators[locale]

    @staticmethod
    def guess(language_code: str | None) -> str | None:
        """Preselect a locale from Telegram's `language_code`; only ever a suggestion."""
        if not language_code:
            return None
        code = language_code.lower()
        if code.startswith("sq"):
            return "sq"
        if code.startswith("sr-cyrl") or code in ("sr", "sr-rs", "sr-xk", "sr-me"):
            return "sr-Cyrl"
        if code.startswith(("sr", "hr", "bs", "sh", "cnr")):
            return "sr-Latn"
        return None
