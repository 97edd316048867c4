"""Reports for a period: conversations, hand-offs and how fast caseworkers answered, follow-up waves, sign-ups.

Periods are days, ISO weeks or calendar months in Kosovo time. Response and resolution times are
given twice: on the clock, and counting office hours only (the time caseworkers could answer),
since a hand-off on Friday evening answered on Monday morning waited minutes of office time.
Everything here is an aggregate; no report shows a person or a line of a transcript.

The tables go out as CSV and the series as SVG charts (`chart_svg`), drawn here without a
plotting library: the browser renders the text, so Albanian and Serbian letters always show. The
same chart as PNG (`chart_png`) is for documents that take pictures only (a donor report in Word):
drawn by matplotlib's Agg renderer with its own DejaVu Sans, which has Albanian and Cyrillic letters.
"""

from __future__ import annotations

import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import spreadsheet
from console.followups import DIMENSIONS, score
from db.models import Conversation, FollowupContact, Handoff, Submission
from db.youth import Cohort, Enrolment, Programme
from handlers.handoff import OfficeHours

EVERY = ("day", "week", "month")
MAX_PERIODS = 400


@dataclass(frozen=True)
class Range:
    """Whole days `first`..`last` in Kosovo, split every day, week or month."""

    first: date
    last: date
    every: str
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, self.tz).astimezone(UTC)

    def period_of(self, moment: datetime) -> date:
        day = moment.astimezone(self.tz).date()
        if self.every == "week":
            return day - timedelta(days=day.weekday())
        if self.every == "month":
            return day.replace(day=1)
        return day

    def periods(self) -> list[date]:
        found: list[date] = []
        day = self.first
        while day <= self.last and len(found) < MAX_PERIODS:
            period = self.period_of(datetime.combine(day, time(12), self.tz))
            if not found or found[-1] != period:
                found.append(period)
            day += timedelta(days=1)
        return found


def parse_range(first: str, last: str, every: str, today: date, tz: ZoneInfo) -> Range:
    """The range asked for, or the last twelve weeks; days out of order are swapped."""
    try:
        end = date.fromisoformat(last) if last else today
    except ValueError:
        end = today
    try:
        begin = date.fromisoformat(first) if first else end - timedelta(weeks=12)
    except ValueError:
        begin = end - timedelta(weeks=12)
    if begin > end:
        begin, end = end, begin
    begin = max(begin, end - timedelta(days=MAX_PERIODS * 31))
    return Range(begin, end, every if every in EVERY else "week", tz)


def office_seconds(start: datetime, end: datetime, hours: OfficeHours) -> float:
    """How much of [start, end) fell within office hours."""
    if end <= start:
        return 0.0
    total = 0.0
    day = start.astimezone(hours.tz).date()
    last = end.astimezone(hours.tz).date()
    while day <= last:
        if day.isoweekday() in hours.days:
            opens = datetime.combine(day, hours.opens, hours.tz)
            closes = datetime.combine(day, hours.closes, hours.tz)
            overlap = (min(end, closes) - max(start, opens)).total_seconds()
            total += max(overlap, 0.0)
        day += timedelta(days=1)
    return total


def _median_hours(seconds: Sequence[float]) -> float | None:
    return round(statistics.median(seconds) / 3600, 2) if seconds else None


@dataclass
class Activity:
    period: date
    conversations: int = 0
    handoffs: int = 0
    urgent: int = 0
    answered: int = 0
    response_clock: list[float] = field(default_factory=list)
    response_office: list[float] = field(default_factory=list)
    resolved: int = 0
    resolution_office: list[float] = field(default_factory=list)

    def row(self) -> dict[str, object]:
        return {
            "period": self.period.isoformat(),
            "conversations": self.conversations,
            "handoffs": self.handoffs,
            "urgent": self.urgent,
            "answered": self.answered,
            "first_response_hours_median": _median_hours(self.response_clock),
            "first_response_office_hours_median": _median_hours(self.response_office),
            "resolved": self.resolved,
            "resolution_office_hours_median": _median_hours(self.resolution_office),
        }


