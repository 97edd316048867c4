"""Shorter button labels, from the catalogs, for apps whose buttons hold only a few characters.

WhatsApp's reply buttons take 20 characters and its list rows 24. A label that does not fit is
replaced by the shorter label written for it here (translated like every other string), never
cut: `shortener(t)` maps a label, as shown in the person's locale, to its shorter form.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.i18n import N_, Translator

Shortener = Callable[[str], str | None]

# label msgid → shorter label msgid
SHORT_LABELS: dict[str, str] = {
    N_("Talk to a caseworker"): N_("Caseworker"),
    N_("Get a copy of my data"): N_("Copy of my data"),
    N_("Erase my data"): N_("Erase data"),
    N_("Change return date"): N_("Return date"),
    N_("Yes, but no photos or videos"): N_("Yes, no photos"),
    N_("New link for my guardian"): N_("Guardian link"),
}


def shortener(t: Translator) -> Shortener:
    """Shorter labels in `t`'s locale, keyed by the full label as the person sees it."""
    table = {t.gettext(long): t.gettext(short) for long, short in SHORT_LABELS.items()}
    return table.get
