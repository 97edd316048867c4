"""Questions typed in any script, with or without diacritics, reach the same index terms."""

from __future__ import annotations

import pytest

from bot.kb.analysis import analyse, guess_language, is_stopword


@pytest.mark.parametrize(
    ("one", "other", "lang"),
    [
        ("Ku mund të marr ilaçe falas?", "ku mund te marr ilace falas", "sq"),
        ("ILAÇE", "ilaqe", "sq"),  # Kosovo spelling: q for ç
        ("Letërnjoftimin e kam humbur", "leternjoftimin e kam humbur", "sq"),
        ("лична карта", "licna karta", "sr"),
        ("лична карта", "lična karta", "sr"),
        ("Где је дом здравља?", "gde je dom zdravlja", "sr"),
        ("Ђаковица", "djakovica", "sr"),
    ],
)
def test_scripts_and_diacritics_fold_to_the_same_terms(one: str, other: str, lang: str) -> None:
    assert analyse(one, lang) == analyse(other, lang)


def test_gheg_forms_meet_the_standard_forms() -> None:
    assert analyse("nuk kam shpi", "sq") == analyse("nuk kam shtepi", "sq")
    assert analyse("fmija", "sq") == analyse("femija", "sq")


def test_filler_words_are_dropped_and_content_words_kept() -> None:
    assert analyse("A ka ndonjë kurs?", "sq") == analyse("kurs", "sq")
    assert analyse("Да ли има посла?", "sr") == analyse("posla", "sr")
    assert not is_stopword("pune", "sq")
    assert not is_stopword("posao", "sr")


def test_punctuation_and_emoji_are_ignored() -> None:
    assert analyse("shkolla!!! 🙏", "sq") == analyse("shkolla", "sq")


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Где је дом здравља?", "sr"),
        ("Gde je škola?", "sr"),
        ("Ku është shkolla?", "sq"),
        ("ku eshte shkolla", "sq"),
        ("koliko se placa kod doktora", "sr"),
        ("shkolla", None),
        ("12345", None),
        # Cyrillic is guessed as its Latin form: Serbian filler words or letters, or unknown.
        ("број ватрогасаца", None),
        ("broj vatrogasaca", None),
        ("где је школа", "sr"),
        ("лична карта ми је истекла", "sr"),
    ],
)
def test_language_is_guessed_from_telling_letters_or_filler_words(text: str, lang: str | None) -> None:
    assert guess_language(text) == lang