async def activity(session: AsyncSession, span: Range, hours: OfficeHours) -> list[Activity]:
    """Per period: conversations started, hand-offs (urgent ones too), answered and resolved, with times."""
    rows = {p: Activity(p) for p in span.periods()}
    started = await session.execute(
        select(Conversation.created_at).where(Conversation.created_at >= span.start, Conversation.created_at < span.end)
    )
    for (at,) in started:
        rows[span.period_of(at)].conversations += 1
    waits = await session.execute(
        select(Handoff).where(Handoff.requested_at >= span.start, Handoff.requested_at < span.end)
    )
    for (wait,) in waits:
        row = rows[span.period_of(wait.requested_at)]
        row.handoffs += 1
        row.urgent += int(wait.urgent)
        if wait.first_response_at is not None:
            row.answered += 1
            row.response_clock.append((wait.first_response_at - wait.requested_at).total_seconds())
            row.response_office.append(office_seconds(wait.requested_at, wait.first_response_at, hours))
        if wait.resolved_at is not None:
            row.resolved += 1
            row.resolution_office.append(office_seconds(wait.requested_at, wait.resolved_at, hours))
    return [rows[p] for p in sorted(rows)]


@dataclass
class Wave:
    wave: int
    invited: int = 0
    answered: int = 0
    scores: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def row(self) -> dict[str, object]:
        means = {d: round(statistics.fmean(v), 3) if (v := self.scores.get(d)) else None for d in DIMENSIONS}
        return {
            "wave": self.wave,
            "invited": self.invited,
            "answered": self.answered,
            "response_rate": round(self.answered / self.invited, 3) if self.invited else None,
            **{f"mean_{d}": means[d] for d in DIMENSIONS},
        }


async def waves(session: AsyncSession, span: Range) -> list[Wave]:
    """Per wave: people invited in the range, how many answered, and the mean scores of the answers."""
    found: dict[int, Wave] = {}
    contacts = await session.execute(
        select(FollowupContact.wave, FollowupContact.status).where(
            FollowupContact.sent_at >= span.start, FollowupContact.sent_at < span.end
        )
    )
    for wave, status in contacts:
        row = found.setdefault(wave, Wave(wave))
        row.invited += 1
        row.answered += int(status == "answered")
    answers = await session.execute(
        select(Submission).where(
            Submission.status == "completed",
            Submission.wave.is_not(None),
            Submission.completed_at >= span.start,
            Submission.completed_at < span.end,
        )
    )
    for (submission,) in answers:
        row = found.setdefault(submission.wave or 0, Wave(submission.wave or 0))
        for dimension in DIMENSIONS:
            value = score((submission.scores or {}).get(dimension))
            if value is not None:
                row.scores[dimension].append(value)
    return [found[w] for w in sorted(found)]


@dataclass(frozen=True)
class CohortSignups:
    programme: Programme
    cohort: Cohort | None
    by_status: Counter[str]

    def row(self, name: str) -> dict[str, object]:
        return {
            "programme": self.programme.code,
            "cohort": self.cohort.id if self.cohort else None,
            "cohort_name": name,
            "municipality": self.cohort.municipality if self.cohort else None,
            "capacity": self.cohort.capacity if self.cohort else None,
            "signups": sum(self.by_status.values()),
            **{f"status_{k}": v for k, v in sorted(self.by_status.items())},
        }


async def signups(session: AsyncSession, span: Range) -> list[CohortSignups]:
    """Sign-ups made in the range, per programme and cohort, counted by their status now."""
    found = await session.execute(
        select(Enrolment.status, Programme, Cohort)
        .join(Programme, Programme.id == Enrolment.programme_id)
        .outerjoin(Cohort, Cohort.id == Enrolment.cohort_id)
        .where(Enrolment.status != "draft", Enrolment.created_at >= span.start, Enrolment.created_at < span.end)
    )
    groups: dict[tuple[int, int | None], CohortSignups] = {}
    for status, programme, cohort in found:
        key = (programme.id, cohort.id if cohort else None)
        group = groups.setdefault(key, CohortSignups(programme, cohort, Counter()))
        group.by_status[status] += 1
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1] or 0))]


