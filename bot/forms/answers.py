"""Reading what a person typed as the value a question needs.

People type "2,5" or "2.5", "31.12.2024" or "2024-12-31", "po", "Да", "da" or the number of an
option. Choices are matched on folded text (``bot.text.fold``) against every language of the
form, then by number, then with a little typo tolerance (rapidfuzz), never guessing between two
close options. Each reader returns the stored value or raises ``Unreadable`` with a message key.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from rapidfuzz import fuzz, process

from bot.text import fold

_DATE_DMY = re.compile(r"^(\d{1,2})\s*[./-]\s*(\d{1,2})\s*[./-]\s*(\d{4})\.?$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_TIME = re.compile(r"^(\d{1,2})[:.h](\d{2})$")
_SPLIT = re.compile(r"\s*[,;]\s*|\s+")
TYPO_SCORE = 85.0


class Unreadable(ValueError):
    """The text is not an answer of the expected kind; ``key`` names the built-in message."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def read_integer(text: str) -> int:
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if not re.fullmatch(r"[+-]?\d+", cleaned):
        raise Unreadable("integer")
    return int(cleaned)


def read_decimal(text: str) -> float:
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d+", cleaned):  # 1.234,5
        cleaned = cleaned.replace(".", "")
    cleaned = cleaned.replace(",", ".")
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", cleaned):
        raise Unreadable("decimal")
    return float(cleaned)


def read_date(text: str) -> str:
    cleaned = text.strip()
    match = _DATE_DMY.match(cleaned)
    if match:
        day, month, year = int(match[1]), int(match[2]), int(match[3])
    else:
        match = _DATE_ISO.match(cleaned)
        if not match:
            raise Unreadable("date")
        year, month, day = int(match[1]), int(match[2]), int(match[3])
    try:
        return date(year, month, day).isoformat()
    except ValueError as err:
        raise Unreadable("date_impossible") from err


def read_time(text: str) -> str:
    match = _TIME.match(text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise Unreadable("time")
    return f"{int(match[1]):02d}:{match[2]}:00"


def read_datetime(text: str) -> str:
    parts = text.strip().rsplit(maxsplit=1)
    if len(parts) != 2:
        raise Unreadable("datetime")
    try:
        day = read_date(parts[0])
        moment = read_time(parts[1])
    except Unreadable as err:
        raise Unreadable("date_impossible" if err.key == "date_impossible" else "datetime") from err
    return datetime.fromisoformat(f"{day}T{moment}").isoformat()


def read_geopoint(text: str) -> str:
    numbers = [part for part in re.split(r"[\s,;]+", text.strip()) if part]
    try:
        values = [float(part) for part in numbers]
    except ValueError as err:
        raise Unreadable("geopoint") from err
    if len(values) not in (2, 3, 4) or not (-90 <= values[0] <= 90 and -180 <= values[1] <= 180):
        raise Unreadable("geopoint")
    return " ".join(f"{v:g}" for v in values) + (" 0 0" if len(values) == 2 else "")


class ChoiceReader:
    """Matches typed text to one of ``options``: (value, [labels in every language])."""

    def __init__(self, options: list[tuple[str, list[str]]]) -> None:
        self.values = [value for value, _ in options]
        self.by_text: dict[str, str] = {}
        for value, labels in options:
            for text in [value, *labels]:
                self.by_text.setdefault(" ".join(fold(text).split()), value)

    def one(self, text: str) -> str:
        cleaned = " ".join(fold(text).split()).strip(" .)")
        if cleaned in self.by_text:
            return self.by_text[cleaned]
        if cleaned.isdigit() and 1 <= int(cleaned) <= len(self.values):
            return self.values[int(cleaned) - 1]
        best = process.extract(cleaned, list(self.by_text), scorer=fuzz.ratio, limit=5)
        good = {self.by_text[match] for match, score, _ in best if score >= TYPO_SCORE}
        if len(good) == 1:
            return good.pop()
        raise Unreadable("choice")

    def many(self, text: str) -> list[str]:
        try:
            return [self.one(text)]
        except Unreadable:
            pass
        picked: list[str] = []
        for part in (p for p in _SPLIT.split(text.strip()) if p):
            try:
                value = self.one(part)
            except Unreadable as err:
                raise Unreadable("choices") from err
            if value not in picked:
                picked.append(value)
        if not picked:
            raise Unreadable("choices")
        return [value for value in self.values if value in picked]
