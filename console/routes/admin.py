"""Admin pages: the audit log (read only), exports of all transcripts, canned replies, staff accounts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from console import audit, canned, conversations, exports
from console.web import Auditor, CannedManager, Exporter, NotFound, back, console_of, page
from db.staff import StaffUser

router = APIRouter()


@router.get("/audit")
async def audit_log(
    request: Request, staff: Auditor, actor: str = "", action: str = "", page_number: int = 1
) -> Response:
    async with console_of(request).homeward.db.sessions() as session:
        found = await audit.entries(session, actor=actor[:80], action=action[:40], page=max(1, page_number))
    return page(request, staff, "audit.html", log=found, actor=actor, action=action)


@router.get("/exports")
async def exports_page(request: Request, staff: Exporter) -> Response:
    return page(request, staff, "exports.html")


@router.get("/exports/transcripts")
async def export_all(request: Request, staff: Exporter, format: str = "csv", since: str = "") -> Response:
    console = console_of(request)
    try:
        start = datetime.combine(date.fromisoformat(since), datetime.min.time(), UTC) if since else None
    except ValueError as exc:
        raise NotFound from exc
    if format not in exports.MEDIA_TYPES:
        raise NotFound
    made = await exports.transcripts(console.homeward.db, staff, format, console.now(), since=start)
    return StreamingResponse(
        made.chunks(),
        media_type=made.media_type,
        headers={"content-disposition": f'attachment; filename="{made.filename}"'},
    )


@router.get("/canned")
async def canned_page(request: Request, staff: CannedManager, error: str = "") -> Response:
    async with console_of(request).homeward.db.sessions() as session:
        replies = await canned.all_replies(session)
    return page(
        request,
        staff,
        "canned.html",
        replies=replies,
        error=error,
        reasons=conversations.REASONS,
        latin=canned.text_for,
    )


@router.post("/canned")
async def canned_add(
    request: Request,
    staff: CannedManager,
    title: str = Form(""),
    text_sq: str = Form(""),
    text_sr: str = Form(""),
) -> Response:
    console = console_of(request)
    try:
        async with console.homeward.db.transaction() as session:
            await canned.add(session, staff, title, text_sq, text_sr, console.now())
    except conversations.Refused as exc:
        return back(f"/canned?error={exc.reason}")
    return back("/canned")


@router.post("/canned/{reply_id}/remove")
async def canned_remove(request: Request, staff: CannedManager, reply_id: int) -> Response:
    console = console_of(request)
    async with console.homeward.db.transaction() as session:
        await canned.remove(session, staff, reply_id, console.now())
    return back("/canned")


@router.get("/staff")
async def staff_list(request: Request, staff: Auditor) -> Response:
    async with console_of(request).homeward.db.sessions() as session:
        users = list((await session.execute(select(StaffUser).order_by(StaffUser.name))).scalars())
    return page(request, staff, "staff.html", users=users)
