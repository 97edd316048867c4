"""Outgoing webhooks: new hand-offs, questionnaire submissions and youth sign-ups, told to integrations.

```mermaid
stateDiagram-v2
    [*] --> pending: an event is found after the subscription's cursor
    pending --> sent: the receiver answers 2xx
    pending --> pending: any other answer or no answer; next try after a longer pause
    pending --> failed: still not taken after the last try
```

Events are found by looking, not by hooks in the conversation code: each pass asks the tables for
hand-offs (`conversations.handoff_at`), completed submissions and sign-ups newer than each
subscription's cursor, and queues one delivery per event and subscription (unique, so a pass that
runs twice queues nothing twice). A payload carries ids and kinds, never a person's words or
answers: the receiver reads those through the API with a token that has the scope.

Each request is signed like Stripe's: `X-Homeward-Signature-256: sha256=HMAC(secret, "<timestamp>.<body>")`
with the timestamp in `X-Homeward-Timestamp`, so a receiver can refuse a replayed request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.integrations.tokens import NAME, TokenError
from db.integrations import WebhookDelivery, WebhookSubscription
from db.models import Beneficiary, Conversation, Submission
from db.session import Database
from db.youth import Enrolment, Programme

log = logging.getLogger(__name__)
EVENTS = ("handoff", "submission", "signup")
# Pauses before the 2nd … 8th try; after the 8th failure a delivery is given up (about 10 hours in all).
BACKOFF = (
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=8),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
LEASE = timedelta(minutes=1)  # a claimed delivery is tried again after this if its process died
BATCH = 50
TIMEOUT = aiohttp.ClientTimeout(total=10)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def subscribe(
    session: AsyncSession, *, name: str, url: str, events: Iterable[str], by: str, now: datetime
) -> tuple[WebhookSubscription, str]:
    """A new subscription; its signing secret is returned once (and kept encrypted to sign with)."""
    if not NAME.match(name):
        raise TokenError("a name is 1–64 lower-case letters, digits, '.', '_' or '-'")
    if not url.startswith(("https://", "http://")) or len(url) > 512:
        raise TokenError("the address must be an http(s) URL of at most 512 characters")
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown or not chosen:
        raise TokenError(f"events are one or more of {', '.join(EVENTS)}")
    if (await session.execute(select(WebhookSubscription.id).where(WebhookSubscription.name == name))).first():
        raise TokenError(f"a webhook named {name} exists already")
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = WebhookSubscription(
        name=name,
        url=url,
        secret=secret,
        events=chosen,
        cursors={event: now.isoformat() for event in chosen},
        active=True,
        created_by=by,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row, secret


async def unsubscribe(session: AsyncSession, name: str) -> WebhookSubscription:
    row = (
        await session.execute(select(WebhookSubscription).where(WebhookSubscription.name == name))
    ).scalar_one_or_none()
    if row is None:
        raise TokenError(f"no webhook named {name}")
    row.active = False
    return row


async def subscriptions(session: AsyncSession) -> list[WebhookSubscription]:
    return list((await session.execute(select(WebhookSubscription).order_by(WebhookSubscription.name))).scalars())


async def deliveries(session: AsyncSession, *, limit: int = 100) -> list[tuple[WebhookDelivery, str]]:
    rows = await session.execute(
        select(WebhookDelivery, WebhookSubscription.name)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return [(d, n) for d, n in rows]


async def _events(
    session: AsyncSession, event: str, since: datetime
) -> list[tuple[str, datetime, int, dict[str, Any]]]:
    """(key, when, person, payload) of each event of one kind at or after `since`, oldest first."""
    found: list[tuple[str, datetime, int, dict[str, Any]]] = []
    if event == "handoff":
        rows = await session.execute(
            select(Conversation, Beneficiary)
            .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
            .where(Conversation.handoff_at >= since)
            .order_by(Conversation.handoff_at, Conversation.id)
            .limit(BATCH)
        )
        for conversation, person in rows:
            at = conversation.handoff_at
            assert at is not None
            found.append(
                (
                    f"handoff:{conversation.id}:{at.isoformat()}",
                    at,
                    person.id,
                    {
                        "conversation": conversation.id,
                        "person": person.id,
                        "channel": person.channel,
                        "municipality": person.municipality,
                        "urgent": conversation.urgent,
                        "requested_at": at.isoformat(),
                    },
                )
            )
    elif event == "submission":
        completed_rows = await session.execute(
            select(
                Submission.id, Submission.beneficiary_id, Submission.form_id, Submission.wave, Submission.completed_at
            )
            .where(Submission.status == "completed", Submission.completed_at >= since)
            .order_by(Submission.completed_at, Submission.id)
            .limit(BATCH)
        )
        for sid, person_id, form, wave, completed in completed_rows:
            assert completed is not None  # the query asks for completed submissions
            found.append(
                (
                    f"submission:{sid}",
                    completed,
                    person_id,
                    {
                        "submission": sid,
                        "person": person_id,
                        "form": form,
                        "wave": wave,
                        "completed_at": _iso(completed),
                    },
                )
            )
    elif event == "signup":
        signup_rows = await session.execute(
            select(
                Enrolment.id,
                Enrolment.beneficiary_id,
                Programme.code,
                Enrolment.cohort_id,
                Enrolment.status,
                Enrolment.created_at,
            )
            .join(Programme, Programme.id == Enrolment.programme_id)
            .where(Enrolment.created_at >= since)
            .order_by(Enrolment.created_at, Enrolment.id)
            .limit(BATCH)
        )
        for eid, person_id, programme, cohort, status, created in signup_rows:
            found.append(
                (
                    f"signup:{eid}",
                    created,
                    person_id,
                    {
                        "signup": eid,
                        "person": person_id,
                        "programme": programme,
                        "cohort": cohort,
                        "status": status,
                        "created_at": _iso(created),
                    },
                )
            )
    return found


async def discover(session: AsyncSession, now: datetime) -> int:
    """Queue a delivery for every event after each active subscription's cursors; how many were queued."""
    queued = 0
    active = select(WebhookSubscription).where(WebhookSubscription.active).order_by(WebhookSubscription.id)
    # Locked on PostgreSQL, so two processes never queue the same events at once.
    for sub in (await session.execute(active.with_for_update())).scalars():
        cursors = dict(sub.cursors or {})
        for event in sub.events:
            since = datetime.fromisoformat(cursors.get(event) or sub.created_at.isoformat())
            found = await _events(session, event, since)
            if not found:
                continue
            keys = [key for key, *_ in found]
            known = set(
                (
                    await session.execute(
                        select(WebhookDelivery.event_key).where(
                            WebhookDelivery.subscription_id == sub.id, WebhookDelivery.event_key.in_(keys)
                        )
                    )
                ).scalars()
            )
            for key, _at, person_id, payload in found:
                if key in known:
                    continue
                session.add(
                    WebhookDelivery(
                        subscription_id=sub.id,
                        beneficiary_id=person_id,
                        event=event,
                        event_key=key,
                        payload={"event": event, "id": key, **payload},
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                queued += 1
            # Events sharing the newest time are looked at again next pass and skipped by their keys.
            cursors[event] = found[-1][1].isoformat()
        sub.cursors = cursors
    return queued


def record_attempt(delivery: WebhookDelivery, now: datetime, status: int | None, error: str | None) -> None:
    """What one try did: sent on 2xx, otherwise another try later, or given up after the last."""
    delivery.attempts += 1
    delivery.last_status = status
    if status is not None and 200 <= status < 300:
        delivery.status = "sent"
        delivery.delivered_at = now
        delivery.last_error = None
        return
    delivery.last_error = (error or f"HTTP {status}")[:500]
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
    else:
        delivery.next_attempt_at = now + BACKOFF[delivery.attempts - 1]


async def erase(session: AsyncSession, person: Beneficiary) -> None:
    """An erased person's events are neither kept nor sent."""
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.beneficiary_id == person.id))


