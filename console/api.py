"""The REST API, `/api/v1`: what integrations read and send, with per-integration scoped tokens.

Thin routes over `bot.integrations`: each checks the bearer token and its scope, reads a page or
queues a message, and writes the read or the send to the audit log as `api:<integration>`, in the
same transaction. The schema FastAPI produces is served at `/api/v1/openapi.json`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Homeward
from bot.integrations import records, tokens
from bot.outbox import LANE_CASEWORKER, queue_reply
from bot.text import cyrillic_to_latin
from console import audit
from db.models import Beneficiary, Conversation
from handlers.turn import Reply

MAX_TEXT = 4096
bearer = HTTPBearer(auto_error=False, description="An integration token (`hw_…`), made by an admin.")


class Caller:
    """The integration behind one request."""

    def __init__(self, name: str, scopes: list[str]) -> None:
        self.name = name
        self.scopes = scopes

    @property
    def actor(self) -> str:
        return f"api:{self.name}"


class PageOut(BaseModel):
    data: list[dict[str, Any]]
    next: str | None = Field(description="pass as `after` to read the next page; null on the last page")


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="plain text, sent as it is written")


class MessageQueued(BaseModel):
    person: int
    conversation: int
    status: str


def _homeward(request: Request) -> Homeward:
    return request.app.state.homeward  # type: ignore[no-any-return]


def scoped(scope: str) -> Callable[..., Awaitable[Caller]]:
    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Caller:
        homeward = _homeward(request)
        async with homeward.db.transaction() as session:
            row = await tokens.verify(session, credentials.credentials if credentials else None, homeward.clock.now())
            caller = Caller(row.name, list(row.scopes)) if row is not None else None
        if caller is None:
            raise HTTPException(401, "a valid integration token is needed", headers={"WWW-Authenticate": "Bearer"})
        if scope not in caller.scopes:
            raise HTTPException(403, f"this token lacks the scope {scope}")
        return caller

    return dependency


Since = Annotated[datetime | None, Query(description="only records from this time on (ISO 8601 with offset)")]
After = Annotated[str | None, Query(description="the `next` cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=records.MAX_LIMIT)]


def _aware(since: datetime | None) -> datetime | None:
    if since is None:
        return None
    if since.tzinfo is None:
        raise HTTPException(400, "since needs a time zone offset, e.g. 2026-01-31T00:00:00Z")
    return since.astimezone(UTC)


async def _read(
    request: Request,
    caller: Caller,
    resource: str,
    read: Callable[[AsyncSession], Awaitable[records.Page]],
    detail: dict[str, Any] | None = None,
) -> PageOut:
    homeward = _homeward(request)
    async with homeward.db.transaction() as session:
        try:
            page = await read(session)
        except records.BadCursor as exc:
            raise HTTPException(400, str(exc)) from exc
        audit.record(
            session,
            actor=caller.actor,
            action="api.read",
            now=homeward.clock.now(),
            target=resource,
            detail={"records": len(page.data), **(detail or {})},
        )
    return PageOut(data=page.data, next=page.next)


# The lists read alike: one scope each, `since`, `after` and `limit`, audited under the list's name.
LISTINGS: tuple[tuple[str, str, str, Callable[..., Awaitable[records.Page]]], ...] = (
    ("people", "people:read", "People, oldest first", records.people),
    ("conversations", "conversations:read", "Conversations, by last change", records.conversations),
    ("submissions", "submissions:read", "Questionnaire submissions, by last change", records.submissions),
    ("signups", "signups:read", "Youth programme sign-ups, by last change", records.signups),
)


def _listing(
    api: FastAPI, resource: str, scope: str, summary: str, read: Callable[..., Awaitable[records.Page]]
) -> None:
    # The dependency is a default, not an annotation: annotations are strings read from the module.
    async def listing(
        request: Request,
        since: Since = None,
        after: After = None,
        limit: Limit = 100,
        caller: Caller = Depends(scoped(scope)),  # noqa: B008
    ) -> PageOut:
        return await _read(request, caller, resource, lambda s: read(s, since=_aware(since), after=after, limit=limit))

    api.get(f"/{resource}", response_model=PageOut, summary=summary, name=resource)(listing)


def create_api(homeward: Homeward) -> FastAPI:
    api = FastAPI(
        title="Homeward API",
        version="1",
        description=(
            "Read people, conversations, transcripts, questionnaire submissions and youth sign-ups, and send a "
            "message to a person through the bot. Every call needs an integration token with the right scope; "
            "every read and send is written to the audit log."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.homeward = homeward

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Field names and what was wrong, never the values sent.
        problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        return JSONResponse({"detail": problems}, status_code=400)

    for path, scope, summary, read in LISTINGS:
        _listing(api, path, scope, summary, read)

    @api.get("/messages", response_model=PageOut, summary="Transcript lines, oldest first")
    async def messages(
        request: Request,
        caller: Annotated[Caller, Depends(scoped("messages:read"))],
        conversation: Annotated[int | None, Query(description="one conversation only")] = None,
        since: Since = None,
        after: After = None,
        limit: Limit = 100,
    ) -> PageOut:
        return await _read(
            request,
            caller,
            f"conversation:{conversation}" if conversation is not None else "messages",
            lambda s: records.messages(s, conversation=conversation, since=_aware(since), after=after, limit=limit),
        )

    @api.post(
        "/people/{person_id}/messages",
        response_model=MessageQueued,
        status_code=202,
        summary="Send a message to a person through the bot",
        responses={404: {"description": "no such person"}, 409: {"description": "the person cannot be messaged"}},
    )
    async def send(
        request: Request,
        person_id: int,
        body: MessageIn,
        caller: Annotated[Caller, Depends(scoped("messages:send"))],
    ) -> MessageQueued:
        text = body.text.strip()
        if not text:
            raise HTTPException(400, "the text is empty")
        now = homeward.clock.now()
        async with homeward.db.transaction() as session:
            person = await session.get(Beneficiary, person_id, with_for_update=True)
            conversation = (
                await session.execute(
                    select(Conversation).where(Conversation.beneficiary_id == person_id).with_for_update()
                )
            ).scalar_one_or_none()
            if person is None or conversation is None:
                raise HTTPException(404, "no such person")
            reason = _unreachable(person)
            if reason:
                raise HTTPException(409, f"the person cannot be messaged: {reason}")
            await queue_reply(
                session,
                person=person,
                conversation=conversation,
                chat_id=person.chat_id or "",
                reply=Reply(cyrillic_to_latin(text) if person.locale == "sr-Latn" else text),
                now=now,
                author=caller.actor,
                lane=LANE_CASEWORKER,
            )
            _touched(conversation, now)
            audit.record(
                session,
                actor=caller.actor,
                action="api.send",
                now=now,
                target=f"conversation:{conversation.id}",
                detail={"characters": len(text)},
            )
            queued = MessageQueued(person=person.id, conversation=conversation.id, status="queued")
        homeward.delivery.wake()
        return queued

    return api


def _unreachable(person: Beneficiary) -> str | None:
    if person.consent == "erased":
        return "erased"
    if person.consent != "given" or not person.chat_id:
        return "no consent"
    if person.opted_out:
        return "opted out"
    if person.blocked:
        return "blocked the bot"
    return None


def _touched(conversation: Conversation, now: datetime) -> None:
    conversation.updated_at = now
    conversation.last_message_at = now
