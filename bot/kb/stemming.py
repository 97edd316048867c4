"""Light stemming of folded words, so that inflected forms of one word meet in the index.

Serbian uses the Snowball "serbian" stemmer, which also handles folded (diacritic-free) Latin.
Albanian has no Snowball stemmer, so it gets a small set of suffix rules written for the way
returnees type: folded ("shendetesi", "leternjoftimin"), with Gheg short participles
("me shku", "me pagu", "me u regjistru") and the common Kosovo habit of writing q for ç.
The rules aim at recall, not at linguistic roots: two forms of one word should stem alike,
and a stem is never shorter than three letters.
"""

from __future__ import annotations

from functools import lru_cache

import snowballstemmer

_SERBIAN = snowballstemmer.stemmer("serbian")

# Longest first. Folded forms: ë is already e, ç already c.
_SQ_SUFFIXES: tuple[str, ...] = tuple(
    sorted(
        {
            # verb endings: present, passive, past, participle (standard and Gheg)
            "ohemi",
            "oheni",
            "ohesh",
            "ohem",
            "ohet",
            "ohen",
            "ojme",
            "ojne",
            "oni",
            "oj",
            "on",
            "uhemi",
            "uhem",
            "uhet",
            "uhen",
            "uaj",
            "uan",
            "uar",
            "uara",
            "uari",
            "ua",
            "ova",
            "ove",
            "oi",
            "ur",
            "ura",
            "uri",
            "ehem",
            "ehet",
            "ehen",
            "yer",
            "ni",
            # nominalisations and their definite / case forms
            "imeve",
            "imet",
            "imit",
            "imin",
            "imi",
            "ime",
            "im",
            "sia",
            "sine",
            "sise",
            "si",
            # noun and adjective case endings, plural and definite forms
            "ave",
            "eve",
            "ise",
            "se",
            "ve",
            "it",
            "in",
            "en",
            "es",
            "et",
            "at",
            "te",
            "ne",
            "ja",
            "ut",
            "un",
            "a",
            "e",
            "i",
            "u",
            "t",
            "o",
        },
        key=len,
        reverse=True,
    )
)

_SQ_MIN_STEM = 3
_SQ_MIN_SECOND_PASS = 5
_VOWELS = frozenset("aeiouy")


def _strip_once(word: str) -> str:
    for suffix in _SQ_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _SQ_MIN_STEM:
            return word[: -len(suffix)]
    return word


# Frequent Gheg (Kosovo) forms whose standard form the content is written in.
_GHEG: dict[str, str] = {
    "shpi": "shtepi", "shpia": "shtepia", "shpine": "shtepine", "shpis": "shtepise", "shpija": "shtepia",
    "fmi": "femije", "fmija": "femija", "fmine": "femijen", "fmit": "femijet", "fmijt": "femijet",
    "cun": "djale", "cuni": "djali", "cuna": "djali", "cunin": "djalin", "goca": "vajza", "gocen": "vajzen",
    "dek": "vdes", "dekun": "vdekur", "nana": "nena", "nanen": "nenen", "ish": "ishte",
    "gjet": "gjeta", "gjej": "gjeta", "gjen": "gjeta", "gjejm": "gjeta", "gjetja": "gjeta", "gjetjen": "gjeta",
}  # fmt: skip


@lru_cache(maxsize=65536)
def stem_albanian(word: str) -> str:
    """Stem one folded Albanian word: "shkollen" → "shkoll", "regjistrohem" → "regjistr"."""
    word = _GHEG.get(word, word).replace("q", "c")
    if len(word) <= _SQ_MIN_STEM or word.isdigit():
        return word
    stem = _strip_once(word)
    # A second pass undoes a case ending stacked on a derivation ("punesimin" → "punesim" → "punes"),
    # but never cuts a word down to a short stem that unrelated words share ("shtesa", "shteti").
    if stem != word:
        again = _strip_once(stem)
        if len(again) >= _SQ_MIN_SECOND_PASS:
            stem = again
    # Stems end on a consonant, so "femija", "femije" and "femijen" all meet.
    while len(stem) > _SQ_MIN_STEM and (stem[-1] in _VOWELS or stem.endswith("ij")):
        stem = stem[:-1]
    return stem


@lru_cache(maxsize=65536)
def stem_serbian(word: str) -> str:
    """Stem one folded Serbian word with Snowball: "skolu" → "skol", "lekove" → "lekov"."""
    if len(word) <= 3 or word.isdigit():
        return word
    stem: str = _SERBIAN.stemWord(word)
    return stem if len(stem) >= 3 else word[:3]


def stem(word: str, lang: str) -> str:
    """Stem a folded word for the language "sq" or "sr"."""
    return stem_albanian(word) if lang == "sq" else stem_serbian(word)
