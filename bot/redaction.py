"""Masking personal details in exports for M&E: names, phone numbers, e-mail addresses, dates, ID-like numbers.

Patterns catch what has a shape (numbers, addresses, dates); names have none, so the caller
passes the names it knows (the person's own, their guardian's…), matched in any script and
with or without diacritics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.text import fold

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w])(?:\+|00)?\d[\d \-/().]{6,}\d(?![\w])")
DATE = re.compile(r"\b(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2})\b")
ID_LIKE = re.compile(r"\b(?=[A-Z0-9]*\d)[A-Z]{0,3}\d{6,}[A-Z]?\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def redact(text: str | None, names: Iterable[str] = ()) -> str | None:
    """`text` with personal details replaced by [email], [phone], [date], [id] and [name]."""
    if not text:
        return text
    text = EMAIL.sub("[email]", text)
    text = DATE.sub("[date]", text)
    text = PHONE.sub("[phone]", text)
    text = ID_LIKE.sub("[id]", text)
    known = {fold(part) for name in names for part in _WORD.findall(name or "") if len(part) > 1}
    if known:
        text = _WORD.sub(lambda m: "[name]" if fold(m.group(0)) in known else m.group(0), text)
    return text
