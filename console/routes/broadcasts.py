"""Broadcasts for coordinators and admins: compose in Albanian and Serbian, pick a segment, preview, send, follow.

The preview shows how many people the segment reaches (by language, and who is skipped and why)
and the message in Albanian and both Serbian scripts; it carries a one-time token, so a second
press of "send" opens the broadcast already sent instead of sending it twice. A coordinator limited
to municipalities reaches only the people of those municipalities and sees only broadcasts sent
within them. The service is `bot.broadcasts`; previews and sends are audited.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import broadcasts
from bot.broadcasts import Segment
from bot.i18n import N_
from bot.youth import coordination
from bot.youth.coordination import Refused
from console import audit, cohorts, ui
from console.access import Staff
from console.routes.youth import SKIP_REASONS as NOTICE_SKIPS
from console.web import Broadcaster, Forbidden, NotFound, back, console_of, page, translator
from db.broadcasts import Broadcast
from db.youth import Cohort

router = APIRouter(prefix="/broadcasts")

SKIP_REASONS = {
    **NOTICE_SKIPS,
    "unsubscribed": N_("unsubscribed on Viber"),
    "outside_window": N_("outside WhatsApp's 24 hours, with no approved template"),
    "erased": N_("their data was erased"),
}
LANGUAGE_LABELS = {
    "sq": N_("Albanian"),
    "sr-Cyrl": N_("Serbian (Cyrillic)"),
    "sr-Latn": N_("Serbian (Latin)"),
    "sr": N_("Serbian (both scripts)"),
}
FOLLOWUP_LABELS = {
    "due": N_("due, not answered yet"),
    "overdue": N_("not answered in time"),
    "completed": N_("answered"),
    "none": N_("no follow-up contact"),
}
FIELDS = ("text_sq", "text_sr", "language", "municipality", "cohort", "wave", "followup", "channel")
RECENT = 50


def _scope(staff: Staff) -> tuple[str, ...] | None:
    return staff.municipalities if staff.limited else None


def _within(staff: Staff, broadcast: Broadcast) -> bool:
    """A limited coordinator sees broadcasts sent within their municipalities only."""
    return not staff.limited or (broadcast.scope is not None and all(staff.sees_place(m) for m in broadcast.scope))


async def _cohorts(session: AsyncSession, staff: Staff) -> list[Cohort]:
    found = (await session.execute(select(Cohort).order_by(Cohort.starts_on, Cohort.id))).scalars()
    return [c for c in found if c.municipality is None or staff.sees_place(c.municipality)]


async def _checked(request: Request, session: AsyncSession, staff: Staff, form: dict[str, str]) -> Segment:
    """The segment of the form, refused when it reaches outside the staff member's municipalities."""
    segment = Segment.parse(form)
    registry = console_of(request).homeward.services.extras.get("municipalities")
    if segment.municipality:
        if registry is None or registry.get(segment.municipality) is None:
            raise Refused("segment")
        if not staff.sees_place(segment.municipality):
            raise Refused("out_of_reach")
    if segment.cohort is not None:
        await coordination.cohort_within_reach(
            session, segment.cohort, lambda place: place is None or staff.sees_place(place)
        )
    return segment


def _describe(t: ui.Interface, request: Request, segment: dict[str, Any], cohort_names: dict[int, str]) -> list[str]:
    """The segment in words, one line per choice; everyone when nothing was chosen."""
    place = ui.places(console_of(request).homeward.services.extras.get("municipalities"), t)
    lines = []
    if segment.get("language"):
        lines.append(t.gettext("Language: {language}", language=t.gettext(LANGUAGE_LABELS[segment["language"]])))
    if segment.get("municipality"):
        lines.append(t.gettext("Municipality: {municipality}", municipality=place(segment["municipality"])))
    if segment.get("cohort") is not None:
        name = cohort_names.get(segment["cohort"], str(segment["cohort"]))
        lines.append(t.gettext("Youth group: {group}", group=name))
    if segment.get("followup"):
        state = t.gettext(FOLLOWUP_LABELS[segment["followup"]])
        if segment.get("wave"):
            lines.append(t.gettext("Follow-up wave {wave}: {state}", wave=segment["wave"], state=state))
        else:
            lines.append(t.gettext("Follow-up, any wave: {state}", state=state))
    if segment.get("channel"):
        app = ui.APP_NAMES[segment["channel"]]
        lines.append(t.gettext("App: {app}", app=t.gettext(app)))
    return lines or [t.gettext("Everyone you may reach")]


