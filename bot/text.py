"""Text folding shared by retrieval, form answers and transcript search.

People type "shendetesi", "licna karta" and "лична карта" for the same thing, so every
comparison of free text happens on a folded form: lower case, Serbian Cyrillic transliterated
to Latin, đ written as "dj", and every other diacritic dropped (ë→e, ç→c, č/ć→c, š→s, ž→z).
Cyrillic→Latin is exact for Serbian, which is also how the Latin-script catalogue is derived.
"""

from __future__ import annotations

import re
import unicodedata

_CYR_TO_LAT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž",
    "з": "z", "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n",
    "њ": "nj", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "ć", "у": "u",
    "ф": "f", "х": "h", "ц": "c", "ч": "č", "џ": "dž", "ш": "š",
}  # fmt: skip

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


def cyrillic_to_latin(text: str) -> str:
    """Transliterate Serbian Cyrillic to Serbian Latin, keeping case (Љубав → Ljubav, ЉУБАВ → LJUBAV)."""
    if not _CYRILLIC.search(text):
        return text
    out: list[str] = []
    for i, ch in enumerate(text):
        low = ch.lower()
        lat = _CYR_TO_LAT.get(low)
        if lat is None:
            out.append(ch)
            continue
        if ch == low:
            out.append(lat)
            continue
        if len(lat) == 1:
            out.append(lat.upper())
            continue
        # A digraph: all capitals inside an all-capital word, else title case.
        nxt = text[i + 1] if i + 1 < len(text) else ""
        prv = text[i - 1] if i > 0 else ""
        shouting = (nxt.isalpha() and nxt.isupper()) or (not nxt.isalpha() and prv.isalpha() and prv.isupper())
        out.append(lat.upper() if shouting else lat[0].upper() + lat[1:])
    return "".join(out)


# Every combining mark (all of them lie below U+20000), removed in one pass after decomposition.
_COMBINING = dict.fromkeys(c for c in range(0x300, 0x20000) if unicodedata.combining(chr(c)))


def fold(text: str) -> str:
    """Lower-case, transliterate and strip diacritics, so that variants of one word compare equal."""
    if text.isascii():
        return text.lower()
    text = cyrillic_to_latin(text.casefold())
    text = text.replace("đ", "dj").replace("ð", "dj")
    return unicodedata.normalize("NFKD", text).translate(_COMBINING)


def words(text: str) -> list[str]:
    """The folded words of a text, in order; punctuation, emoji and control characters dropped."""
    return _WORD.findall(fold(text))
