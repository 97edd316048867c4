"""One conversation: transcript, live updates, media, notes; take over, reply, return to the bot, close;
its status (open, pending, snoozed until a time)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from bot import ownership
from bot.media import summaries
from console import canned, cohorts, conversations, exports, files, followups, live, notifications, profile, ui
from console.access import Permission, Staff
from console.web import (
    CaseActor,
    ConversationExporter,
    NotFound,
    TranscriptReader,
    back,
    console_of,
    page,
    translator,
)
from db.models import Beneficiary, Conversation

router = APIRouter(prefix="/conversations/{conversation_id}")
Act = Callable[[AsyncSession], Awaitable[None]]


@router.get("")
async def show(request: Request, staff: TranscriptReader, conversation_id: int, error: str = "") -> Response:
    console = console_of(request)
    async with console.homeward.db.transaction() as session:
        transcript = await conversations.open_transcript(session, staff, conversation_id, console.now())
        if transcript is not None and transcript.messages:
            await notifications.mark_read(
                session, staff.id, conversation_id, max(m.id for m in transcript.messages), console.now()
            )
        replies = await canned.all_replies(session)
        about = await profile.load(session, transcript.person.id) if transcript is not None else None
    if transcript is None or about is None:
        raise NotFound
    console.feed.ring(("alerts", staff.id))  # read now: the title's count drops on every open page
    locale = transcript.person.locale
    return page(
        request,
        staff,
        "conversation.html",
        c=transcript,
        media_limit=console.homeward.settings.media_max_bytes // 1_000_000,
        error=error,
        reasons=conversations.REASONS,
        canned=[(r.title, canned.text_for(r, locale)) for r in replies],
        can_reply=staff.may(Permission.ACT),
        mine=transcript.conversation.assignee_id == staff.id,
        about=about,
        in_language=cohorts.names(translator(request, staff).locale),
        dimensions=followups.DIMENSIONS,
        dimension_labels=followups.DIMENSION_LABELS,
        contact_statuses=followups.CONTACT_STATUS,
        skip_reasons=followups.SKIP_REASONS,
        enrolment_statuses=cohorts.ENROLMENT_STATUS,
        guardian_states=cohorts.GUARDIAN_STATES,
        latest_return=profile.latest_return(console.now()).isoformat(),
        snooze_value=_local(transcript.conversation.snoozed_until or console.now() + timedelta(days=1), request),
        snooze_min=_local(console.now(), request),
        earliest_return=profile.EARLIEST_RETURN.isoformat(),
        state_key=conversations.state_key(transcript.conversation),
        owner=conversations.owner_key(transcript.conversation),
    )


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(console_of(request).homeward.settings.timezone)


def _local(moment: datetime, request: Request) -> str:
    """A moment as a date-and-time field shows it: Kosovo time, to the minute."""
    return moment.astimezone(_zone(request)).strftime("%Y-%m-%dT%H:%M")


@router.get("/events")
async def events(
    request: Request,
    staff: TranscriptReader,
    conversation_id: int,
    after: int = 0,
    pending: str = "",
    state: str = "",
) -> Response:
    """Messages after `after`, delivery results of those listed in `pending` (comma-separated ids), and the
    head of the page (owner, status, assignee) again whenever it no longer matches `state`
    (`conversations.state_key`): another caseworker changed it, or a snooze ended."""
    console = console_of(request)
    t = translator(request, staff)
    cursor = [after]
    shown = [state[:32]]
    watched = {int(i) for i in pending.split(",")[:200] if i.isdigit()}

    async def tick() -> list[tuple[str, Any]]:
        async with console.homeward.db.transaction() as session:
            found = await conversations.messages_after(session, staff, conversation_id, cursor[0], console.now())
            if found is None:
                return [("gone", {})]
            conversation, messages = found
            updated = await conversations.statuses(session, conversation_id, sorted(watched))
            kept = await summaries(session, [m.id for m in messages if m.file_id])
            if messages:  # shown on an open page: read
                await notifications.mark_read(session, staff.id, conversation_id, messages[-1].id, console.now())
            key = conversations.state_key(conversation)
            head = None
            if key != shown[0]:
                shown[0] = key
                head = await _head(request, session, t, staff, conversation, key)
        if messages:
            console.feed.ring(("alerts", staff.id))
        out: list[tuple[str, Any]] = []
        if head is not None:
            out.append(("state", head))
        for mid, (status, _error) in updated.items():
            if status not in ("queued", "sending"):
                watched.discard(mid)
                label = t.gettext(ui.STATUS_LABELS.get(status, "received"))
                out.append(("status", {"id": mid, "status": status, "label": label}))
        if messages:
            cursor[0] = messages[-1].id
            watched.update(m.id for m in messages if m.status in ("queued", "sending"))
            html = ui.render(
                console.env,
                "_messages.html",
                t,
                messages=messages,
                conversation_id=conversation_id,
                media=kept,
                media_limit=console.homeward.settings.media_max_bytes // 1_000_000,
            )
            out.append(
                (
                    "messages",
                    {"html": html, "last": cursor[0], "mode": conversation.mode, "urgent": conversation.urgent},
                )
            )
        return out

    return StreamingResponse(
        live.follow(
            console.feed,
            (("conversation", conversation_id),),
            tick,
            # Delivery results change no message the feed sees: a page waiting for some looks every second.
            interval=lambda: 1.0 if watched else live.SLOW_LOOK,
            lifetime=console.stream_seconds,
        ),
        media_type="text/event-stream",
    )


async def _head(
    request: Request, session: AsyncSession, t: ui.Interface, staff: Staff, conversation: Conversation, key: str
) -> dict[str, Any]:
    """The head of a conversation's page as it stands, the values its status and assignment forms show, and its
    actions and reply box as they now are for this caseworker (another one may have taken it over or handed it
    back)."""
    console = console_of(request)
    names = await conversations.staff_names(session)
    html = ui.render(
        console.env,
        "_conversation_state.html",
        t,
        conv=conversation,
        staff_names=names,
        auto_assigned=await conversations.auto_assigned(session, conversation.id),
        state_key=key,
    )
    until = conversation.snoozed_until
    snooze_value = _local(until or console.now() + timedelta(days=1), request)
    mine = conversation.assignee_id == staff.id
    can_reply = staff.may(Permission.ACT)
    person = await session.get(Beneficiary, conversation.beneficiary_id)
    actions = reply = ""
    if person is not None and person.consent != "erased":
        own = {"conv": conversation, "csrf": staff.csrf, "mine": mine, "can_reply": can_reply}
        own["owner"] = conversations.owner_key(conversation)
        if can_reply:
            actions = ui.render(
                console.env,
                "_conversation_actions.html",
                t,
                snooze_value=snooze_value,
                snooze_min=_local(console.now(), request),
                **own,
            )
        replies = await canned.all_replies(session)
        reply = ui.render(
            console.env,
            "_conversation_reply.html",
            t,
            canned=[(r.title, canned.text_for(r, person.locale)) for r in replies],
            staff_names=names,
            **own,
        )
    return {
        "html": html,
        "state": key,
        "mode": conversation.mode,
        "status": conversation.status or ownership.OPEN,
        "until": _local(until, request) if until else "",
        "assignee": str(conversation.assignee_id or ""),
        "owner": conversations.owner_key(conversation),
        "actions": actions,
        "reply": reply,
    }


@router.get("/messages/{message_id}/file")
async def media(request: Request, staff: TranscriptReader, conversation_id: int, message_id: int) -> Response:
    """A file the person sent, from what Homeward keeps; every view audited (`console.files`)."""
    console = console_of(request)
    store = console.homeward.media
    async with console.homeward.db.transaction() as session:
        found = await conversations.media_message(session, staff, conversation_id, message_id, console.now())
        kept = await store.kept(session, message_id) if found is not None else None
    if found is None:  # raised once the refusal's audit row is committed
        raise NotFound
    message, channel = found
    if kept is None or kept.status == "failed":
        kept = await files.kept_or_fetched(store, message, channel)
    try:
        served = files.served(kept, message)
    except files.Unavailable as exc:
        raise NotFound from exc
    async with console.homeward.db.transaction() as session:
        files.record(session, staff, conversation_id, message, console.now())
    return Response(served.content, media_type=served.media_type, headers=served.headers)


@router.get("/export")
async def export_one(
    request: Request, staff: ConversationExporter, conversation_id: int, format: str = "csv"
) -> Response:
    console = console_of(request)
    async with console.homeward.db.transaction() as session:
        if await conversations.open_transcript(session, staff, conversation_id, console.now()) is None:
            raise NotFound
    if format not in exports.MEDIA_TYPES:
        raise NotFound
    made = await exports.transcripts(console.homeward.db, staff, format, console.now(), conversation_id=conversation_id)
    return StreamingResponse(
        made.chunks(),
        media_type=made.media_type,
        headers={"content-disposition": f'attachment; filename="{made.filename}"'},
    )


async def _act(request: Request, conversation_id: int, act: Act) -> Response:
    console = console_of(request)
    where = f"/conversations/{conversation_id}"
    try:
        async with console.homeward.db.transaction() as session:
            await act(session)
    except LookupError as exc:
        raise NotFound from exc
    except conversations.Refused as exc:
        return back(f"{where}?error={exc.reason}")
    console.homeward.delivery.wake()
    # Other caseworkers' pages learn of it now (a status, an assignment may add no message the feed sees).
    console.feed.ring(("conversation", conversation_id), "alerts", "inbox")
    return back(where)


@router.post("/take")
async def take(request: Request, staff: CaseActor, conversation_id: int, seen: str = Form("")) -> Response:
    console = console_of(request)
    translations, now = console.homeward.translations, console.now()
    return await _act(
        request,
        conversation_id,
        lambda s: conversations.take_over(s, staff, translations, conversation_id, now, seen),
    )


@router.post("/reply")
async def reply(request: Request, staff: CaseActor, conversation_id: int, text: str = Form("")) -> Response:
    now = console_of(request).now()
    return await _act(request, conversation_id, lambda s: conversations.reply(s, staff, conversation_id, text, now))


@router.post("/return")
async def return_to_bot(request: Request, staff: CaseActor, conversation_id: int, seen: str = Form("")) -> Response:
    console = console_of(request)
    translations, now = console.homeward.translations, console.now()
    return await _act(
        request,
        conversation_id,
        lambda s: conversations.return_to_bot(s, staff, translations, conversation_id, now, seen),
    )


@router.post("/close")
async def close(request: Request, staff: CaseActor, conversation_id: int, seen: str = Form("")) -> Response:
    console = console_of(request)
    translations, now = console.homeward.translations, console.now()
    return await _act(
        request, conversation_id, lambda s: conversations.close(s, staff, translations, conversation_id, now, seen)
    )


@router.post("/assign")
async def assign(request: Request, staff: CaseActor, conversation_id: int, assignee: str = Form("")) -> Response:
    now = console_of(request).now()
    chosen = int(assignee) if assignee.isdigit() else None
    return await _act(request, conversation_id, lambda s: conversations.assign(s, staff, conversation_id, chosen, now))


@router.post("/labels")
async def labels(request: Request, staff: CaseActor, conversation_id: int, labels: str = Form("")) -> Response:
    now = console_of(request).now()
    return await _act(
        request, conversation_id, lambda s: conversations.set_labels(s, staff, conversation_id, labels, now)
    )


@router.post("/urgent")
async def urgent(request: Request, staff: CaseActor, conversation_id: int, urgent: str = Form("")) -> Response:
    now = console_of(request).now()
    flag = urgent == "1"
    return await _act(
        request, conversation_id, lambda s: conversations.set_urgent(s, staff, conversation_id, flag, now)
    )


@router.post("/status")
async def status(
    request: Request, staff: CaseActor, conversation_id: int, status: str = Form(""), until: str = Form("")
) -> Response:
    now = console_of(request).now()
    zone = _zone(request)

    async def act(session: AsyncSession) -> None:
        when = conversations.snooze_time(until, zone, now) if status == ownership.SNOOZED else None
        await conversations.set_status(session, staff, conversation_id, status, when, now)

    return await _act(request, conversation_id, act)


@router.post("/return-date")
async def return_date(
    request: Request, staff: CaseActor, conversation_id: int, return_date: str = Form("")
) -> Response:
    now = console_of(request).now()
    return await _act(
        request,
        conversation_id,
        lambda s: profile.set_return_date(s, staff, conversation_id, return_date, now),
    )


@router.post("/followups/{contact_id}/send")
async def send_wave(request: Request, staff: CaseActor, conversation_id: int, contact_id: int) -> Response:
    console = console_of(request)
    now = console.now()
    answer = await _act(
        request, conversation_id, lambda s: profile.send_wave_now(s, staff, conversation_id, contact_id, now)
    )
    # The invitation goes out now, through the same pass as every wave (in Kosovo's daytime window).
    await console.homeward.followups.run_once()
    return answer


@router.post("/notes")
async def note(request: Request, staff: CaseActor, conversation_id: int, text: str = Form("")) -> Response:
    now = console_of(request).now()
    return await _act(request, conversation_id, lambda s: conversations.add_note(s, staff, conversation_id, text, now))
