"""Admin page: updates quarantined after their turn kept failing, and updates read only in part."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console import updates
from console.web import Auditor, console_of, page

router = APIRouter()


@router.get("/updates")
async def held_updates(request: Request, staff: Auditor) -> Response:
    async with console_of(request).homeward.db.sessions() as session:
        quarantined, in_part = await updates.held(session)
    return page(request, staff, "updates.html", quarantined=quarantined, in_part=in_part)
