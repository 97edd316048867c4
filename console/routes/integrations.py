"""The integrations page (admins): API tokens and webhooks made, revoked and watched on screen, audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from bot.integrations import tokens, webhooks
from console import audit
from console.access import Permission, Staff
from console.web import allowed, back, console_of, page

router = APIRouter()
Admin = Annotated[Staff, Depends(allowed(Permission.INTEGRATIONS))]
Names = Annotated[list[str], Form()]


async def _page(request: Request, staff: Staff, **shown: Any) -> Response:
    async with console_of(request).homeward.db.sessions() as session:
        made = await tokens.listing(session)
        hooks = await webhooks.subscriptions(session)
        log = await webhooks.deliveries(session, limit=50)
    return page(
        request,
        staff,
        "integrations.html",
        tokens=made,
        hooks=hooks,
        log=log,
        scopes=tokens.SCOPES,
        events=webhooks.EVENTS,
        **shown,
    )


@router.get("/integrations")
async def integrations(request: Request, staff: Admin) -> Response:
    return await _page(request, staff)


@router.post("/integrations/tokens")
async def token_add(request: Request, staff: Admin, name: str = Form(""), scope: Names = []) -> Response:  # noqa: B006
    console = console_of(request)
    try:
        async with console.homeward.db.transaction() as session:
            row, plain = await tokens.issue(session, name=name.strip(), scopes=scope, by=staff.actor, now=console.now())
            audit.record(
                session,
                actor=staff.actor,
                action="api.token_add",
                now=console.now(),
                target=f"integration:{row.name}",
                detail={"scopes": row.scopes},
            )
    except tokens.TokenError as exc:
        return await _page(request, staff, problem=str(exc))
    return await _page(request, staff, new_token=(row.name, plain))


@router.post("/integrations/tokens/{name}/revoke")
async def token_revoke(request: Request, staff: Admin, name: str) -> Response:
    console = console_of(request)
    try:
        async with console.homeward.db.transaction() as session:
            await tokens.revoke(session, name, console.now())
            audit.record(
                session, actor=staff.actor, action="api.token_revoke", now=console.now(), target=f"integration:{name}"
            )
    except tokens.TokenError as exc:
        return await _page(request, staff, problem=str(exc))
    return back("/integrations")


@router.post("/integrations/webhooks")
async def webhook_add(
    request: Request,
    staff: Admin,
    name: str = Form(""),
    url: str = Form(""),
    event: Names = [],  # noqa: B006
) -> Response:
    console = console_of(request)
    try:
        async with console.homeward.db.transaction() as session:
            row, secret = await webhooks.subscribe(
                session, name=name.strip(), url=url.strip(), events=event, by=staff.actor, now=console.now()
            )
            audit.record(
                session,
                actor=staff.actor,
                action="api.webhook_add",
                now=console.now(),
                target=f"webhook:{row.name}",
                detail={"events": row.events},
            )
    except tokens.TokenError as exc:
        return await _page(request, staff, problem=str(exc))
    return await _page(request, staff, new_secret=(row.name, secret))


@router.post("/integrations/webhooks/{name}/remove")
async def webhook_remove(request: Request, staff: Admin, name: str) -> Response:
    console = console_of(request)
    try:
        async with console.homeward.db.transaction() as session:
            await webhooks.unsubscribe(session, name)
            audit.record(
                session, actor=staff.actor, action="api.webhook_remove", now=console.now(), target=f"webhook:{name}"
            )
    except tokens.TokenError as exc:
        return await _page(request, staff, problem=str(exc))
    return back("/integrations")