async def _page(request: Request, staff: Staff, *, status: int = 200, **context: Any) -> Response:
    console = console_of(request)
    t = translator(request, staff)
    named = cohorts.names(t.locale)
    async with console.homeward.db.sessions() as session:
        groups = await _cohorts(session, staff)
        recent = (await session.execute(select(Broadcast).order_by(Broadcast.id.desc()).limit(RECENT))).scalars()
        sent = [b for b in recent if _within(staff, b)]
    cohort_names = {c.id: named(c.name_sq, c.name_sr) for c in groups}
    registry = console.homeward.services.extras.get("municipalities")
    return page(
        request,
        staff,
        "broadcasts.html",
        status=status,
        cohorts=groups,
        cohort_names=cohort_names,
        places=ui.municipality_choices(registry, staff.municipalities if staff.limited else ()),
        languages=LANGUAGE_LABELS,
        followup_states=FOLLOWUP_LABELS,
        waves=broadcasts.WAVES,
        channels=broadcasts.CHANNELS,
        skip_reasons=SKIP_REASONS,
        sent=sent,
        describe=lambda segment: _describe(t, request, segment, cohort_names),
        max_text=broadcasts.MAX_TEXT,
        **{"error": None, "preview": None, "form": {}, **context},
    )


async def _form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: str(data.get(k, ""))[: broadcasts.MAX_TEXT + 1] for k in FIELDS}


def _refused(request: Request, staff: Staff, refused: Refused) -> tuple[int, str]:
    t = translator(request, staff)
    status = 403 if refused.reason == "out_of_reach" else 400
    return status, t.gettext(coordination.REASONS[refused.reason], **refused.values)


@router.get("")
async def show(request: Request, staff: Broadcaster) -> Response:
    return await _page(request, staff)


@router.post("/preview")
async def preview(request: Request, staff: Broadcaster) -> Response:
    """How many people the segment reaches, and the message as each of them reads it; nothing is sent."""
    console = console_of(request)
    form = await _form(request)
    now = console.now()
    try:
        async with console.homeward.db.transaction() as session:
            segment = await _checked(request, session, staff, form)
            texts = broadcasts.preview(form["text_sq"], form["text_sr"], segment.language)
            texts_sent = broadcasts.check_texts(form["text_sq"], form["text_sr"])
            found = await broadcasts.reach(
                session, segment, _scope(staff), console.homeward.settings.whatsapp_templates, now
            )
            audit.record(
                session,
                actor=staff.actor,
                action="broadcast.preview",
                now=now,
                detail={"segment": segment.as_dict(), "reached": found.reached, "skipped": dict(found.skipped)},
            )
    except Refused as refused:
        status, error = _refused(request, staff, refused)
        return await _page(request, staff, status=status, error=error, form=form)
    token = secrets.token_hex(16)
    shown = {
        "texts": texts,
        "reached": found.reached,
        "by_locale": found.by_locale,
        "skipped": found.skipped,
        "segment": segment.as_dict(),
        "token": token,
        "seal": broadcasts.seal(console.secret, token, staff.actor, *texts_sent, segment),
    }
    return await _page(request, staff, preview=shown, form=form)


@router.post("")
async def send(request: Request, staff: Broadcaster) -> Response:
    """Send a previewed broadcast: recorded now, queued in the background for everyone the segment reaches,
    each in their language and script; the page of its counts follows."""
    console = console_of(request)
    form = await _form(request)
    posted = await request.form()
    token = str(posted.get("token", ""))[:32]
    given_seal = str(posted.get("seal", ""))[:64]
    now = console.now()
    if len(token) < 16:
        return await _page(request, staff, status=400, form=form)  # sent only from a preview
    async with console.homeward.db.sessions() as session:
        earlier = (await session.execute(select(Broadcast.id).where(Broadcast.token == token))).scalar()
    if earlier is not None:
        return back(f"/broadcasts/{earlier}")
    try:
        async with console.homeward.db.transaction() as session:
            segment = await _checked(request, session, staff, form)
            text_sq, text_sr = broadcasts.check_texts(form["text_sq"], form["text_sr"])
            if not broadcasts.sealed(console.secret, given_seal, token, staff.actor, text_sq, text_sr, segment):
                raise Refused("not_previewed")
            broadcast = await broadcasts.start(
                session,
                author=staff.name,
                token=token,
                segment=segment,
                scope=_scope(staff),
                text_sq=text_sq,
                text_sr=text_sr,
                now=now,
            )
            audit.record(
                session,
                actor=staff.actor,
                action="broadcast.send",
                now=now,
                target=f"broadcast:{broadcast.id}",
                detail={"segment": segment.as_dict(), "recipients": broadcast.recipients},
            )
    except Refused as refused:
        status, error = _refused(request, staff, refused)
        return await _page(request, staff, status=status, error=error, form=form)
    except IntegrityError:  # the same preview sent twice at once: the other one went
        async with console.homeward.db.sessions() as session:
            earlier = (await session.execute(select(Broadcast.id).where(Broadcast.token == token))).scalar()
        if earlier is None:
            raise
        return back(f"/broadcasts/{earlier}")
    console.homeward.broadcasts.queue(broadcast.id)
    return back(f"/broadcasts/{broadcast.id}")


