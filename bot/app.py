"""The composition root: builds Homeward from settings, and runs its parts.

Everything is wired here and only here: database, translations, services, handlers, the engine,
turn scheduling, delivery and the channels. `homeward serve`, `homeward bot`, `homeward worker`
and the tests all start from `Homeward(settings)`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from aiogram import Bot
from sqlalchemy import select

from bot import broadcasts, snoozes
from bot.channels import Channel, files, labels, receipts, telegram, viber, webchat, whatsapp
from bot.clock import Clock
from bot.config import Settings
from bot.delivery import Claimed
from bot.engine import Engine, pseudonym
from bot.followup.contacts import FollowupScheduler
from bot.inbox import InboxWriter, store_updates
from bot.integrations import webhooks
from bot.kb import KnowledgeBase
from bot.lookups import Coalesced
from bot.media import Fetcher, MediaStore
from bot.media import erase as erase_media
from bot.media import section as media_section
from bot.municipalities import Municipalities
from bot.outgoing import Outgoing
from bot.privacy import PersonalData
from bot.questionnaires import Questionnaires
from bot.retention import Retention
from bot.services import Services
from bot.turns import TurnScheduler
from bot.youth import privacy as youth_data
from bot.youth.scheduler import YouthScheduler
from db.models import Beneficiary, Conversation, Message
from handlers import faq, followup, handoff, linking, onboarding, privacy, questionnaire, youth
from handlers.routes import Router, build_router

log = logging.getLogger(__name__)


class Homeward:
    """One running Homeward: the parts a process needs, built from one Settings object."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, outgoing: Outgoing | None = None) -> None:
        self.settings = settings
        # The sending half may already be running (`bot.boot` starts it before importing this module).
        self.outgoing = outgoing or Outgoing(settings, clock or Clock())
        self.clock = self.outgoing.clock
        self.db = self.outgoing.db
        self.translations = self.outgoing.translations
        self.services = Services(
            settings=settings,
            clock=self.clock,
            pseudonym_key=settings.resolved_secret_key().encode(),
            previous_keys=tuple(k.encode() for k in settings.secret_keys()[1:]),
        )
        self.services.extras["capabilities"] = set()
        self.services.extras["municipalities"] = Municipalities.load(settings.content_dir / "municipalities.csv")
        self.services.kb = KnowledgeBase.load(settings.content_dir / "kb")
        self.router: Router = build_router()
        faq.register(self.router, self.services)
        questionnaire.register(self.router, self.services, Questionnaires.load(settings.content_dir / "forms"))
        followup.register(self.router, self.services)
        self.personal_data = PersonalData()
        privacy.register(self.router, self.services, self.personal_data)
        # The youth programme: sign-up, guardian consent, waiting list; its data is in /mydata and /delete.
        youth.register(self.router, self.services)
        self.personal_data.sections.append(youth_data.section)
        self.personal_data.erasers.insert(0, youth_data.erase)
        self.personal_data.erasers.append(broadcasts.erase)  # who got a broadcast no longer points at them
        self.senders = self.outgoing.senders
        self.bot = self.outgoing.bot
        self.graph = self.outgoing.graph
        self.viber = self.outgoing.viber
        self.viber_sender = self.outgoing.viber_sender
        self.worker_slot = self.outgoing.worker_slot
        self.limiter = self.outgoing.limiter
        self.delivery = self.outgoing.delivery
        self.webchat = self.outgoing.webchat
        self.channels: dict[str, Channel] = {}
        if self.bot is not None:
            self.channels[telegram.CHANNEL] = Channel(telegram.CHANNEL, telegram.decode, self.senders[telegram.CHANNEL])
        if self.outgoing.whatsapp_sender is not None:
            self.channels[whatsapp.CHANNEL] = Channel(whatsapp.CHANNEL, whatsapp.decode, self.outgoing.whatsapp_sender)
        if self.viber_sender is not None:
            self.channels[viber.CHANNEL] = Channel(viber.CHANNEL, viber.decode, self.viber_sender)
        # The web chat page and hand-off to caseworkers (the console serves the page and answers).
        # Files waiting for download (web chat, Viber): found under every app the person is known by.
        self.personal_data.erasers.append(files.eraser((self.services.pseudonym_key, *self.services.previous_keys)))
        self.channels[webchat.CHANNEL] = Channel(webchat.CHANNEL, self.webchat.decode, self.webchat)
        handoff.register(self.router, self.services)
        if len(set(self.channels) - {webchat.CHANNEL}) > 1:
            linking.register(self.router, self.services)  # one person across the apps this deployment speaks
        # Files people send, fetched when they arrive and kept encrypted (`bot.media`).
        fetchers: dict[str, Fetcher] = {}
        if self.bot is not None:
            fetchers[telegram.CHANNEL] = telegram.file_fetcher(self.bot)
        if self.graph is not None:
            fetchers[whatsapp.CHANNEL] = whatsapp.media_fetcher(self.graph)
        if self.viber is not None:
            fetchers[viber.CHANNEL] = viber.fetch_media
        self.media = MediaStore(self.db, self.clock, fetchers, settings.media_max_bytes)
        self.personal_data.erasers.append(erase_media)
        self.personal_data.sections.append(media_section)
        self.engine = Engine(
            self.db,
            self.translations,
            self.services,
            self.router,
            {telegram.CHANNEL: telegram.decode, **{name: channel.decode for name, channel in self.channels.items()}},
            on_queued=self._committed,
            on_media=self.media.wake,
        )
        self.services.extras["chat_key"] = self.engine.chat_key
        self.turns = TurnScheduler(self.engine)
        self.webhook_inbox = InboxWriter(self.store_telegram, self.turns.submit)
        self.receipts = receipts.ReceiptWriter(self.db)
        if self.viber_sender is not None:
            self.viber_sender.record = self.receipts.record
            self.viber_sender.unsubscribed = self._viber_unsubscribed
        self._blocked_refs: Coalesced[str, bool] = Coalesced(self._read_blocked, False)
        self._lines_of_tokens: Coalesced[tuple[str, str], int | None] = Coalesced(self._read_lines, None)
        # Webhooks of the other apps: each request's events stored (several requests to a commit) before 200.
        self.inboxes = {
            name: InboxWriter(functools.partial(self.store_events, name), self.turns.submit)
            for name in self.channels
            if name not in (telegram.CHANNEL, webchat.CHANNEL)
        }
        self.followups = FollowupScheduler(self.db, self.translations, self.clock, on_queued=self.delivery.wake)
        # Broadcasts are queued in batches in the background; the scheduler resumes one a stopped process left.
        self.broadcasts = broadcasts.Queue(
            self.db, self.clock, settings.whatsapp_templates, on_queued=self.delivery.wake
        )
        self.youth = YouthScheduler(self.db, self.translations, self.clock, on_queued=self.delivery.wake)
        self.retention = Retention(self.db, self.personal_data, settings.retention_periods(), self.media)
        # Other systems hear of hand-offs, submissions and sign-ups; an erased person's events go too.
        self.webhooks = webhooks.Dispatcher(self.db, self.clock)
        self.personal_data.erasers.append(webhooks.erase)
        # Told when a turn committed or a send was recorded (the console's live pages look then).
        self.change_listeners: list[Callable[[], None]] = []
        self.delivery.on_event = self._delivered
        self.stop_event = self.outgoing.stop_event
        self._tasks: list[asyncio.Task[Any]] = []

    def _committed(self) -> None:
        """Turns committed: web chat pages of those turns show their replies, and delivery looks at the outbox.

        The pages first: their streams then read before delivery claims, which a page does not wait for.
        The media pass is woken only by a commit that stored a line naming a file (`Engine.on_media`).
        """
        self.webchat.committed()
        self.delivery.wake()
        self._changed()

    def _changed(self) -> None:
        for listener in self.change_listeners:
            listener()

    def _delivered(self, outcome: str, item: Claimed) -> None:
        self.outgoing.delivered(outcome, item)
        self._changed()

    async def store_telegram(self, batch: list[tuple[int, str, str]]) -> list[tuple[str, int]]:
        keyed = [(uid, self.engine.chat_key(telegram.CHANNEL, chat), raw) for uid, chat, raw in batch]
        return await store_updates(self.db, self.clock, telegram.CHANNEL, keyed)

    async def store_events(self, channel: str, batch: list[tuple[int, str, str]]) -> list[tuple[str, int]]:
        keyed = [(uid, self.engine.chat_key(channel, chat), raw) for uid, chat, raw in batch]
        return await store_updates(self.db, self.clock, channel, keyed)

    def viber_welcome(self, language: str | None) -> dict[str, Any]:
        """The one message Viber lets a bot send before the person subscribes: the language picker."""
        assert self.viber is not None
        text, buttons = onboarding.language_picker(self.translations, self.translations.guess(language))
        payload = {"text": text, "buttons": [[{"text": b.label, "data": b.data} for b in row] for row in buttons]}
        (message,) = viber.render(payload, labels.shortener(self.translations("sq")))
        return {"sender": self.viber.sender, "min_api_version": viber.MIN_API_VERSION, **message}

    async def _viber_unsubscribed(self, user_id: str) -> bool:
        """True when the Viber person unsubscribed (marked blocked) since: nothing is sent to them.

        Sends started together ask in one query (`Coalesced`), not a session each."""
        return await self._blocked_refs.get(pseudonym(self.services.pseudonym_key, viber.CHANNEL, user_id))

    async def _read_blocked(self, refs: list[str]) -> dict[str, bool]:
        async with self.db.sessions() as session:
            found = await session.execute(
                select(Beneficiary.channel_ref, Beneficiary.blocked).where(Beneficiary.channel_ref.in_(refs))
            )
            return {ref: bool(blocked) for ref, blocked in found.all()}

    async def viber_receipt(self, token: str, user_id: str, status: str, error: str | None) -> None:
        """A delivered, seen or failed callback → the status of the transcript line its message token was."""
        line = self.viber_sender.lines.get(token) if self.viber_sender is not None else None
        if line is None:  # sent by another process: the line keeps the token of its last message
            ref = pseudonym(self.services.pseudonym_key, viber.CHANNEL, user_id)
            line = await self._lines_of_tokens.get((ref, token))
            if line is None and self.viber_sender is not None:
                line = self.viber_sender.lines.get(token)  # its send returned meanwhile
                if line is None:
                    self.viber_sender.hold(token, status, error)  # its send has not returned yet
        if line is not None:
            await self.receipts.record([receipts.Receipt(line, status, error)])

    async def _read_lines(self, asked: list[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
        """Transcript lines by (person, Viber message token), for receipts arriving together."""
        async with self.db.sessions() as session:
            found = await session.execute(
                select(Beneficiary.channel_ref, Message.channel_message_id, Message.id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
                .where(
                    Beneficiary.channel_ref.in_({ref for ref, _ in asked}),
                    Message.channel_message_id.in_({token for _, token in asked}),
                    Message.direction == "out",
                )
            )
            return {(ref, str(token)): line for ref, token, line in found.all()}

    def poller(self) -> telegram.Poller:
        if self.bot is None:
            raise RuntimeError("HOMEWARD_TELEGRAM_TOKEN is not set")
        return telegram.Poller(self.bot, self.store_telegram, self.turns.submit, self.settings.poll_timeout_seconds)

    async def start(self, *, polling: bool = True, delivery: bool = True) -> None:
        """Run delivery, replay unfinished turns, then (if a token is set) Telegram polling.

        Delivery comes first: what a stopped process left answered but unsent goes out while the
        rest starts, and asking Telegram for the bot's name (a network round trip) holds up only
        polling, which needs it for the links it answers with. The knowledge base's embedding model
        loads in a thread of its own meanwhile: questions are ranked lexically until it is ready, so
        no reply waits for it.
        """
        if delivery:
            self._tasks.append(self.outgoing.start())
            self._tasks.append(asyncio.create_task(self._schedule(), name="scheduler"))
            # Not with the scheduler's minute: a broadcast whose process ended goes on as soon as it is stale.
            self._tasks.append(asyncio.create_task(self.broadcasts.watch(self.stop_event), name="broadcasts"))
            self._tasks.append(asyncio.create_task(self.webhooks.run(self.stop_event), name="webhooks"))
            self._tasks.append(asyncio.create_task(self.media.run(self.stop_event), name="media"))
        if self.settings.kb_embeddings:
            self.services.kb.load_embeddings(cache_dir=self.settings.data_dir / "cache")
        await self.turns.recover()
        if self.bot is not None:
            await self._learn_username(self.bot)

        if polling and self.bot is not None:
            self._tasks.append(asyncio.create_task(self.poller().run(self.stop_event), name="polling"))

    async def _learn_username(self, bot: Bot) -> None:
        """The bot's @username, for links people forward (a guardian's one-time link); optional."""
        try:
            me = await asyncio.wait_for(bot.get_me(), timeout=5)
        except Exception:
            log.warning("could not ask Telegram for the bot's username; links are shown as /start commands")
            return
        if me.username:
            self.services.extras["bot_username"] = me.username

    async def _schedule(self, every: float = 60.0) -> None:
        """The follow-up pass and snoozes ending once a minute, retention once a day; the plans live in the database."""
        last_retention = None
        while not self.stop_event.is_set():
            try:
                await self.followups.run_once()
            except Exception:
                log.exception("follow-up pass failed; trying again next time")
            try:
                await self.youth.run_once()
            except Exception:
                log.exception("youth programme pass failed; trying again next time")
            try:
                await self.wake_snoozes()
            except Exception:
                log.exception("waking snoozed conversations failed; trying again next time")
            today = self.clock.now().date()
            if last_retention != today:
                try:
                    report = await self.retention.run(self.clock.now(), dry_run=False)
                    last_retention = today
                    log.info("retention done", extra=report)
                except Exception:
                    log.exception("retention failed; trying again next time")
            try:
                await asyncio.wait_for(self.stop_event.wait(), timeout=every)
            except TimeoutError:
                pass

    async def wake_snoozes(self) -> list[int]:
        """Snoozes whose time has passed end; open pages of those conversations show them open again."""
        woken = await snoozes.run_once(self.db, self.clock.now())
        if woken:
            self._changed()
        return woken

    async def stop(self) -> None:
        self.stop_event.set()
        for task in self._tasks:
            if task.get_name() == "polling":
                task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.broadcasts.close()  # a batch under way rolls back; the next start resumes before it
        await self.turns.close()
        await self.outgoing.close()
