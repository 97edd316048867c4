"""Every user-facing string exists in Albanian and Serbian, complete, with matching placeholders and plurals."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import Translations
from bot.text import cyrillic_to_latin

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"gettext": None, "ngettext": (1, 2), "N_": None}
PLURALS = {"sq": 2, "sr": 3}


def code_messages() -> set[str | tuple[str, str]]:
    found: set[str | tuple[str, str]] = set()
    with (ROOT / "babel.cfg").open() as cfg:
        from babel.messages.frontend import parse_mapping_cfg

        method_map, options_map = parse_mapping_cfg(cfg)
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(message))  # type: ignore[arg-type]
    return found


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.fixture(scope="module")
def catalogs() -> dict[str, object]:
    result = {}
    for lang in PLURALS:
        with (ROOT / "locales" / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            result[lang] = read_po(f, locale=lang)
    return result


def test_every_message_in_the_code_is_in_both_catalogs(catalogs: dict[str, object]) -> None:
    wanted = code_messages()
    assert len(wanted) > 40
    for lang, catalog in catalogs.items():
        ids = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}  # type: ignore[attr-defined]
        missing = wanted - ids
        assert not missing, f"{lang}: {len(missing)} missing, e.g. {sorted(map(str, missing))[:3]}"


def test_the_template_holds_exactly_the_messages_of_the_code() -> None:
    """A stale messages.pot (strings added to the code but not extracted) fails here."""
    with (ROOT / "locales" / "messages.pot").open("rb") as f:
        template = {m.id if isinstance(m.id, str) else tuple(m.id) for m in read_po(f) if m.id}
    wanted = code_messages()
    missing = wanted - template
    extra = template - wanted
    assert not missing, f"messages.pot lacks {len(missing)}, e.g. {sorted(map(str, missing))[:3]}; run pybabel extract"
    assert not extra, f"messages.pot has {len(extra)} not in the code, e.g. {sorted(map(str, extra))[:3]}"


@pytest.mark.parametrize("lang", sorted(PLURALS))
def test_entries_are_complete_not_fuzzy_and_keep_placeholders(catalogs: dict[str, object], lang: str) -> None:
    catalog = catalogs[lang]
    assert catalog.num_plurals == PLURALS[lang]  # type: ignore[attr-defined]
    for message in catalog:  # type: ignore[attr-defined]
        if not message.id:
            continue
        assert not message.fuzzy, f"{lang}: fuzzy {message.id!r}"
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert all(s.strip() for s in strings), f"{lang}: untranslated {ids[0]!r}"
        if len(ids) > 1:
            assert len(strings) == PLURALS[lang], f"{lang}: wrong plural count for {ids[0]!r}"
        wanted = fields(ids[-1]) | fields(ids[0])
        for s in strings:
            assert fields(s) <= wanted | {"n"} and fields(s) >= fields(ids[0]) - {"n"}, (
                f"{lang}: placeholders differ in {ids[0]!r}"
            )
        assert not any(s == ids[0] for s in strings if len(ids[0]) > 12), f"{lang}: left in English: {ids[0]!r}"


def test_serbian_is_written_in_cyrillic_and_latin_is_derived(catalogs: dict[str, object]) -> None:
    for message in catalogs["sr"]:  # type: ignore[attr-defined]
        if not message.id:
            continue
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for s in strings:
            names = r"Homeward|JSON|CSV|SVG|PNG|PDF|JPEG|WebP|Word|VOC-UP|IOM|RSS|URA|DIMAK|AWO|Prishtinë"
            letters = re.sub(r"\{[^}]*\}|/[a-z]+|" + names, "", s)
            assert not re.search(r"[A-Za-zčćšžđČĆŠŽĐ]{3,}", letters), f"Latin in the Cyrillic catalog: {s!r}"
    latin = Translations(ROOT / "locales")("sr-Latn")
    assert latin.gettext("Language") == cyrillic_to_latin(Translations(ROOT / "locales")("sr-Cyrl").gettext("Language"))
    assert latin.gettext("Language") == "Jezik"


@pytest.mark.parametrize("locale", ["sq", "sr-Cyrl", "sr-Latn"])
def test_every_message_renders_with_sample_values(locale: str) -> None:
    t = Translations(ROOT / "locales")(locale)
    for message in code_messages():
        sample = {name: "1" for name in (fields(message) if isinstance(message, str) else fields(message[1]))}
        if isinstance(message, str):
            assert t.gettext(message, **sample) if sample else t.gettext(message)
        else:
            for n in (1, 2, 5, 21):
                assert t.ngettext(message[0], message[1], n, **{k: v for k, v in sample.items() if k != "n"})


def test_dates_and_times_are_24_hour_in_kosovo_time() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 7, 1, 12, 5, tzinfo=UTC)  # 14:05 in Prishtina (summer time)
    for locale in ("sq", "sr-Cyrl", "sr-Latn"):
        assert Translations(ROOT / "locales")(locale).datetime(moment) == "1.7.2026 14:05"


def test_a_message_asked_again_is_the_same_text_with_its_own_values() -> None:
    # Each locale keeps the messages it has looked up (Latin transliterated once): the values are
    # filled in at every call, never kept with the text.
    translations = Translations(ROOT / "locales")
    message = "You agreed on {when} (notice version {version})."
    for locale in ("sq", "sr-Cyrl", "sr-Latn"):
        t = translations(locale)
        first, second = t.gettext(message, when="1.2.2026", version=1), t.gettext(message, when="3.4.2026", version=2)
        assert "1.2.2026" in first and "3.4.2026" in second and first != second
        assert t.gettext(message, when="1.2.2026", version=1) == first
    latin, cyrillic = translations("sr-Latn"), translations("sr-Cyrl")
    assert latin.gettext("Language") == latin.gettext("Language") == cyrillic_to_latin(cyrillic.gettext("Language"))
    assert cyrillic.gettext("Language") != latin.gettext("Language")  # each locale its own, not the other's
