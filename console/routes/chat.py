"""The public web chat page: a person talks to the same bot from a browser (channel `web`).

Anyone on the internet can reach it, so every way in is bounded: messages per visitor and per
address, new visitors per address, open live streams per visitor, per address and in total, and
the size and shape of what is posted.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from bot.channels import webchat
from bot.config import Settings
from console import auth, chat, live, ui
from console.addresses import client_address
from console.throttle import Streams, Window
from console.web import console_of

router = APIRouter(prefix="/chat")
MAX_BODY = 16 * 1024
STREAM_GRACE = 30.0  # a stream's place is kept this long past its lifetime if its closing never ran
MAX_CURSOR = 2**62  # message ids are 64-bit; anything beyond is not a cursor
FILE_TYPES = {".json": "application/json", ".txt": "text/plain; charset=utf-8"}


@dataclass
class Limits:
    messages_per_visitor: Window
    messages_per_address: Window
    visitors_per_address: Window
    streams: Streams

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            Window(settings.webchat_messages_per_visitor, 10.0),
            Window(settings.webchat_messages_per_address, 10.0),
            Window(settings.webchat_visitors_per_address, 3600.0),
            Streams(
                per_visitor=settings.webchat_streams_per_visitor,
                per_address=settings.webchat_streams_per_address,
                total=settings.webchat_streams_total,
            ),
        )


def _limits(request: Request) -> Limits:
    state = request.app.state
    if not hasattr(state, "chat_limits"):
        state.chat_limits = Limits.of(console_of(request).homeward.settings)
    return state.chat_limits  # type: ignore[no-any-return]


def _address(request: Request) -> str:
    return client_address(request, console_of(request).homeward.settings.trusted_proxies)


def _visitor(request: Request) -> str | None:
    visitor = request.cookies.get(chat.COOKIE)
    return visitor if chat.valid_visitor(visitor) else None


def _too_many(retry_after: int) -> Response:
    return JSONResponse({"error": "too_many"}, status_code=429, headers={"retry-after": str(retry_after)})


def _well_formed(value: object) -> bool:
    """A string that can be stored: valid Unicode (a lone surrogate is not)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _body(request: Request, limit: int) -> bytes | None:
    """The request body, or None if it is longer than `limit` (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


@router.get("")
async def chat_page(request: Request) -> Response:
    console = console_of(request)
    visitor = _visitor(request)
    if visitor is None:
        if not _limits(request).visitors_per_address.allow(_address(request), time.monotonic()):
            t = ui.interface(console.homeward.translations, None)
            text = t.gettext("Too many new conversations were started from your network. Please try again later.")
            return Response(
                text, status_code=429, media_type="text/plain; charset=utf-8", headers={"retry-after": "600"}
            )
        visitor = webchat.new_visitor()
    await chat.forget_expired_files(console.homeward)
    person = await chat.person_of(console.homeward, await chat.identity(console.homeward, visitor))
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
    limits, now = _limits(request), time.monotonic()
    if not limits.messages_per_visitor.allow(visitor, now) or not limits.messages_per_address.allow(
        _address(request), now
    ):
        return _too_many(10)
    body = await _body(request, MAX_BODY)
    if body is None:
        return JSONResponse({"error": "too_long", "limit": webchat.MAX_TEXT}, status_code=413)
    try:
        event: Any = json.loads(body)
    except ValueError:
        return Response(status_code=400)
    if not isinstance(event, dict):
        return Response(status_code=400)
    client_id, text, data = event.get("id"), event.get("text"), event.get("data")
    if not _well_formed(client_id) or not client_id or len(client_id) > 64:
        return Response(status_code=400)
    if (text is None) == (data is None) or not _well_formed(text if data is None else data):
        return Response(status_code=400)
    if isinstance(data, str) and len(data) > 64:
        return Response(status_code=400)
    if isinstance(text, str) and len(text) > webchat.MAX_TEXT:
        return JSONResponse({"error": "too_long", "limit": webchat.MAX_TEXT}, status_code=413)
    language = request.headers.get("accept-language", "").split(",")[0].strip() or None
    await chat.submit(
        console.homeward,
        await chat.identity(console.homeward, visitor),
        client_id,
        text=text,
        data=data,
        language_code=language,
    )
    return JSONResponse({"ok": True}, status_code=202)


@router.post("/files")
async def chat_upload(request: Request) -> Response:
    """A photo or document the person sends: the body is the file, its name in `X-File-Name` (URL-encoded).

    Refused politely, in the person's language, when it is too large or not a photo or PDF (read
    from its bytes, whatever its name says).
    """
    console = console_of(request)
    visitor = _visitor(request)
    if visitor is None or not auth.same(chat.page_token(console.secret, visitor), request.headers.get("x-chat-token")):
        return Response(status_code=403)
    limits, now = _limits(request), time.monotonic()
    if not limits.messages_per_visitor.allow(visitor, now) or not limits.messages_per_address.allow(
        _address(request), now
    ):
        return _too_many(10)
    client_id = request.headers.get("x-message-id", "")
    if not client_id or len(client_id) > 64 or not client_id.replace("-", "").isalnum():
        return Response(status_code=400)
    name = unquote(request.headers.get("x-file-name", ""))[:128]
    name = "".join(c for c in name.replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())
    content = await _body(request, console.homeward.settings.webchat_upload_max_bytes)
    if content is not None and not content:
        return Response(status_code=400)
    done = await chat.upload(
        console.homeward,
        await chat.identity(console.homeward, visitor),
        client_id,
        content,
        name,
        request.headers.get("content-type"),
    )
    if done.error is not None:
        status = {"too_big": 413, "wrong_type": 415}.get(done.error, 409)
        return JSONResponse({"error": done.error, "message": done.message}, status_code=status)
    return JSONResponse({"ok": True}, status_code=202)


def _cursor(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 19 and int(value) < MAX_CURSOR else None


@router.get("/events")
async def chat_events(request: Request, after: str = "0") -> Response:
    console = console_of(request)
    visitor = _visitor(request)
    if visitor is None:
        return Response(status_code=403)
    resumed = request.headers.get("last-event-id", "")
    start = _cursor(resumed) if resumed else _cursor(after)
    if start is None:
        return Response(status_code=400)
    streams, now = _limits(request).streams, time.monotonic()
    place = streams.open(visitor, _address(request), now, now + console.stream_seconds + STREAM_GRACE)
    if place is None:
        return _too_many(5)
    try:
        identity = await chat.identity(console.homeward, visitor)
    except BaseException:
        streams.close(place)
        raise
    cursor = [start]

    async def tick() -> list[tuple[str, Any]]:
        lines, cursor[0] = await chat.lines_after(console.homeward, identity, cursor[0])
        return [("line", {**line.as_json(), "cursor": cursor[0]}) for line in lines]

    async def events() -> AsyncIterator[bytes]:
        try:
            with console.homeward.webchat.bells.listening(identity) as bell:
                async for chunk in live.stream(tick, bell, interval=1.0, lifetime=console.stream_seconds):
                    yield chunk
        finally:
            streams.close(place)

    return StreamingResponse(events(), media_type="text/event-stream")


@router.get("/files/{file_id}/{signature}")
async def chat_file(request: Request, file_id: int, signature: str) -> Response:
    """A /mydata file, once: the link stops working when used or after its lifetime."""
    console = console_of(request)
    visitor = _visitor(request)
    if visitor is None or not 0 < file_id < MAX_CURSOR:
        return Response(status_code=404)
    taken = await chat.take_file(console.homeward, await chat.identity(console.homeward, visitor), file_id, signature)
    if taken is None:
        t = ui.interface(console.homeward.translations, None)
        text = t.gettext("This link was already used or has expired. Send /mydata for a new one.")
        return Response(text, status_code=404, media_type="text/plain; charset=utf-8")
    return _file_response(*taken)


@router.get("/files/{file_id}/{signature}/{name}")
async def app_file(request: Request, file_id: int, signature: str, name: str) -> Response:
    """A /mydata file sent in an app as a link (Viber's file message), once, within its lifetime; no cookie:
    the signed link is the key. The name at the end is for the app (Viber wants an extension there)."""
    console = console_of(request)
    if not 0 < file_id < MAX_CURSOR:
        return Response(status_code=404)
    taken = await chat.take_app_file(console.homeward, file_id, signature)
    if taken is None:
        return Response(status_code=404)
    return _file_response(*taken)


def _file_response(name: str, content: bytes) -> Response:
    kind = next((media for ext, media in FILE_TYPES.items() if name.endswith(ext)), "application/octet-stream")
    safe = "".join(c for c in name if c.isalnum() or c in "-_.") or "file"
    return Response(content, media_type=kind, headers={"content-disposition": f'attachment; filename="{safe}"'})
