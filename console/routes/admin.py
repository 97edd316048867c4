"""Admin pages: the audit log (read only), exports of all transcripts, canned replies, staff accounts.

The staff page does what `homeward staff …` does (`console.accounts`), with the signed-in admin
as the actor. A passphrase an admin leaves empty is generated and shown once, in the answer to
that post and nowhere else: it is never put in a link, a log or the audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from bot.municipalities import Municipalities
from console import accounts, audit, auth, canned, conversations, exports, passphrases
from console.access import LIMITED_ROLES, Permission, Staff
from console.web import Auditor, CannedManager, Exporter, NotFound, allowed, back, console_of, page, translator
from db.staff import ROLES, StaffUser

router = APIRouter()
StaffManager = Annotated[Staff, Depends(allowed(Permission.STAFF))]
Change = Callable[[AsyncSession, StaffUser, datetime], Awaitable[accounts.Outcome]]
DONE = ("added", "disabled", "enabled", "role", "municipalities", "password", "sessions")


@router.get("/audit")
async def audit_log(
    request: Request, staff: Auditor, actor: str = "", action: str = "", page_number: int = 1
) -> Response:
    async with console_of(request).homeward.db.sessions() as session:
        found = await audit.entries(session, actor=actor[:80], action=action[:40], page=max(1, page_number))
    t = translator(request, staff)
    lines = [audit.line(entry, t) for entry in found.entries]
    return page(request, staff, "audit.html", log=found, lines=lines, actor=actor, action=action)


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


def _registry(request: Request) -> Municipalities:
    return console_of(request).homeward.services.extras["municipalities"]  # type: ignore[no-any-return]


async def _staff_page(
    request: Request,
    staff: Staff,
    *,
    status: int = 200,
    refused: auth.AccountError | None = None,
    generated: tuple[str, str] | None = None,
) -> Response:
    console = console_of(request)
    async with console.homeward.db.sessions() as session:
        users = await accounts.listing(session)
        signed_in = await accounts.open_sessions(session, console.now())
    error = None
    if refused is not None:
        error = translator(request, staff).gettext(accounts.REASONS[refused.reason], **refused.values)
    query = request.query_params
    done = query.get("done", "") if query.get("done", "") in DONE else ""  # names come from the table, not the link
    return page(
        request,
        staff,
        "staff.html",
        status=status,
        users=users,
        signed_in=signed_in,
        roles=ROLES,
        limited_roles=LIMITED_ROLES,
        registry=_registry(request).items,
        error=error,
        generated=generated,
        done=done,
        done_name=next((u.name for u in users if str(u.id) == query.get("account")), ""),
        ended=int(query.get("sessions", "0")) if query.get("sessions", "").isdigit() else 0,
        released=int(query.get("released", "0")) if query.get("released", "").isdigit() else 0,
        min_length=passphrases.MIN_LENGTH,
    )


def _done(done: str, user: StaffUser, outcome: accounts.Outcome) -> Response:
    values = {"done": done, "account": user.id, "sessions": outcome.sessions, "released": outcome.released}
    return back(f"/staff?{urlencode(values)}#staff-{user.id}")


async def _change(request: Request, staff: Staff, staff_id: int, done: str, change: Change) -> Response:
    console = console_of(request)
    try:
        async with console.homeward.db.transaction() as session:
            user = await accounts.get(session, staff_id)
            outcome = await change(session, user, console.now())
    except auth.AccountError as exc:
        return await _staff_page(request, staff, status=400, refused=exc)
    return _done(done, user, outcome)


@router.get("/staff")
async def staff_list(request: Request, staff: StaffManager) -> Response:
    return await _staff_page(request, staff)


@router.post("/staff")
async def staff_add(
    request: Request,
    staff: StaffManager,
    name: str = Form(""),
    role: str = Form(""),
    municipality: list[str] = Form([]),  # noqa: B008  (FastAPI reads repeated fields this way)
    passphrase: str = Form(""),
) -> Response:
    console = console_of(request)
    chosen = passphrase or passphrases.generate()
    try:
        async with console.homeward.db.transaction() as session:
            user = await accounts.add(
                session,
                _registry(request),
                actor=staff.actor,
                name=name,
                role=role,
                municipalities=municipality,
                passphrase=chosen,
                now=console.now(),
            )
    except auth.AccountError as exc:
        return await _staff_page(request, staff, status=400, refused=exc)
    if not passphrase:
        return await _staff_page(request, staff, generated=(user.name, chosen))
    return _done("added", user, accounts.Outcome())


@router.post("/staff/{staff_id}/disable")
async def staff_disable(request: Request, staff: StaffManager, staff_id: int) -> Response:
    async def change(session: AsyncSession, user: StaffUser, now: datetime) -> accounts.Outcome:
        return await accounts.disable(session, actor=staff.actor, user=user, now=now, by=staff.id)

    return await _change(request, staff, staff_id, "disabled", change)


@router.post("/staff/{staff_id}/enable")
async def staff_enable(request: Request, staff: StaffManager, staff_id: int) -> Response:
    async def change(session: AsyncSession, user: StaffUser, now: datetime) -> accounts.Outcome:
        return await accounts.enable(session, actor=staff.actor, user=user, now=now)

    return await _change(request, staff, staff_id, "enabled", change)


@router.post("/staff/{staff_id}/role")
async def staff_role(request: Request, staff: StaffManager, staff_id: int, role: str = Form("")) -> Response:
    async def change(session: AsyncSession, user: StaffUser, now: datetime) -> accounts.Outcome:
        return await accounts.set_role(session, actor=staff.actor, user=user, role=role, now=now, by=staff.id)

    return await _change(request, staff, staff_id, "role", change)


@router.post("/staff/{staff_id}/municipalities")
async def staff_municipalities(
    request: Request,
    staff: StaffManager,
    staff_id: int,
    municipality: list[str] = Form([]),  # noqa: B008
) -> Response:
    registry = _registry(request)

    async def change(session: AsyncSession, user: StaffUser, now: datetime) -> accounts.Outcome:
        return await accounts.set_municipalities(
            session, registry, actor=staff.actor, user=user, municipalities=municipality, now=now
        )

    return await _change(request, staff, staff_id, "municipalities", change)


@router.post("/staff/{staff_id}/password")
async def staff_password(request: Request, staff: StaffManager, staff_id: int, passphrase: str = Form("")) -> Response:
    console = console_of(request)
    chosen = passphrase or passphrases.generate()
    keep = staff.session_id if staff_id == staff.id else None  # an admin changing their own stays signed in here
    try:
        async with console.homeward.db.transaction() as session:
            user = await accounts.get(session, staff_id)
            outcome = await accounts.set_passphrase(
                session, actor=staff.actor, user=user, passphrase=chosen, now=console.now(), keep=keep
            )
    except auth.AccountError as exc:
        return await _staff_page(request, staff, status=400, refused=exc)
    if not passphrase:
        return await _staff_page(request, staff, generated=(user.name, chosen))
    return _done("password", user, outcome)


@router.post("/staff/{staff_id}/sessions/end")
async def staff_sessions_end(request: Request, staff: StaffManager, staff_id: int) -> Response:
    keep = staff.session_id if staff_id == staff.id else None

    async def change(session: AsyncSession, user: StaffUser, now: datetime) -> accounts.Outcome:
        return await accounts.end_sessions(session, actor=staff.actor, user=user, now=now, keep=keep)

    return await _change(request, staff, staff_id, "sessions", change)
