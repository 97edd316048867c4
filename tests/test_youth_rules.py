"""The youth programme's pure rules: age, eligibility and guardian consent, places and the waiting list."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.forms import Runner, load_form
from bot.youth.eligibility import age_on, check
from bot.youth.enrolments import youth_source
from bot.youth.scheduler import offer_deadline
from bot.youth.waiting import Waiting, free_places, gets_place, next_offers, position, queue

FORM = Path(__file__).resolve().parents[1] / "content" / "forms" / "youth_signup.md"


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2008, 5, 11), date(2026, 5, 10), 17),
        (date(2008, 5, 11), date(2026, 5, 11), 18),
        (date(2001, 2, 3), date(2026, 5, 10), 25),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2026, 5, 10), date(2026, 5, 10), 0),
    ],
)
def test_age_counts_completed_years(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age


def test_a_birth_after_the_day_is_refused() -> None:
    with pytest.raises(ValueError):
        age_on(date(2027, 1, 1), date(2026, 1, 1))


def test_eligibility_includes_both_ends_of_the_range_and_asks_a_guardian_under_18() -> None:
    today = date(2026, 5, 10)
    assert check(date(2011, 5, 10), today).eligible and check(date(2011, 5, 10), today).needs_guardian
    assert check(date(2011, 5, 11), today).reason == "too_young"
    assert check(date(2001, 5, 11), today).eligible  # 24, the last year in
    assert check(date(2001, 5, 10), today).reason == "too_old"  # 25 today
    adult = check(date(2008, 5, 10), today)
    assert adult.eligible and not adult.needs_guardian
    assert check(date(1996, 1, 1), today, min_age=18, max_age=35).eligible


def test_the_forms_age_agrees_with_the_handlers_arithmetic() -> None:
    runner = Runner(load_form(FORM))
    today = date(2026, 2, 28)
    for birth in (date(2008, 2, 29), date(2008, 3, 1), date(2008, 2, 28), date(2011, 12, 31)):
        state = runner.next(runner.start(), today)
        state = runner.answer(state, "yes", today, "sq").state
        state = runner.answer(state, "Test Person", today, "sq").state
        state = runner.answer(state, birth.strftime("%d.%m.%Y"), today, "sq").state
        assert runner.values(state)["age"] == age_on(birth, today), birth


def _at(minutes: int) -> datetime:
    return datetime(2026, 5, 1, 10, tzinfo=UTC) + timedelta(minutes=minutes)


def test_a_newcomer_never_jumps_the_waiting_list() -> None:
    assert gets_place(capacity=3, holding=2, waiting=0)
    assert not gets_place(capacity=3, holding=2, waiting=1)  # the free place is owed to the one waiting
    assert not gets_place(capacity=3, holding=3, waiting=0)
    assert free_places(capacity=2, holding=5) == 0


def test_the_waiting_list_is_first_come_first_served() -> None:
    waiting = [Waiting(7, _at(5)), Waiting(3, _at(1)), Waiting(9, _at(5)), Waiting(4, _at(2))]
    assert queue(waiting) == [3, 4, 7, 9]
    assert [position(waiting, i) for i in (3, 4, 7, 9)] == [1, 2, 3, 4]
    assert position(waiting, 42) is None


def test_freed_places_go_to_the_first_in_line() -> None:
    waiting = [Waiting(7, _at(5)), Waiting(3, _at(1)), Waiting(4, _at(2))]
    assert next_offers(capacity=10, holding=10, waiting=waiting) == []
    assert next_offers(capacity=10, holding=9, waiting=waiting) == [3]
    assert next_offers(capacity=10, holding=8, waiting=waiting) == [3, 4]
    assert next_offers(capacity=10, holding=0, waiting=waiting) == [3, 4, 7]


def test_deep_link_sources() -> None:
    assert youth_source("youth") == "link"
    assert youth_source("youth_school12") == "school12"
    assert youth_source("youth_") is None and youth_source("g_abc") is None and youth_source("youthful") is None


def test_an_offer_deadline_falls_in_the_daytime() -> None:
    afternoon = datetime(2026, 5, 11, 13, 0, tzinfo=UTC)  # 15:00 in Prishtina
    assert offer_deadline(afternoon, 48) == afternoon + timedelta(hours=48)
    evening = datetime(2026, 5, 11, 16, 30, tzinfo=UTC)  # 18:30; 48 hours later is still in the window
    assert offer_deadline(evening, 48) == evening + timedelta(hours=48)
    late = offer_deadline(datetime(2026, 5, 11, 17, 30, tzinfo=UTC), 48)  # 19:30 local → next morning
    assert late == datetime(2026, 5, 14, 8, 0, tzinfo=UTC)