async def _visible(request: Request, staff: Staff, broadcast_id: int) -> tuple[Broadcast, broadcasts.Counts, Any]:
    console = console_of(request)
    async with console.homeward.db.sessions() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise NotFound
        if not _within(staff, broadcast):
            raise Forbidden
        counts = await broadcasts.counts(session, broadcast.id)
        progress = await broadcasts.progress(session, broadcast)
    return broadcast, counts, progress


@router.get("/{broadcast_id}/counts")
async def counts(request: Request, staff: Broadcaster, broadcast_id: int) -> Response:
    """The counts alone, for the broadcast's page to follow while it is queued and sent (a small JSON)."""
    t = translator(request, staff)
    _, found, progress = await _visible(request, staff, broadcast_id)
    return JSONResponse(
        {
            "queued": found.queued,
            "sent": found.sent,
            "failed": found.failed,
            "skipped": sum(found.skipped.values()),
            "reasons": {
                reason: [t.gettext(SKIP_REASONS.get(reason, reason)), n] for reason, n in found.skipped.items()
            },
            "state": progress.state,
            "handled": progress.handled,
            "recipients": progress.recipients,
            "left": broadcasts.tally(progress, found).left,
            "progress": _progress_text(t, progress, found),
            "done": progress.state != broadcasts.QUEUING and found.queued == 0,
        },
        headers={"cache-control": "no-store"},
    )


def _progress_text(t: ui.Interface, progress: broadcasts.Progress, found: broadcasts.Counts) -> str:
    """Where the broadcast stands, in one line: while preparing, or stopped, that first; then everyone in the
    segment once, as sent, not delivered, skipped (why) and still to send, which add up to the segment."""
    lines = []
    if progress.state == broadcasts.QUEUING:
        lines.append(t.gettext("Preparing the messages."))
    elif progress.state == broadcasts.FAILED:
        lines.append(
            t.ngettext(
                "Preparing the messages stopped at {handled} of {n} person: the same error came back each time. "
                "The messages already prepared are sent; the others are not.",
                "Preparing the messages stopped at {handled} of {n} people: the same error came back each time. "
                "The messages already prepared are sent; the others are not.",
                progress.recipients,
                handled=progress.handled,
            )
        )
    tally = broadcasts.tally(progress, found)
    parts = [
        t.gettext("{n} sent", n=tally.sent),
        t.gettext("{n} not delivered", n=tally.failed),
    ]
    if tally.skipped:
        reasons = "; ".join(
            f"{t.gettext(SKIP_REASONS.get(reason, reason))}: {n}" for reason, n in sorted(found.skipped.items())
        )
        parts.append(t.gettext("{n} skipped ({reasons})", n=tally.skipped, reasons=reasons))
    else:
        parts.append(t.gettext("{n} skipped", n=0))
    parts.append(t.gettext("{n} still to send", n=tally.left))
    if tally.unprepared:
        parts.append(t.gettext("{n} not prepared", n=tally.unprepared))
    head = t.ngettext("Of {n} person in the segment:", "Of {n} people in the segment:", tally.size)
    lines.append(f"{head} {', '.join(parts)}.")
    return " ".join(lines)


@router.get("/{broadcast_id}")
async def one(request: Request, staff: Broadcaster, broadcast_id: int) -> Response:
    """A broadcast's counts as delivery proceeds: queued, sent, failed, and skipped with the reasons."""
    console = console_of(request)
    t = translator(request, staff)
    broadcast, counts, progress = await _visible(request, staff, broadcast_id)
    cohort = broadcast.segment.get("cohort")
    async with console.homeward.db.sessions() as session:
        group = await session.get(Cohort, cohort) if cohort is not None else None
    named = cohorts.names(t.locale)
    cohort_names = {group.id: named(group.name_sq, group.name_sr)} if group is not None else {}
    return page(
        request,
        staff,
        "broadcast.html",
        broadcast=broadcast,
        counts=counts,
        progress=progress,
        progress_text=_progress_text(t, progress, counts),
        left=broadcasts.tally(progress, counts).left,
        done=progress.state != broadcasts.QUEUING and counts.queued == 0,
        texts={
            locale: broadcasts.text_in(locale, broadcast.text_sq, broadcast.text_sr)
            for locale in broadcasts.locales_of(broadcast.segment.get("language", ""))
        },
        segment_lines=_describe(t, request, broadcast.segment, cohort_names),
        skip_reasons=SKIP_REASONS,
    )
