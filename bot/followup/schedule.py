"""When to send each follow-up wave, its reminders, and when it expires: calendar arithmetic only.

Waves fall at calendar-month offsets from the return date (3, 6 and 12 by default); a day that
does not exist in the target month is clamped to its last day (31 January + 1 month = 28 or
29 February). Every contact is placed inside the daytime window in Europe/Belgrade; a time outside
it moves to the next opening. Reminders keep the local clock time on later days, so a change to
or from summer time does not push them out of the window. A person who registers late gets the
most recent wave that is still valid now, and older waves are recorded as skipped ("expired").
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

KOSOVO = ZoneInfo("Europe/Belgrade")
UTC = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Policy:
    offsets_months: tuple[int, ...] = (3, 6, 12)
    window_opens: time = time(10, 0)
    window_closes: time = time(19, 0)
    reminder_days: tuple[int, ...] = (1, 3)
    valid_days: int = 30


@dataclass(frozen=True, slots=True)
class WavePlan:
    """One planned wave. Times are aware UTC datetimes; ``reason`` is set when it is skipped."""

    wave: int
    months: int
    due_date: date
    due_at: datetime
    expires_at: datetime
    reminders: tuple[datetime, ...] = field(default_factory=tuple)
    status: str = "planned"  # planned | skipped
    reason: str | None = None
    catch_up: bool = False


def add_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later, clamped to the end of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _local(day: date, clock: time) -> datetime:
    # fold=0 picks the first of two ambiguous times; the window hours are never ambiguous in Kosovo.
    return datetime.combine(day, clock, tzinfo=KOSOVO)


def into_window(moment: datetime, policy: Policy = Policy()) -> datetime:
    """``moment`` if it falls inside the daytime window, else the next window opening (UTC)."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    local = moment.astimezone(KOSOVO)
    if local.time() < policy.window_opens:
        local = _local(local.date(), policy.window_opens)
    elif local.time() >= policy.window_closes:
        local = _local(local.date() + timedelta(days=1), policy.window_opens)
    return local.astimezone(UTC)


def _reminders(due_at: datetime, expires_at: datetime, policy: Policy) -> tuple[datetime, ...]:
    local = due_at.astimezone(KOSOVO)
    out = []
    for days in policy.reminder_days:
        moment = into_window(_local(local.date() + timedelta(days=days), local.time()), policy)
        if moment < expires_at:
            out.append(moment)
    return tuple(out)


def plan_waves(return_date: date, registered_at: datetime, policy: Policy = Policy()) -> list[WavePlan]:
    """Plan every wave for a person who returned on ``return_date`` and registered at ``registered_at``."""
    if registered_at.tzinfo is None:
        raise ValueError("registered_at must be an aware datetime")
    now = registered_at.astimezone(UTC)
    plans: list[WavePlan] = []
    for number, months in enumerate(policy.offsets_months, start=1):
        due_date = add_months(return_date, months)
        due_at = _local(due_date, policy.window_opens).astimezone(UTC)
        expires_at = _local(due_date + timedelta(days=policy.valid_days), policy.window_closes).astimezone(UTC)
        plans.append(WavePlan(number, months, due_date, due_at, expires_at, _reminders(due_at, expires_at, policy)))
    passed = [plan for plan in plans if plan.due_at <= now]
    latest = passed[-1] if passed else None
    out: list[WavePlan] = []
    for plan in plans:
        if plan.due_at > now:
            out.append(plan)
        elif plan is latest and plan.expires_at > into_window(now, policy):
            send_at = into_window(now, policy)
            reminders = _reminders(send_at, plan.expires_at, policy)
            out.append(WavePlan(plan.wave, plan.months, plan.due_date, send_at, plan.expires_at, reminders,
                                catch_up=True))  # fmt: skip
        else:
            out.append(WavePlan(plan.wave, plan.months, plan.due_date, plan.due_at, plan.expires_at, (),
                                status="skipped", reason="expired"))  # fmt: skip
    return out