def as_csv(rows: Iterable[dict[str, object]]) -> str:
    """Rows as CSV; every column any row has, in first-seen order; text that could run as a formula is
    neutralised like every other export's (a cohort's name is typed by staff)."""
    rows = list(rows)
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    out = io.StringIO()
    spreadsheet.write("csv", columns, ([row.get(c) for c in columns] for row in rows), out, "report")
    return out.getvalue()


def chart_svg(title: str, subtitle: str, labels: Sequence[str], values: Sequence[float | None], unit: str = "") -> str:
    """A bar chart as a standalone SVG document, sized for a report page (text stays text)."""
    width, height, left, bottom, top = 720, 340, 56, 40, 62
    plot_w, plot_h = width - left - 16, height - top - bottom
    numbers = [v for v in values if v is not None]
    peak = max(numbers, default=0.0) or 1.0
    step = plot_w / max(len(values), 1)
    bar = max(step * 0.7, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title + " · " + subtitle, {chr(34): "&quot;"})}">',
        f"<title>{escape(title)} · {escape(subtitle)}</title>",
        '<rect width="100%" height="100%" fill="#fff"/>',
        f'<text x="12" y="22" font-family="sans-serif" font-size="15" fill="#111">{escape(title)}</text>',
        f'<text x="12" y="42" font-family="sans-serif" font-size="12" fill="#444">{escape(subtitle)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#555"/>',
        f'<text x="{left - 6}" y="{top + 4}" font-family="sans-serif" font-size="11" text-anchor="end" '
        f'fill="#333">{_number(peak)}{escape(unit)}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" font-family="sans-serif" font-size="11" text-anchor="end" '
        f'fill="#333">0</text>',
    ]
    every_label = -(-len(labels) // 8)  # at most eight labels under the axis, so that none overlap
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = left + i * step + (step - bar) / 2
        if value:
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="#2f6f9f">'
                f"<title>{escape(label)}: {_number(value)}{escape(unit)}</title></rect>"
            )
        if i % every_label == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" font-family="sans-serif" font-size="11" '
                f'text-anchor="middle" fill="#333">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts)


PNG_DPI = 200  # 7.2 × 3.4 inches, as the SVG's 720 × 340 points: 1440 × 680 pixels
BAR_COLOUR = "#2f6f9f"


def chart_png(
    title: str, subtitle: str, labels: Sequence[str], values: Sequence[float | None], unit: str = ""
) -> bytes:
    """The bar chart of `chart_svg` as a PNG image, sharp enough to print."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported when a PNG is asked for
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.2, 3.4), dpi=PNG_DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.08, 0.12, 0.9, 0.66))
    figure.text(0.015, 0.93, title, fontsize=12, color="#111", family="DejaVu Sans")
    figure.text(0.015, 0.86, subtitle, fontsize=9, color="#444", family="DejaVu Sans")
    numbers = [v or 0.0 for v in values]
    positions = list(range(len(values)))
    axes.bar(positions, numbers, width=0.7, color=BAR_COLOUR, linewidth=0, antialiased=False)
    peak = max(numbers, default=0.0) or 1.0
    axes.set_ylim(0, peak)
    axes.set_xlim(-0.5, max(len(values), 1) - 0.5)
    axes.set_yticks([0, peak], ["0", f"{_number(peak)}{unit}"], fontsize=8, family="DejaVu Sans")
    every_label = -(-len(labels) // 8) or 1  # at most eight labels under the axis, as in the SVG
    axes.set_xticks(positions[::every_label], list(labels)[::every_label], fontsize=8, family="DejaVu Sans")
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color("#555")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=PNG_DPI, facecolor="white", metadata={"Title": f"{title} · {subtitle}"})
    return out.getvalue()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def period_label(period: date, every: str) -> str:
    """A short label under a chart's bar: 7.9. for a day or a week's Monday, 9.2026 for a month."""
    return f"{period.month}.{period.year}" if every == "month" else f"{period.day}.{period.month}."
