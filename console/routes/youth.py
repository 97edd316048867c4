"""The youth page for coordinators: programmes, cohorts, sign-ups and waiting lists; the sign-up export."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from bot.exports import SIGNUP_FORM
from console import cohorts, exports
from console.web import NotFound, YouthCoordinator, console_of, page, translator

router = APIRouter(prefix="/youth")


@router.get("")
async def show(request: Request, staff: YouthCoordinator) -> Response:
    console = console_of(request)
    async with console.homeward.db.transaction() as session:
        programmes = await cohorts.programmes(session, staff, console.now())
    return page(
        request,
        staff,
        "youth.html",
        programmes=programmes,
        in_language=cohorts.names(translator(request, staff).locale),
        statuses=cohorts.ENROLMENT_STATUS,
        guardian_states=cohorts.GUARDIAN_STATES,
    )


@router.get("/export")
async def export(
    request: Request, staff: YouthCoordinator, format: str = "csv", programme: str = "", cohort: str = ""
) -> Response:
    console = console_of(request)
    questionnaire = console.homeward.services.extras["questionnaires"].get(SIGNUP_FORM)
    if questionnaire is None or format not in exports.MEDIA_TYPES:
        raise NotFound
    if cohort and not cohort.isdigit():
        raise NotFound
    made = await exports.signups(
        console.homeward.db,
        staff,
        questionnaire,
        format,
        console.now(),
        programme=programme[:32] or None,
        cohort=int(cohort) if cohort else None,
    )
    return StreamingResponse(
        made.chunks(),
        media_type=made.media_type,
        headers={"content-disposition": f'attachment; filename="{made.filename}"'},
    )
