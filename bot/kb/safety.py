"""Spotting a message from someone who may be in danger, before any knowledge-base answer.

Violence, threats, self-harm or suicide, and medical emergencies, in Albanian and Serbian
(either script, with or without diacritics, standard or Gheg). A hit makes the bot show the
emergency numbers at once, flag the conversation as urgent and offer a caseworker.

The patterns describe a person in danger, not the topic of danger: "me rrahin" or
"ne mogu da dišem" fires, while a calm "numrat e emergjencës?" or "broj hitne pomoći" does
not (the emergency.numbers topic answers those). A false alarm costs a caseworker a look; a
missed one costs far more, so the patterns lean towards firing.
"""

from __future__ import annotations

import re

from bot.text import words

# Matched against the folded words of a message joined by single spaces (ë→e, č→c, Cyrillic→Latin).
_PATTERNS: tuple[str, ...] = (
    # --- Albanian: violence and threats
    r"\b(me|na|e|i|po me|po na) (rrah|rreh|godit|godas|qell|sulm|kercen|vret|vras|therr)\w*",
    r"\bme vra(ne|n)?\b",
    r"\brrahj\w*|\brrahur\b|\bme ka rrah\w*",
    r"\bsulm\w*|\bdhun\w*|\bperdhun\w*|\bkeqtrajt\w*",
    r"\bkercenim\w*|\bme kercen\w*|\bdo te? me vras\w*|\bdo me vra\w*|\bme vra\b",
    r"\b(thike|arme|pistolet\w*|revole\w*)\b",
    # --- Albanian: self-harm and suicide
    r"\bvras veten\b|\bvra veten\b|\bvret veten\b|\bvetvras\w*|\bvetevras\w*",
    r"\b(dua|du|dal) (te|me) (vdes|vdek|dek)\w*",
    r"\b(nuk|s) (dua|du|due) (te|me|ma me) jet\w*",
    r"\b(ti|t) jap fund jetes\b|\bfund jetes\b|\bme lendu veten\b|\bte lendoj veten\b|\bpres veten\b",
    # --- Albanian: medical emergency
    r"\bgjak(?!ov)\w*",  # not the town of Gjakova
    r"\b(nuk|s) (po )?(marr|merr|mund te marr|muj me marr) frym\w*|\bmbyt\w*",
    r"\binfarkt\w*|\bsulm (ne|ne) zemer\b|\bhumb\w* (ndjenj|vetedij)\w*|\bpa ndjenja\b|\bpa vetedije\b",
    r"\bhelm\w*|\baksident\w*|\bzjarr (ne|te) \w+|\bka rene zjarr\b|\bdigjet\b|\bpo digjet\b|\bpo lind\b",
    # --- Serbian: violence and threats
    r"\b(tuce|tuku|bije|biju|udara|udario|udarila|prebio|prebili|napao|napali|napada)\w* (me|nas)\b",
    r"\b(me|nas) (tuce|tuku|bije|biju|udara|udario|udarila|prebio|prebili|napao|napali|napada)\w*",
    r"\bnasil\w*|\bsilova\w*|\bzlostavlj\w*",
    r"\bpret\w* (mi|nam|da ce)\b|\bpretnj\w*|\bprete\b",
    r"\b(ubi|ubije|ubiju|ubiti|ubice|ubicu)\b",
    r"\b(noz|nozem|pistolj\w*|oruzj\w*)\b",
    # --- Serbian: self-harm and suicide
    r"\bubi(ti|cu|jem) se\b|\bda se ubijem\b|\bsamoubi\w*",
    r"\b(ne zelim|necu|ne mogu) (vise )?(da )?ziv\w*|\bhocu da umrem\b|\bzelim da umrem\b",
    r"\bpovredi\w* (sebe|se)\b|\bsecem se\b|\bisecem se\b",
    # --- Serbian: medical emergency
    r"\bkrv\w*|\bkrvar\w*",
    r"\bne (mogu da|moze da) (disem|dise)\b|\bne dise\b|\bgusi\w*",
    r"\binfarkt\w*|\bsrcani udar\b|\bmozdani udar\b|\bonesvest\w*|\bbez svesti\b|\bpao u nesvest\b",
    r"\b(o)?trov\w*|\bpredozir\w*|\bnesrec[aeiu]\b|\bsaobracajn\w*",
    r"\bpozar\w*|\bgori (kuca|stan)\b|\bporadja\w*",
)

# Calm, everyday mentions of blood: a blood test or blood group is not an emergency.
_CALM = re.compile(
    r"\b(analiz\w*|grup\w*|dhur\w*|test\w*|pritisk\w*|sheqer\w*) (e |i |te )?gjak\w*"
    r"|\bgjak\w* (analiz|grup|test)\w*"
    r"|\b(analiz\w*|grup\w*|vadjenj\w*|krvn\w*|test\w*|donacij\w*|pritis\w*|secer\w*) (u |iz )?krv\w*"
    r"|\bkrvn\w* (grup|slik|pritis)\w*"
)

_DANGER = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))


def is_emergency(text: str) -> bool:
    """Whether a message suggests someone is in danger right now (violence, self-harm, medical)."""
    folded = " ".join(words(text))
    if not folded:
        return False
    for hit in _DANGER.finditer(folded):
        if not _is_calm(folded, hit.start(), hit.end()):
            return True
    return False


def _is_calm(folded: str, start: int, end: int) -> bool:
    """Whether this hit sits inside a calm everyday phrase (e.g. a blood test)."""
    return any((c.start() <= start and end <= c.end()) or start <= c.start() < end for c in _CALM.finditer(folded))
