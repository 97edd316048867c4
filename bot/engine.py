"""The engine: turns of conversations, each committed whole or not at all.

A turn starts from an inbox row (a raw update already stored) and, in the same commit, appends
the inbound message to the transcript, runs the handler chosen by the router, queues the replies
in the transcript and the outbox, saves the conversation state and marks the inbox row done.
Turns waiting together share one commit (`process_batch`); a failing one is run again alone.
A turn that already ran (same inbox row, e.g. a redelivered update) changes nothing.

A turn that keeps failing is run again a few times, then quarantined: the update is kept with its
error (type and place, never values), the person is told once, and the chat's later turns go on.
An update read only in part (a shape newer than our Telegram library) runs like any other and
keeps the field paths that could not be read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from bot import linking, ownership, snoozes
from bot.channels import WRITING_SUBSCRIBES, Decoded, GroupChat, Identity, Incoming, MembershipChange, Partly
from bot.failures import describe
from bot.i18n import Translations
from bot.linking import pseudonym
from bot.media import KINDS as MEDIA_KINDS
from bot.outbox import queue_call, queue_reply
from bot.services import Services
from bot.tapped import tapped_label
from bot.text import fold
from db.models import Beneficiary, Conversation, GroupNotice, InboxUpdate, Message
from db.session import Appends, Database, append, database_away, lost_a_race, update_later
from handlers import safety
from handlers.routes import Router
from handlers.turn import Inbound, Turn

log = logging.getLogger(__name__)
LAST_CONTACT_RESOLUTION = timedelta(minutes=1)
DATABASE_RETRIES = 6  # about 13 s of a lost database connection before a turn counts as failed
QUARANTINE_AFTER = 3  # failed runs of one turn before its update is set aside and the chat goes on
QUARANTINED = "quarantine"  # the inbox status of an update set aside
MEDIA_LINES = "media_lines"  # session.info: this transaction wrote a transcript line naming a file


class Decoder(Protocol):
    def __call__(self, raw: str) -> Decoded: ...


INBOX = cast(Table, InboxUpdate.__table__)
# What a turn reads of its stored update, and how it marks it: as plain rows and one UPDATE per batch
# (`update_later`), not ORM objects for the unit of work to load, compare and write.
_READ_UPDATE = select(INBOX.c.id, INBOX.c.channel, INBOX.c.raw, INBOX.c.status, INBOX.c.attempts)
_MARK_UPDATE = update(INBOX).where(INBOX.c.id == bindparam("row_id"))
# A batch's three reads, built once with their lists bound at execution: built per batch, each of a
# hundred values was checked and wrapped in a parameter of its own, and the statement keyed for the cache again.
_READ_UPDATES = _READ_UPDATE.where(INBOX.c.id.in_(bindparam("ids", expanding=True)))
_READ_PEOPLE = (
    select(Beneficiary).where(Beneficiary.channel_ref.in_(bindparam("refs", expanding=True))).order_by(Beneficiary.id)
)
_READ_CONVERSATIONS = (
    select(Conversation)
    .where(Conversation.beneficiary_id.in_(bindparam("people", expanding=True)))
    .order_by(Conversation.id)
)
# On PostgreSQL each of them locks what it reads until the batch commits: an erasure or a caseworker
# taking over, committed by another transaction meanwhile, waits for the batch instead of being
# overwritten by what it read.
_LOCKED_READS = tuple(query.with_for_update() for query in (_READ_UPDATES, _READ_PEOPLE, _READ_CONVERSATIONS))


@dataclass
class StoredUpdate:
    """An inbox row as a turn reads it and marks it."""

    id: int
    channel: str
    raw: str | None
    status: str
    attempts: int


def _mark(session: AsyncSession, row: StoredUpdate, now: datetime, **more: object) -> None:
    """The update's turn ran: done, written with the batch's others before anything else is read or written."""
    row.status = "done"
    values = {"row_id": row.id, "status": "done", "processed_at": now, "attempts": row.attempts}
    update_later(session, _MARK_UPDATE, {**values, **more})


def clean(text: str | None) -> str | None:
    """Text as stored: NUL cannot live in PostgreSQL text, every other character is kept as sent."""
    return None if text is None else text.replace("\x00", "\ufffd")


class Engine:
    """Runs turns. Built once by the composition root; safe to call concurrently for different chats."""

    def __init__(
        self,
        db: Database,
        translations: Translations,
        services: Services,
        router: Router,
        decoders: dict[str, Decoder],
        on_queued: Callable[[], None] = lambda: None,
        on_media: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.translations = translations
        self.services = services
        self.router = router
        self.decoders = decoders
        self.on_queued = on_queued
        self.on_media = on_media  # after a commit that stored a line naming a file (`bot.media` fetches it)
        self.turn_seconds: deque[float] = deque(maxlen=1000)  # recent turn latencies, for /metrics

    def chat_key(self, channel: str, chat_id: str) -> str:
        return pseudonym(self.services.pseudonym_key, channel, chat_id)

    async def process(self, inbox_id: int) -> None:
        """Run the turn of one stored update; on failure, mark it and apologise to the person.

        With several intake processes on PostgreSQL, two updates of one chat may reach different
        processes: a per-chat advisory lock, and running any earlier pending update of the chat
        first, keep that chat's turns in order across processes.
        """
        attempt = 0
        failures: dict[int, int] = {}
        while True:
            started = time.perf_counter()
            target = inbox_id
            media = False
            try:
                async with self.db.transaction() as session:
                    if not self.db.is_sqlite:
                        target = await self._oldest_pending_of_chat(session, inbox_id)
                    await self._process(session, target)
                    media = session.info.pop(MEDIA_LINES, False)
                self.turn_seconds.append(time.perf_counter() - started)
                log.debug("turn done", extra={"inbox_id": target, "ms": round(self.turn_seconds[-1] * 1000, 2)})
            except Exception as exc:
                if (database_away(exc) or lost_a_race(exc)) and attempt < DATABASE_RETRIES:
                    # The whole turn rolled back (or committed, and then finds its row done): run it again.
                    reason = "a lock race lost" if lost_a_race(exc) else "the database connection lost"
                    log.warning("%s during a turn; retrying", reason, extra={"inbox_id": target})
                    await asyncio.sleep(0.2 * 2**attempt)
                    attempt += 1
                    continue
                failures[target] = failures.get(target, 0) + 1
                log.error("turn failed", extra={"inbox_id": target, "error": describe(exc)})
                settled = await self._record_failure(target, exc)
                if not settled and failures[target] < QUARANTINE_AFTER:
                    await asyncio.sleep(0.1 * failures[target])
                    attempt = 0
                    continue  # still pending: run it again
                if not settled:  # not even the failure could be recorded: the next start runs it again
                    return
            attempt = 0
            if media:
                self.on_media()
            self.on_queued()
            if target == inbox_id:
                return

    async def process_batch(self, inbox_ids: list[int]) -> None:
        """Run several stored updates' turns, in arrival order, in one transaction (group commit).

        Each turn's inbound line, state, replies and outbox rows still commit together: the batch
        commits whole or not at all. If any turn fails, the batch rolls back and every turn runs
        again on its own, so one failing turn is marked failed alone and the others are kept.

        On PostgreSQL, where several processes may hold updates of one chat, the batch first takes
        the advisory locks of all its chats (in one global order, so two batches never wait on each
        other in a circle), then also runs any earlier update of those chats still pending, wherever
        it was received: each chat's turns stay in arrival order across processes.
        """
        if len(inbox_ids) == 1:
            await self.process(inbox_ids[0])
            return
        started = time.perf_counter()
        order = inbox_ids
        try:
            async with self.db.transaction() as session:
                if self.db.is_sqlite:
                    await Appends.of(session, InboxUpdate)  # SQLite's write lock, before the batch reads anything
                else:
                    order = await self._lock_chats(session, inbox_ids)
                await self._preload(session, order)
                for inbox_id in order:
                    await self._process(session, inbox_id)
                    await asyncio.sleep(0)  # SQLite answers without yielding: let sends and requests in between
                media = session.info.pop(MEDIA_LINES, False)
        except Exception as exc:
            if not database_away(exc) and not lost_a_race(exc):
                log.warning("a batch of turns failed; running its turns one by one", extra={"error": describe(exc)})
            for inbox_id in order:
                await self.process(inbox_id)
            return
        elapsed = time.perf_counter() - started
        self.turn_seconds.extend([elapsed] * len(order))  # each turn waited for the batch's commit
        log.debug("turns done", extra={"turns": len(order), "ms": round(elapsed * 1000, 2)})
        if media:
            self.on_media()
        self.on_queued()

    async def _lock_chats(self, session: AsyncSession, inbox_ids: list[int]) -> list[int]:
        """PostgreSQL: lock the batch's chats; return every pending turn of theirs up to the batch's last, in order."""
        keys = list(
            (await session.execute(select(InboxUpdate.chat_key).where(InboxUpdate.id.in_(inbox_ids)).distinct()))
            .scalars()
            .all()
        )
        if not keys:
            return inbox_ids
        await session.execute(
            sql(
                "SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h "
                "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS chats"
            ),
            {"keys": keys},
        )
        pending = (
            await session.execute(
                select(InboxUpdate.id).where(
                    InboxUpdate.chat_key.in_(keys),
                    InboxUpdate.status == "pending",
                    InboxUpdate.id <= max(inbox_ids),
                )
            )
        ).scalars()
        return sorted({*pending, *inbox_ids})

    async def _preload(self, session: AsyncSession, inbox_ids: list[int]) -> None:
        """Load a batch's inbox rows, people and conversations in three queries instead of three per turn.

        The inbox rows are kept in `session.info` as plain rows; people and conversations land in the
        session's identity map, and are also indexed in `session.info`, where `_find` and
        `_conversation` look first.
        """
        updates, people_of, conversations_of = (
            (_READ_UPDATES, _READ_PEOPLE, _READ_CONVERSATIONS) if self.db.is_sqlite else _LOCKED_READS
        )
        found = await session.execute(updates, {"ids": inbox_ids})
        rows = [StoredUpdate(*row) for row in found.all()]
        session.info["inbox"] = {row.id: row for row in rows}
        decoded: dict[int, Decoded] = {}
        refs: dict[tuple[str, str], str] = {}  # each identity's pseudonym, for `_find`
        for row in rows:
            if row.status != "pending" or row.raw is None:
                continue
            decoded[row.id] = item = self.decoders[row.channel](row.raw)
            if isinstance(item, Partly):
                item = item.decoded
            if isinstance(item, Incoming):
                identity = item.identity
                refs[identity.channel, identity.user_id] = pseudonym(
                    self.services.pseudonym_key, identity.channel, identity.user_id
                )
        session.info["decoded"] = decoded
        session.info["refs"] = refs
        if not refs:
            return
        people = (await session.execute(people_of, {"refs": list(set(refs.values()))})).scalars().all()
        session.info["people"] = {person.channel_ref: person for person in people}
        if people:
            talks = await session.execute(conversations_of, {"people": [p.id for p in people]})
            session.info["conversations"] = {c.beneficiary_id: c for c in talks.scalars()}

    async def _oldest_pending_of_chat(self, session: AsyncSession, inbox_id: int) -> int:
        """Lock the update's chat, then take the chat's oldest pending update up to this one (locked, for the turn).

        Two statements: the lock is taken by the first, so the second reads what was committed
        while it waited (an earlier update of the chat, received by another process, runs first).
        """
        chat_key = (
            await session.execute(
                select(
                    InboxUpdate.chat_key, func.pg_advisory_xact_lock(func.hashtextextended(InboxUpdate.chat_key, 0))
                ).where(InboxUpdate.id == inbox_id)
            )
        ).scalar_one_or_none()
        if chat_key is None:
            return inbox_id
        found = (
            await session.execute(
                _READ_UPDATE.where(INBOX.c.chat_key == chat_key, INBOX.c.status == "pending", INBOX.c.id <= inbox_id)
                .order_by(INBOX.c.id)
                .limit(1)
                .with_for_update()
            )
        ).one_or_none()
        if found is None:
            return inbox_id  # done meanwhile: `_process` finds it so
        oldest = StoredUpdate(*found)
        session.info.setdefault("inbox", {})[oldest.id] = oldest  # read and locked: `_process` need not again
        return int(oldest.id)

    async def _process(self, session: AsyncSession, inbox_id: int) -> None:
        row = session.info.get("inbox", {}).get(inbox_id)
        if row is None:
            query = _READ_UPDATE.where(INBOX.c.id == inbox_id)
            found = (await session.execute(query if self.db.is_sqlite else query.with_for_update())).one_or_none()
            row = None if found is None else StoredUpdate(*found)
        if row is None or row.status in ("done", QUARANTINED):
            return
        if row.raw is None:  # its text was removed (the person declined or erased): nothing left to run
            _mark(session, row, self.services.clock.now())
            return
        now = self.services.clock.now()
        more: dict[str, object] = {}
        decoded = session.info.get("decoded", {}).get(row.id) or self.decoders[row.channel](row.raw)
        if isinstance(decoded, Partly):
            more["error"] = error = decoded.problem[:2000]  # read in part: which fields, never their values
            log.info("update read in part", extra={"inbox_id": row.id, "error": error[:500]})
            decoded = decoded.decoded
        person = None
        if isinstance(decoded, Incoming):
            person = await self._turn(session, decoded.identity, decoded.inbound, now)
        elif isinstance(decoded, GroupChat):
            await self._group(session, decoded, now)
        elif isinstance(decoded, MembershipChange):
            await self._membership(session, decoded)
        row.attempts += 1
        if person is None or person.consent in ("declined", "erased"):
            # Nothing a person who declined typed outlives the turn; other updates are done with.
            more["raw"] = row.raw = None
        _mark(session, row, now, **more)

    async def _find(self, session: AsyncSession, identity: Identity) -> Beneficiary | None:
        """The person by pseudonym; during a key rotation also under an earlier key, then re-keyed."""
        current = session.info.get("refs", {}).get((identity.channel, identity.user_id))
        if current is None:
            current = pseudonym(self.services.pseudonym_key, identity.channel, identity.user_id)
        known = session.info.get("people", {}).get(current)
        if known is not None and known in session:  # loaded with its batch, and not deleted since
            return known  # type: ignore[no-any-return]
        for key in (self.services.pseudonym_key, *self.services.previous_keys):
            ref = current if key == self.services.pseudonym_key else pseudonym(key, identity.channel, identity.user_id)
            found = (
                await session.execute(select(Beneficiary).where(Beneficiary.channel_ref == ref))
            ).scalar_one_or_none()
            if found is not None:
                found.channel_ref = current
                return found
        return await linking.find(session, current)

    async def _person(self, session: AsyncSession, identity: Identity, inbound: Inbound, now: datetime) -> Beneficiary:
        person = await self._find(session, identity)
        if person is None:
            person = Beneficiary(
                channel=identity.channel,
                channel_ref=pseudonym(self.services.pseudonym_key, identity.channel, identity.user_id),
                consent="pending",
                opted_out=False,
                blocked=False,
                created_at=now,
            )
            session.add(person)
            await session.flush()
        # Each field is set only when it changes: an unchanged person is not a row for the flush to look at.
        started = inbound.kind == "command" and inbound.command == "start" and not inbound.answered
        opens = started or (identity.channel in WRITING_SUBSCRIBES and not inbound.answered)
        if opens and person.blocked is not False:
            person.blocked = False  # whoever starts the bot has it open, whatever a send once concluded
        if person.consent in ("given", "pending"):
            if person.channel != identity.channel:
                person.channel = identity.channel  # a person with linked apps is answered where they wrote last
            if person.channel_user_id != identity.user_id:
                person.channel_user_id = identity.user_id
            if person.chat_id != identity.chat_id:
                person.chat_id = identity.chat_id
            if inbound.display_name and person.display_name != inbound.display_name[:256]:
                person.display_name = inbound.display_name[:256]
        if person.last_contact_at is None or now - person.last_contact_at >= LAST_CONTACT_RESOLUTION:
            person.last_contact_at = now  # to the minute: a row write per message would buy nothing
        return person

    async def _conversation(self, session: AsyncSession, person: Beneficiary, now: datetime) -> Conversation:
        conversation = session.info.get("conversations", {}).get(person.id)
        if conversation is None or conversation not in session:
            conversation = (
                await session.execute(select(Conversation).where(Conversation.beneficiary_id == person.id))
            ).scalar_one_or_none()
        if conversation is None:
            conversation = Conversation.opened(person.id, now)
            session.add(conversation)
            await session.flush()
        return conversation

    async def _turn(self, session: AsyncSession, identity: Identity, inbound: Inbound, now: datetime) -> Beneficiary:
        code = linking.looks_like_code(inbound.text) if inbound.kind == "text" else None
        if inbound.kind == "command" and inbound.command == "start":
            code = linking.code_in_start(inbound.args)  # a deep link that carries the code
        if code is not None:
            ref = pseudonym(self.services.pseudonym_key, identity.channel, identity.user_id)
            if await linking.redeem(session, self.services.pseudonym_key, code, identity.channel, ref, now):
                # This app is now the person's who asked for the code: their turn, told so by the router.
                payload = {**inbound.payload, linking.LINKED_COMMAND: True}
                inbound = replace(inbound, kind="command", command=linking.LINKED_COMMAND, payload=payload)
            elif inbound.kind == "command":
                inbound = replace(inbound, args="")  # a used or expired code's link: a plain start, no source
        person = await self._person(session, identity, inbound, now)
        conversation = await self._conversation(session, person, now)
        turn = Turn(
            inbound=inbound,
            person=person,
            conversation=conversation,
            session=session,
            translations=self.translations,
            services=self.services,
            now=now,
        )
        if ownership.person_wrote(conversation, now):
            snoozes.woke(session, conversation.id, "person", now)
        danger = safety.in_danger(inbound)
        keep = person.consent in ("given", "pending")
        if keep:
            await self._append_inbound(session, conversation, inbound, now, identity.channel, danger=danger)
        if inbound.kind == "button":
            await queue_call(
                session,
                channel=identity.channel,
                chat_id=identity.chat_id,
                method="answerCallbackQuery",
                payload={"callback_query_id": inbound.payload.get("callback_query_id", "")},
                now=now,
                beneficiary_id=person.id,
            )
        # Button presses answer the bot's own questions; only typed messages and media count as a flood.
        turn.flooded = inbound.kind != "button" and self._flood(conversation, inbound.sent_at or now)
        if danger:
            await safety.answer(turn)  # before anything else, whoever owns the conversation
        elif turn.flooded:
            if not conversation.state.get("_flood_noticed"):
                conversation.state = {**conversation.state, "_flood_noticed": True}
                turn.say(
                    turn.t.gettext(
                        "You are sending many messages very quickly. I have saved all of them. "
                        "Please wait a few seconds, then write again."
                    )
                )
        elif not ownership.bot_answers(conversation, inbound.kind):
            pass  # a caseworker owns this conversation: the bot stays silent
        elif self._same_album(conversation, inbound):
            pass  # another photo of an album already acknowledged: stored, not answered again
        else:
            if conversation.state.get("_flood_noticed"):
                conversation.state = {k: v for k, v in conversation.state.items() if k != "_flood_noticed"}
            await self.router.route(turn)
        if person.consent in ("declined", "erased"):
            keep = False  # declined or erased (maybe in this very turn): nothing of theirs is kept

            keys = [self.chat_key(identity.channel, identity.chat_id), *await linking.refs(session, person)]
            await session.execute(
                update(InboxUpdate)
                .where(
                    InboxUpdate.chat_key.in_(keys),
                    InboxUpdate.status != "pending",  # waiting turns still run, and are blanked in their own turn
                )
                .values(raw=None)
            )
        # A turn the channel already answered itself (Viber's welcome to someone not yet subscribed, who
        # can be sent nothing else) queues no replies; its state (a deep link's parameter) waits for the next.
        for reply in [] if inbound.answered else turn.replies:
            await queue_reply(
                session,
                person=person,
                conversation=conversation,
                chat_id=identity.chat_id,
                reply=reply,
                now=now,
                keep=keep,
            )
        conversation.updated_at = now
        conversation.last_message_at = now
        return person

    @staticmethod
    def _same_album(conversation: Conversation, inbound: Inbound) -> bool:
        """Telegram sends an album as one message per item, sharing a media_group_id: answer the first only."""
        album = inbound.payload.get("album") if inbound.kind != "edit" else None
        if album is None:
            return False
        if conversation.state.get("_album") == album:
            return True
        conversation.state = {**conversation.state, "_album": album}
        return False

    def _flood(self, conversation: Conversation, now: datetime) -> bool:
        """Count this message in a sliding window; beyond the limit the person gets one notice."""
        settings = self.services.settings
        window_start = (now - timedelta(seconds=settings.flood_window_seconds)).timestamp()
        recent = [t for t in conversation.state.get("_recent", []) if t > window_start]
        recent.append(now.timestamp())
        recent = recent[-(settings.flood_messages + 1) :]
        conversation.state = {**conversation.state, "_recent": recent}
        return len(recent) > settings.flood_messages

    async def _append_inbound(
        self,
        session: AsyncSession,
        conversation: Conversation,
        inbound: Inbound,
        now: datetime,
        channel: str,
        *,
        danger: bool,
    ) -> None:
        payload = inbound.payload or None
        if inbound.kind == "button":
            # Caseworkers read what the person tapped; the button's data stays in the payload.
            label = await tapped_label(session, conversation.id, inbound.data or "")
            text = clean(label or inbound.data)
            payload = {**(inbound.payload or {}), "data": inbound.data}
        else:
            text = clean(inbound.text)
        if inbound.file_id and inbound.kind in MEDIA_KINDS:
            session.info[MEDIA_LINES] = True
        edit_of = None
        if inbound.kind == "edit" and inbound.channel_message_id is not None:
            edit_of = (
                await session.execute(
                    select(Message.id)
                    .where(
                        Message.conversation_id == conversation.id,
                        Message.channel_message_id == inbound.channel_message_id,
                        Message.direction == "in",
                    )
                    .order_by(Message.id)
                    .limit(1)
                )
            ).scalar_one_or_none()
        await append(
            session,
            Message,
            {
                "conversation_id": conversation.id,
                "direction": "in",
                "author": "person",
                "kind": inbound.kind,
                "text": text,
                "norm_text": fold(text) if text else None,
                "file_id": inbound.file_id,
                "payload": {**(payload or {}), "danger": True} if danger else payload,
                "channel_message_id": inbound.channel_message_id,
                "channel": channel,
                "update_id": inbound.update_id,
                "edit_of": edit_of,
                "status": "received",
                "created_at": now,
            },
        )

    async def _group(self, session: AsyncSession, group: GroupChat, now: datetime) -> None:
        key = self.chat_key(group.channel, group.chat_id)
        if group.callback_query_id:  # a button pressed in a group: stop its spinner, whatever follows
            await queue_call(
                session,
                channel=group.channel,
                chat_id=group.chat_id,
                method="answerCallbackQuery",
                payload={"callback_query_id": group.callback_query_id},
                now=now,
            )
        if not group.can_reply or await session.get(GroupNotice, key) is not None:
            return
        session.add(GroupNotice(chat_id=key, created_at=now))
        lines = [
            self.translations(loc).gettext("I work in private chats only. Please write to me directly.")
            for loc in ("sq", "sr-Latn", "sr-Cyrl")
        ]
        await queue_call(
            session,
            channel=group.channel,
            chat_id=group.chat_id,
            method="sendMessage",
            payload={"text": "\n".join(lines)},
            now=now,
        )

    async def _membership(self, session: AsyncSession, change: MembershipChange) -> None:
        ref = pseudonym(self.services.pseudonym_key, change.channel, change.user_id)
        await session.execute(update(Beneficiary).where(Beneficiary.channel_ref == ref).values(blocked=change.blocked))

    async def _record_failure(self, inbox_id: int, exc: Exception) -> bool:
        """Count a failed run of an update's turn; after a few, quarantine it and tell the person once.

        Returns True when the update is settled (quarantined, or done meanwhile), False when it stays
        pending to run again. The count is committed on its own, before anything that could fail
        again (reading the update, finding the person): a failure can always be recorded.
        """
        try:
            async with self.db.transaction() as session:
                row = await session.get(InboxUpdate, inbox_id)
                if row is None or row.status not in ("pending", "failed"):
                    return True
                row.attempts += 1
                row.error = describe(exc)[:2000]
                if row.attempts < QUARANTINE_AFTER:
                    row.status = "pending"
                    return False
                row.status, row.processed_at = QUARANTINED, self.services.clock.now()
                channel, raw = row.channel, row.raw
        except Exception as again:
            log.error("could not record a failed turn", extra={"inbox_id": inbox_id, "error": describe(again)})
            return False
        log.warning("update quarantined", extra={"inbox_id": inbox_id, "error": describe(exc)})
        if raw is not None:
            await self._apologise(inbox_id, channel, raw)
        return True

    async def _apologise(self, inbox_id: int, channel: str, raw: str) -> None:
        """Tell the person whose update was quarantined, in their language (all three to a stranger)."""
        try:
            decoded = self.decoders[channel](raw)
            if isinstance(decoded, Partly):
                decoded = decoded.decoded
            if not isinstance(decoded, Incoming):
                return
            async with self.db.transaction() as session:
                person = await self._find(session, decoded.identity)
                if person is not None and person.consent in ("declined", "erased"):
                    await session.execute(update(InboxUpdate).where(InboxUpdate.id == inbox_id).values(raw=None))
                key = (
                    "Sorry, something went wrong on our side. Your message is saved. Please try again in a moment, "
                    "or send /menu."
                )
                locales = [person.locale] if person is not None and person.locale else ["sq", "sr-Latn", "sr-Cyrl"]
                await queue_call(
                    session,
                    channel=decoded.identity.channel,
                    chat_id=decoded.identity.chat_id,
                    method="sendMessage",
                    payload={"text": "\n\n".join(self.translations(loc).gettext(key) for loc in locales)},
                    now=self.services.clock.now(),
                    beneficiary_id=person.id if person is not None else None,
                )
        except Exception as again:
            log.error(
                "could not tell the person of a failed turn", extra={"inbox_id": inbox_id, "error": describe(again)}
            )
