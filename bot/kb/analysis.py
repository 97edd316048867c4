"""Turning free text into the index terms of one language: fold, split, drop filler words, stem.

Both the knowledge-base content and a person's question go through the same analysis, so
"Ku mund të shkoj te mjeku?" and "ku me shku te mjeku" end up as the same few stems.
Which language a question is in is only guessed from its letters; when the letters do not
tell, retrieval simply tries both languages.
"""

from __future__ import annotations

import re

from bot.kb.stemming import stem
from bot.text import cyrillic_to_latin, words

LANGUAGES: tuple[str, ...] = ("sq", "sr")

# Folded forms. Question words and auxiliaries carry no topic, so they are left out of the index;
# words that do ("pune", "posao", "kushton") must never be added here.
_STOPWORDS: dict[str, frozenset[str]] = {
    "sq": frozenset(
        """
        a e i o u te ne ni nje per me ma mu mua mue nga prej prje tek ku si cka ca cfare qka
        une un jam je eshte osht asht ishte jemi jeni jane jon ka kam kemi keni kane kan kish
        kisha do dua du duam doni mund mundem mundemi mun duhet duhen ti ju ai ajo ata ato ky
        kjo kete ate atij asaj tij saj im ime imi mi yne jone tone tuaj juaj tash tani edhe dhe
        apo ose po jo se qe sa pse kush cili cila cilat cilet nuk s pra vetem shume deri pas
        para ketu atje aty kur mire faleminderit ju lutem pershendetje tung hej bej bo bone
        cilen cilin ndonje ndonji diqka dicka gjithe krejt sot nese nqs keshtu cdo qdo
        """.split()
    ),
    "sr": frozenset(
        """
        i a u na za od do da li je se sam si smo ste su mi me mene ti te on ona ono oni one
        moj moja moje mog mom moju svoj svoja svoje kako gde gdje sta sto koji koja koje kog
        kada kad ima imam imamo imate nema nemam ne ni ali ili pa to ovo ovaj ova ovde ovdje
        tu tamo mogu moze mozete moguce treba trebam trebalo hocu hoce zelim bih bi biti bio
        bila neki neka neku nesto jos vec sad sada kod po sa iz uz o ja vi vam vas nam nas
        njih ga mu joj im jer jel jeste molim hvala pozdrav zdravo postoji postoje ko kome
        dobar dan vec samo mnogo ako svaki svaka svako svake svakog svaku
        """.split()
    ),
}

# Words nearly every returnee's question may carry, whatever it is about: coming back (from
# Germany), one's children, money and paying, a phone number. They are indexed, but count for
# half (`GENERAL_WEIGHT`): "I just came back, where do I register as unemployed" is about work,
# not about arriving, and "my son needs a certificate" is not about registering a birth abroad.
# As typed (folded); `general_terms` gives their stems.
_GENERAL: dict[str, tuple[str, ...]] = {
    "sq": tuple(
        """
        kthehem ktheva kthyer kthyerit kthim rikthim kthye gjermani gjermanise gjermanine
        femije femijet femijen djali djalin vajza vajzen djem cuni cuca
        pare paguaj paguhet paguar falas kushton numri numer telefon telefoni
        """.split()
    ),
    "sr": tuple(
        """
        vratio vratila vratili vratiti povratnik povratnici povratnika povratak nemacka nemacke
        nemackoj nemacku dete deca dece decu detetu sin sina cerka cerku
        para pare placa placam besplatno kosta broj broja telefon telefona
        """.split()
    ),
}
GENERAL_WEIGHT = 0.5

_ONLY: dict[str, frozenset[str]] = {
    "sq": _STOPWORDS["sq"] - _STOPWORDS["sr"],
    "sr": _STOPWORDS["sr"] - _STOPWORDS["sq"],
}

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_ALBANIAN_LETTERS = re.compile(r"[ëçËÇ]")
_SERBIAN_LETTERS = re.compile(r"[čćšžđČĆŠŽĐ]")


def guess_language(text: str) -> str | None:
    """ "sr" or "sq" when the letters or the filler words of a text tell its language, else None.

    Serbian or Albanian letters decide at once; Cyrillic is read as its Latin transliteration, so
    that a question ranks alike in both scripts. Otherwise the words that are filler
    in only one of the languages vote ("kod", "li", "sta" against "ku", "per", "cka"), so that
    "koliko se placa kod doktora" is read as Serbian just like "колико се плаћа код доктора".
    """
    if _CYRILLIC.search(text):
        # Guessed as its Latin transliteration is, so that both scripts rank alike: Serbian when
        # that has Serbian letters or filler words, else unknown, as "broj vatrogasaca" typed in Latin.
        return guess_language(cyrillic_to_latin(text))
    if _SERBIAN_LETTERS.search(text):
        return "sr"
    if _ALBANIAN_LETTERS.search(text):
        return "sq"
    folded = words(text)
    serbian = sum(1 for w in folded if w in _ONLY["sr"])
    albanian = sum(1 for w in folded if w in _ONLY["sq"])
    if serbian != albanian:
        return "sr" if serbian > albanian else "sq"
    return None


def is_stopword(word: str, lang: str) -> bool:
    """Whether a folded word is a filler word of the language."""
    return word in _STOPWORDS[lang]


def analyse(text: str, lang: str) -> list[str]:
    """The index terms of a text in one language: folded, filler words dropped, stemmed, in order."""
    stops = _STOPWORDS[lang]
    return [stem(w, lang) for w in words(text) if w not in stops]


def general_terms(lang: str) -> frozenset[str]:
    """The stems of the words that carry little topic of their own in one language (see `_GENERAL`)."""
    return frozenset(term for word in _GENERAL[lang] for term in analyse(word, lang))
