"""Reports: a period's figures on screen, as CSV tables and as SVG and PNG charts for donor reports."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console import audit, reports
from console.access import Permission, Staff
from console.cohorts import ENROLMENT_STATUS
from console.followups import DIMENSION_LABELS, DIMENSIONS
from console.web import NotFound, allowed, console_of, page, translator
from handlers.handoff import office_hours

router = APIRouter()
Reader = Annotated[Staff, Depends(allowed(Permission.REPORTS))]
SERIES = {
    "conversations": ("Conversations started", ""),
    "handoffs": ("Hand-offs to a caseworker", ""),
    "first_response_office_hours_median": ("First response, median (office hours)", " h"),
}


def _span(request: Request, first: str, last: str, every: str) -> reports.Range:
    """The asked range in the mission's time zone (Kosovo's), where office hours are kept too."""
    console = console_of(request)
    tz = office_hours(console.homeward.services).tz
    return reports.parse_range(first, last, every, console.now().astimezone(tz).date(), tz)


@router.get("/reports")
async def show(request: Request, staff: Reader, first: str = "", last: str = "", every: str = "week") -> Response:
    console = console_of(request)
    span = _span(request, first, last, every)
    async with console.homeward.db.sessions() as session:
        activity = await reports.activity(session, span, office_hours(console.homeward.services))
        waves = await reports.waves(session, span)
        signups = await reports.signups(session, span)
    return page(
        request,
        staff,
        "reports.html",
        span=span,
        everies=reports.EVERY,
        activity=[a.row() for a in activity],
        waves=[w.row() for w in waves],
        signups=signups,
        series=SERIES,
        dimensions=DIMENSIONS,
        dimension_labels=DIMENSION_LABELS,
        statuses=ENROLMENT_STATUS,
    )


@router.get("/reports/{table}.csv")
async def table_csv(
    request: Request, staff: Reader, table: str, first: str = "", last: str = "", every: str = "week"
) -> Response:
    console = console_of(request)
    span = _span(request, first, last, every)
    async with console.homeward.db.transaction() as session:
        if table == "activity":
            rows = [a.row() for a in await reports.activity(session, span, office_hours(console.homeward.services))]
        elif table == "followups":
            rows = [w.row() for w in await reports.waves(session, span)]
        elif table == "signups":
            # Both names, as the programme was named: a donor report favours neither language.
            rows = [
                g.row(f"{g.cohort.name_sq} / {g.cohort.name_sr}" if g.cohort else "")
                for g in await reports.signups(session, span)
            ]
        else:
            raise NotFound
        audit.record(
            session,
            actor=staff.actor,
            action="report.export",
            now=console.now(),
            target=table,
            detail={"first": span.first.isoformat(), "last": span.last.isoformat(), "every": span.every},
        )
    name = f"homeward-{table}-{span.first.isoformat()}-{span.last.isoformat()}.csv"
    return Response(
        reports.as_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get("/reports/chart.svg")
async def chart_svg(
    request: Request, staff: Reader, series: str = "conversations", first: str = "", last: str = "", every: str = "week"
) -> Response:
    """A series as an SVG chart, for the page and the web."""
    return await _chart(request, staff, "svg", series, first, last, every)


@router.get("/reports/chart.png")
async def chart_png(
    request: Request, staff: Reader, series: str = "conversations", first: str = "", last: str = "", every: str = "week"
) -> Response:
    """The same chart as a PNG image, for documents that take pictures only."""
    return await _chart(request, staff, "png", series, first, last, every)


async def _chart(request: Request, staff: Staff, kind: str, series: str, first: str, last: str, every: str) -> Response:
    if series not in SERIES:
        raise NotFound
    console = console_of(request)
    span = _span(request, first, last, every)
    async with console.homeward.db.sessions() as session:
        rows = [a.row() for a in await reports.activity(session, span, office_hours(console.homeward.services))]
    t = translator(request, staff)
    title, unit = SERIES[series]
    values: list[float | None] = [v if isinstance(v := r[series], int | float) else None for r in rows]
    drawn = (
        t.gettext(title),
        f"{t.date(span.first)} – {t.date(span.last)}",
        [reports.period_label(date.fromisoformat(str(r["period"])), span.every) for r in rows],
        values,
        unit,
    )
    if kind == "svg":
        return Response(reports.chart_svg(*drawn), media_type="image/svg+xml")
    png = await asyncio.to_thread(reports.chart_png, *drawn)  # a few tens of milliseconds of drawing
    name = f"homeward-{series}-{span.first.isoformat()}-{span.last.isoformat()}.png"
    return Response(png, media_type="image/png", headers={"content-disposition": f'inline; filename="{name}"'})
