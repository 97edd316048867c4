"""Inflected forms of one word share a stem; unrelated words do not."""

from __future__ import annotations

import pytest

from bot.kb.stemming import stem, stem_albanian, stem_serbian

ALBANIAN_FAMILIES = [
    ["shkolla", "shkolle", "shkollen", "shkolles", "shkollat", "shkollave"],
    ["regjistrohem", "regjistroj", "regjistrim", "regjistrimi", "regjistrimin", "regjistruar", "regjistru"],
    ["leternjoftim", "leternjoftimi", "leternjoftimin", "leternjoftimit"],
    ["pune", "punen", "punes", "puna", "punoj", "punuar"],
    ["punesim", "punesimi", "punesimin"],
    ["femije", "femijen", "femijes", "femijet", "femijeve", "femija"],
    ["paguaj", "pagu", "paguar", "paguhet"],
    ["ilace", "ilaqe", "ilacet", "ilaqet"],
    ["mjek", "mjeku", "mjekun", "mjekut", "mjeket"],
    ["diplome", "diploma", "diplomen", "diplomes"],
    ["ndihme", "ndihma", "ndihmen", "ndihmes"],
    ["gjuha", "gjuhen", "gjuhes", "gjuhe"],
    ["policia", "policise", "policine"],
    ["shtepi", "shtepia", "shtepine", "shpi", "shpia"],
]


@pytest.mark.parametrize("family", ALBANIAN_FAMILIES, ids=lambda f: f[0])
def test_albanian_inflections_share_a_stem(family: list[str]) -> None:
    assert len({stem_albanian(w) for w in family}) == 1, {w: stem_albanian(w) for w in family}


@pytest.mark.parametrize(
    ("one", "other"),
    [("shtesa", "shteti"), ("shkolla", "shkoj"), ("pune", "punesim"), ("qendra", "qira")],
)
def test_albanian_unrelated_words_keep_apart(one: str, other: str) -> None:
    assert stem_albanian(one) != stem_albanian(other)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("shkollave", "shkoll"),
        ("regjistrohem", "regjistr"),
        ("qendra", "cendr"),
        ("112", "112"),
        ("ku", "ku"),
    ],
)
def test_albanian_stems_are_what_the_rules_say(word: str, expected: str) -> None:
    assert stem_albanian(word) == expected


def test_albanian_stems_are_never_shorter_than_three_letters() -> None:
    for word in ["ura", "ime", "ate", "une", "ajo", "jeta", "ujet"]:
        assert len(stem_albanian(word)) >= min(3, len(word))


SERBIAN_FAMILIES = [
    ["skola", "skole", "skolu", "skoli"],
    ["lekar", "lekara", "lekaru"],
    ["karta", "kartu", "kartom"],
    ["socijalna", "socijalnu", "socijalne"],
    ["podataka", "podatke", "podatak"],
    ["pasos", "pasosa"],
]


@pytest.mark.parametrize("family", SERBIAN_FAMILIES, ids=lambda f: f[0])
def test_serbian_inflections_share_a_stem(family: list[str]) -> None:
    assert len({stem_serbian(w) for w in family}) == 1, {w: stem_serbian(w) for w in family}


def test_stem_dispatches_by_language() -> None:
    assert stem("shkollen", "sq") == stem_albanian("shkollen")
    assert stem("skolu", "sr") == stem_serbian("skolu")
    assert stem("podataka", "sr") != stem("podataka", "sq")
