"""The public web chat page: a person talks to the same bot from a browser (channel `web`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from bot.channels import webchat
from console import auth, chat, live, ui
from console.web import console_of

router = APIRouter(prefix="/chat")
MAX_BODY = 16 * 1024


def _visitor(request: Request) -> str | None:
    visitor = request.cookies.get(chat.COOKIE)
    return visitor if chat.valid_visitor(visitor) else None


@router.get("")
async def chat_page(request: Request) -> Response:
    console = console_of(request)
    visitor = _visitor(request) or webchat.new_visitor()
    person = await chat.person_of(console.homeward, visitor)
    t = ui.interface(console.homeward.translations, person.locale if person else None)
    html = ui.render(console.env, "chat.html", t, token=chat.page_token(console.secret, visitor))
    response = Response(html, media_type="text/html; charset=utf-8")
    response.set_cookie(
        chat.COOKIE,
        visitor,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=180 * 24 * 3600,
    )
    return response


@router.post("/messages")
async def chat_send(request: Request) -> Response:
    console = console_of(request)
    visitor = _visitor(request)
    if visitor is None or not auth.same(chat.page_token(console.secret, visitor), request.headers.get("x-chat-token")):
        return Response(status_code=403)
    body = await request.body()
    try:
        event: dict[str, Any] = json.loads(body) if len(body) <= MAX_BODY else {}
    except ValueError:
        event = {}
    client_id = event.get("id")
    text, data = event.get("text"), event.get("data")
    if not isinstance(client_id, str) or not client_id or (not isinstance(text, str) and not isinstance(data, str)):
        return Response(status_code=400)
    language = request.headers.get("accept-language", "").split(",")[0].strip() or None
    await chat.submit(
        console.homeward,
        visitor,
        client_id[:64],
        text=text if isinstance(text, str) else None,
        data=data if isinstance(data, str) else None,
        language_code=language,
    )
    return JSONResponse({"ok": True}, status_code=202)


@router.get("/events")
async def chat_events(request: Request, after: int = 0) -> Response:
    console = console_of(request)
    visitor = _visitor(request)
    if visitor is None:
        return Response(status_code=403)
    resumed = request.headers.get("last-event-id", "")
    cursor = [int(resumed) if resumed.isdigit() else max(0, after)]

    async def tick() -> list[tuple[str, Any]]:
        lines, cursor[0] = await chat.lines_after(console.homeward, visitor, cursor[0])
        return [("line", {**line.as_json(), "cursor": cursor[0]}) for line in lines]

    return StreamingResponse(
        live.stream(tick, console.homeward.webchat.doorbell, interval=1.0, lifetime=console.stream_seconds),
        media_type="text/event-stream",
    )
