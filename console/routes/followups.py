"""The follow-ups page (figures per wave, and results for those who may read them) and its export."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from bot.followup.contacts import FORM_ID
from console import dashboard, exports, followups
from console.access import Permission
from console.web import Exporter, FollowupReader, NotFound, console_of, page

router = APIRouter(prefix="/followups")


@router.get("")
async def show(request: Request, staff: FollowupReader, page_number: int = 1) -> Response:
    console = console_of(request)
    results = None
    async with console.homeward.db.transaction() as session:
        waves = await followups.overview(session, staff)
        if staff.may(Permission.FOLLOWUP_RESULTS):
            results = await followups.results(session, staff, console.now(), max(1, min(page_number, 10_000)))
    return page(
        request,
        staff,
        "followups.html",
        waves=waves,
        results=results,
        small=followups.smallest_group(staff) or None,
        fewest=dashboard.SMALL,
        dimensions=followups.DIMENSIONS,
        dimension_labels=followups.DIMENSION_LABELS,
        statuses=followups.CONTACT_STATUS,
        reasons=followups.SKIP_REASONS,
    )


@router.get("/export")
async def export(
    request: Request, staff: Exporter, format: str = "csv", since: str = "", redacted: str = ""
) -> Response:
    console = console_of(request)
    questionnaire = console.homeward.services.extras["questionnaires"].get(FORM_ID)
    if questionnaire is None or format not in exports.MEDIA_TYPES:
        raise NotFound
    try:
        start = datetime.combine(date.fromisoformat(since), datetime.min.time(), UTC) if since else None
    except ValueError as exc:
        raise NotFound from exc
    made = await exports.followups(
        console.homeward.db,
        staff,
        questionnaire,
        format,
        console.now(),
        since=start,
        redacted=redacted == "1",
    )
    return StreamingResponse(
        made.chunks(),
        media_type=made.media_type,
        headers={"content-disposition": f'attachment; filename="{made.filename}"'},
    )
