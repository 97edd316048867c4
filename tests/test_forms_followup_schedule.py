"""Follow-up wave arithmetic: month offsets with clamping, the daytime window, DST, catch-up, expiry."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bot.followup.schedule import KOSOVO, UTC, Policy, add_months, into_window, plan_waves


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=KOSOVO)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 8, 31), 3, date(2024, 11, 30)),
        (date(2024, 11, 15), 3, date(2025, 2, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 3, 31), 6, date(2024, 9, 30)),
    ],
)
def test_months_are_calendar_months_clamped(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_default_waves_at_3_6_12_months_at_ten_local() -> None:
    plans = plan_waves(date(2024, 1, 31), local(2024, 2, 1, 12))
    assert [(p.wave, p.months, p.due_date) for p in plans] == [
        (1, 3, date(2024, 4, 30)),
        (2, 6, date(2024, 7, 31)),
        (3, 12, date(2025, 1, 31)),
    ]
    assert all(p.status == "planned" and p.reason is None for p in plans)
    assert [p.due_at.astimezone(KOSOVO).hour for p in plans] == [10, 10, 10]
    assert plans[2].due_at == datetime(2025, 1, 31, 9, 0, tzinfo=UTC)  # winter: UTC+1
    assert plans[0].due_at == datetime(2024, 4, 30, 8, 0, tzinfo=UTC)  # summer: UTC+2


def test_reminders_after_one_and_three_days_keep_local_time_across_dst() -> None:
    # Summer time starts on 31 March 2024: the reminder on 1 April is still 10:00 in Kosovo.
    plan = plan_waves(date(2023, 12, 30), local(2024, 1, 2, 12))[0]
    assert plan.due_at == datetime(2024, 3, 30, 9, 0, tzinfo=UTC)
    assert [r.astimezone(KOSOVO).strftime("%d.%m %H:%M") for r in plan.reminders] == [
        "31.03 10:00",
        "02.04 10:00",
    ]
    assert plan.reminders[0] - plan.due_at == timedelta(hours=23)
    # Summer time ends on 27 October 2024: 25 hours between due time and first reminder.
    autumn = plan_waves(date(2024, 7, 26), local(2024, 7, 27, 12))[0]
    assert autumn.reminders[0] - autumn.due_at == timedelta(hours=25)
    assert autumn.reminders[0].astimezone(KOSOVO).hour == 10


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(2024, 5, 2, 9, 59), local(2024, 5, 2, 10)),
        (local(2024, 5, 2, 10, 0), local(2024, 5, 2, 10)),
        (local(2024, 5, 2, 18, 59), local(2024, 5, 2, 18, 59)),
        (local(2024, 5, 2, 19, 0), local(2024, 5, 3, 10)),
        (local(2024, 12, 31, 23, 30), local(2025, 1, 1, 10)),
        (local(2024, 3, 30, 22, 0), local(2024, 3, 31, 10)),
    ],
)
def test_a_time_outside_the_window_moves_to_the_next_opening(moment: datetime, expected: datetime) -> None:
    assert into_window(moment) == expected.astimezone(UTC)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        into_window(datetime(2024, 5, 2, 12))
    with pytest.raises(ValueError):
        plan_waves(date(2024, 1, 1), datetime(2024, 1, 2))


def test_late_registration_gets_the_latest_valid_wave_now_and_older_ones_expire() -> None:
    # Returned 1 Jan 2024, registered 15 July 2024 at 20:00: wave 2 (1 July) is 14 days old.
    plans = plan_waves(date(2024, 1, 1), local(2024, 7, 15, 20))
    first, second, third = plans
    assert (first.status, first.reason) == ("skipped", "expired")
    assert second.status == "planned" and second.catch_up
    assert second.due_at == local(2024, 7, 16, 10).astimezone(UTC)
    assert second.expires_at == local(2024, 7, 31, 19).astimezone(UTC)
    assert [r.astimezone(KOSOVO).day for r in second.reminders] == [17, 19]
    assert (third.status, third.catch_up, third.due_date) == ("planned", False, date(2025, 1, 1))


def test_a_latest_wave_past_its_validity_is_skipped_too() -> None:
    plans = plan_waves(date(2024, 1, 1), local(2024, 8, 15, 12))
    assert [(p.status, p.reason) for p in plans] == [
        ("skipped", "expired"),
        ("skipped", "expired"),
        ("planned", None),
    ]


def test_reminders_never_fall_after_expiry_and_policy_is_adjustable() -> None:
    policy = Policy(offsets_months=(1,), reminder_days=(1, 3, 10), valid_days=5)
    (plan,) = plan_waves(date(2024, 5, 10), local(2024, 5, 10, 12), policy)
    assert plan.due_date == date(2024, 6, 10)
    assert [r.astimezone(KOSOVO).day for r in plan.reminders] == [11, 13]
    assert all(r < plan.expires_at for r in plan.reminders)
