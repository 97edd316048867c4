"""Who may sign up: age on a given day against a programme's range, and whether a guardian must consent.

Calendar arithmetic only. Someone born on 29 February turns a year older on 1 March in years
without that day, as the law counts it in Kosovo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_MIN_AGE = 15  # the Law on Empowerment and Participation of Youth: 15–24
DEFAULT_MAX_AGE = 24
AGE_OF_MAJORITY = 18


def age_on(birth: date, day: date) -> int:
    """Completed years of life on `day`."""
    if birth > day:
        raise ValueError("born after the day asked about")
    had_birthday = (day.month, day.day) >= (birth.month, birth.day)
    return day.year - birth.year - (0 if had_birthday else 1)


@dataclass(frozen=True, slots=True)
class Eligibility:
    age: int
    reason: str | None = None  # too_young | too_old; None when eligible
    needs_guardian: bool = False

    @property
    def eligible(self) -> bool:
        return self.reason is None


def check(
    birth: date,
    today: date,
    min_age: int = DEFAULT_MIN_AGE,
    max_age: int = DEFAULT_MAX_AGE,
    majority: int = AGE_OF_MAJORITY,
) -> Eligibility:
    """Eligibility on `today` for a range of completed years, both ends included (15–24: 15 to 24)."""
    age = age_on(birth, today)
    reason = "too_young" if age < min_age else "too_old" if age > max_age else None
    return Eligibility(age, reason, age < majority)