class Dispatcher:
    """Finds events and sends due deliveries, every few seconds, in the process that runs delivery."""

    def __init__(self, db: Database, clock: Clock, every: float = 5.0) -> None:
        self.db = db
        self.clock = clock
        self.every = every

    async def run_once(self, http: aiohttp.ClientSession) -> int:
        """One pass: queue new events, then try every delivery that is due; returns how many were tried.

        Due deliveries are claimed first (their next try moved a lease ahead, rows locked with SKIP
        LOCKED on PostgreSQL) in a short transaction, so no transaction stays open while a receiver
        answers, and two processes do not send the same delivery at once.
        """
        now = self.clock.now()
        async with self.db.transaction() as session:
            if not (await session.execute(select(WebhookSubscription.id).where(WebhookSubscription.active))).first():
                return 0
            await discover(session, now)
        async with self.db.transaction() as session:
            due = list(
                (
                    await session.execute(
                        select(WebhookDelivery)
                        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                        .where(
                            WebhookDelivery.status == "pending",
                            WebhookDelivery.next_attempt_at <= now,
                            WebhookSubscription.active,
                        )
                        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                        .limit(BATCH)
                        .with_for_update(skip_locked=True, of=WebhookDelivery)
                    )
                ).scalars()
            )
            for delivery in due:
                delivery.next_attempt_at = now + LEASE
            claimed = [(d.id, d.subscription_id) for d in due]
        for delivery_id, subscription_id in claimed:
            async with self.db.sessions() as session:
                claimed_row = await session.get(WebhookDelivery, delivery_id)
                sub = await session.get(WebhookSubscription, subscription_id)
                if claimed_row is None or sub is None:
                    continue  # erased meanwhile
                request = (sub.url, sub.secret, claimed_row.event, claimed_row.payload)
            status, error = await self._post(http, delivery_id, *request)
            async with self.db.transaction() as session:
                tried = await session.get(WebhookDelivery, delivery_id)
                if tried is not None:
                    record_attempt(tried, self.clock.now(), status, error)
        return len(claimed)

    async def _post(
        self, http: aiohttp.ClientSession, delivery_id: int, url: str, secret: str, event: str, payload: dict[str, Any]
    ) -> tuple[int | None, str | None]:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Homeward-Webhooks",
            "X-Homeward-Event": event,
            "X-Homeward-Delivery": str(delivery_id),
            "X-Homeward-Timestamp": str(timestamp),
            "X-Homeward-Signature-256": sign(secret, timestamp, body),
        }
        try:
            async with http.post(url, data=body, headers=headers, allow_redirects=False) as response:
                return response.status, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, type(exc).__name__

    async def run(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            while not stop.is_set():
                try:
                    await self.run_once(http)
                except Exception:
                    log.exception("webhook pass failed; trying again next time")
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.every)
                except TimeoutError:
                    pass
