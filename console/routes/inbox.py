"""The inbox, transcript search, the aggregates dashboard, and the inbox's live updates."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from bot.i18n import LOCALES
from console import audit, dashboard, inbox, live, notifications, search, ui
from console.web import InboxReader, SignedIn, console_of, page

router = APIRouter()


@router.get("/inbox")
async def show_inbox(
    request: Request,
    staff: InboxReader,
    view: str = "needs_human",
    locale: str = "",
    municipality: str = "",
    app: str = "",
    page_number: int = 1,
    before: str = "",
    after: str = "",
) -> Response:
    query = inbox.Query(
        view=view if view in inbox.FILTERS else "needs_human",
        locale=locale if locale in LOCALES else "",
        municipality=municipality[:32],
        app=app if app in ui.APP_NAMES else "",
        page=max(1, min(page_number, 10_000)),
        before=inbox.Cursor.parse(before[:40]) if before else None,
        after=inbox.Cursor.parse(after[:40]) if after and not before else None,
    )
    async with console_of(request).homeward.db.sessions() as session:
        found = await inbox.load(session, staff, query)
        unread = await notifications.unread_among(session, staff, [r.conversation_id for r in found.rows])
    return page(
        request,
        staff,
        "inbox.html",
        inbox=found,
        unread=unread,
        filters=inbox.FILTERS,
        locales=LOCALES,
        cap=inbox.COUNT_CAP,
        municipalities=ui.municipality_choices(
            console_of(request).homeward.services.extras.get("municipalities"), staff.municipalities
        ),
    )


@router.get("/search")
async def search_transcripts(request: Request, staff: InboxReader, q: str = "") -> Response:
    console = console_of(request)
    hits: list[search.Hit] = []
    if q.strip():
        async with console.homeward.db.transaction() as session:
            hits = await search.search(session, staff, q[:200], is_sqlite=console.homeward.db.is_sqlite)
            audit.record(
                session,
                actor=staff.actor,
                action="transcript.search",
                now=console.now(),
                detail={"query": q[:200], "results": len(hits)},
            )
    return page(request, staff, "search.html", q=q, hits=hits)


@router.get("/dashboard")
async def show_dashboard(request: Request, staff: SignedIn) -> Response:
    console = console_of(request)
    async with console.homeward.db.sessions() as session:
        figures = await dashboard.figures(session, console.now())
    return page(request, staff, "dashboard.html", figures=figures, small=dashboard.SMALL)


@router.get("/events/inbox")
async def inbox_events(request: Request, staff: InboxReader) -> Response:
    console = console_of(request)
    last: list[str] = []

    async def tick() -> list[tuple[str, object]]:
        async with console.homeward.db.sessions() as session:
            current = await inbox.signature(session)
        changed = bool(last) and last[-1] != current
        last[:] = [current]
        return [("changed", {})] if changed else []

    return StreamingResponse(
        live.follow(console.feed, ("inbox",), tick, interval=lambda: live.SLOW_LOOK, lifetime=console.stream_seconds),
        media_type="text/event-stream",
    )


@router.get("/events/alerts")
async def alert_events(request: Request, staff: InboxReader) -> Response:
    """On every console page: how many waiting and urgent conversations are unread, whenever that changes."""
    console = console_of(request)
    last: list[dict[str, object]] = []

    async def tick() -> list[tuple[str, object]]:
        async with console.homeward.db.sessions() as session:
            current = (await notifications.alerts(session, staff)).as_dict()
        if last and last[-1] == current:
            return []
        last[:] = [current]
        return [("alerts", current)]

    async def events() -> AsyncIterator[bytes]:
        for name, data in await tick():  # the state at once: the page's title is right from the start
            yield live.event(name, data)
        async for chunk in live.follow(
            console.feed,
            ("alerts", ("alerts", staff.id)),
            tick,
            interval=lambda: live.SLOW_LOOK,
            lifetime=console.stream_seconds,
        ):
            yield chunk

    return StreamingResponse(events(), media_type="text/event-stream")
