"""The composition root: builds Homeward from settings, and runs its parts.

Everything is wired here and only here: database, translations, services, handlers, the engine,
turn scheduling, delivery and the channels. `homeward serve`, `homeward bot`, `homeward worker`
and the tests all start from `Homeward(settings)`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from contextlib import suppress
from datetime import timedelta
from typing import Any

from aiogram import Bot
from sqlalchemy import select

from bot.channels import Channel, labels, receipts, telegram, viber, webchat, whatsapp
from bot.clock import Clock
from bot.config import Settings
from bot.delivery import Claimed, Delivery, Sender
from bot.engine import Engine, pseudonym
from bot.followup.contacts import FollowupScheduler
from bot.i18n import LOCALES, Translations
from bot.inbox import InboxWriter, store_updates
from bot.integrations import webhooks
from bot.kb import KnowledgeBase
from bot.municipalities import Municipalities
from bot.pacing import Pacer
from bot.privacy import PersonalData
from bot.questionnaires import Questionnaires
from bot.ratelimit import Limiter, LocalLimiter, RedisLimiter
from bot.retention import Retention
from bot.services import Services
from bot.turns import TurnScheduler
from bot.workers import WorkerSlot
from bot.youth import privacy as youth_data
from bot.youth.scheduler import YouthScheduler
from db.models import Beneficiary, Conversation, Message
from handlers import faq, followup, handoff, linking, onboarding, privacy, questionnaire, youth
from handlers.routes import Router, build_router

log = logging.getLogger(__name__)


class Homeward:
    """One running Homeward: the parts a process needs, built from one Settings object."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.db = settings.database()
        self.translations = Translations(settings.locales_dir, settings.timezone)
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
        self.senders: dict[str, Sender] = {}
        self.channels: dict[str, Channel] = {}
        self.bot: Bot | None = None
        if settings.telegram_token:
            self.bot = telegram.make_bot(settings.telegram_token, settings.telegram_api_base)
            self.senders[telegram.CHANNEL] = telegram.TelegramSender(self.bot)
            self.channels[telegram.CHANNEL] = Channel(telegram.CHANNEL, telegram.decode, self.senders[telegram.CHANNEL])
        limiters: dict[str, Limiter] = {}
        self.graph: whatsapp.GraphClient | None = None
        if settings.whatsapp_token and settings.whatsapp_phone_number_id:
            self.graph = whatsapp.GraphClient(
                settings.whatsapp_api_base, settings.whatsapp_token, settings.whatsapp_phone_number_id
            )
            shorteners = {loc: labels.shortener(self.translations(loc)) for loc in LOCALES}
            sender = whatsapp.WhatsAppSender(
                self.graph, self.translations, self.clock, settings.whatsapp_templates, shorteners.__getitem__
            )
            self.senders[whatsapp.CHANNEL] = sender
            self.channels[whatsapp.CHANNEL] = Channel(whatsapp.CHANNEL, whatsapp.decode, sender)
            limiters[whatsapp.CHANNEL] = self._limiter(
                Pacer(
                    settings.whatsapp_rate_per_second,
                    settings.whatsapp_rate_chat_per_second,
                    settings.whatsapp_rate_chat_burst,
                    settings.rate_group_per_minute,
                ),
                whatsapp.CHANNEL,
            )
        self.viber: viber.ViberClient | None = None
        self.viber_sender: viber.ViberSender | None = None
        if settings.viber_token:
            self.viber = viber.ViberClient(
                settings.viber_api_base, settings.viber_token, settings.viber_sender_name, settings.viber_sender_avatar
            )
            self.viber_sender = viber.ViberSender(
                self.viber, self.translations, {loc: labels.shortener(self.translations(loc)) for loc in LOCALES}
            )
            self.senders[viber.CHANNEL] = self.viber_sender
            self.channels[viber.CHANNEL] = Channel(viber.CHANNEL, viber.decode, self.viber_sender)
            limiters[viber.CHANNEL] = self._limiter(
                Pacer(
                    settings.viber_rate_per_second,
                    settings.viber_rate_chat_per_second,
                    settings.viber_rate_chat_burst,
                    settings.rate_group_per_minute,
                ),
                viber.CHANNEL,
            )
        pacer = Pacer(
            settings.rate_global_per_second,
            settings.rate_chat_per_second,
            settings.rate_chat_burst,
            settings.rate_group_per_minute,
            global_burst=settings.rate_global_burst,
        )
        self.worker_slot = WorkerSlot(settings.data_dir, settings.database_url)
        self.limiter: Limiter = RedisLimiter(settings.redis_url, pacer) if settings.redis_url else LocalLimiter(pacer)
        if limiters and telegram.CHANNEL in self.senders:
            limiters[telegram.CHANNEL] = self.limiter
        self.delivery = Delivery(
            self.db,
            self.senders,
            self.clock,
            self.limiter,
            # A process that delivers takes its lasting id when it starts (`bot.workers`).
            worker_id=settings.worker_id or f"{socket.gethostname()}:{os.getpid()}",
            concurrency=settings.delivery_concurrency,
            backoff_first=settings.retry_first_seconds,
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            limiters=limiters,
        )
        # The web chat page and hand-off to caseworkers (the console serves the page and answers).
        self.webchat = webchat.WebChat(self.db, self.clock)
        self.senders[webchat.CHANNEL] = self.webchat
        self.delivery.on_event = self._delivered
        self.personal_data.erasers.append(webchat.erase_files)
        self.channels[webchat.CHANNEL] = Channel(webchat.CHANNEL, self.webchat.decode, self.webchat)
        handoff.register(self.router, self.services)
        if len(set(self.channels) - {webchat.CHANNEL}) > 1:
            linking.register(self.router, self.services)  # one person across the apps this deployment speaks
        self.engine = Engine(
            self.db,
            self.translations,
            self.services,
            self.router,
            {telegram.CHANNEL: telegram.decode, **{name: channel.decode for name, channel in self.channels.items()}},
            on_queued=self._committed,
        )
        self.services.extras["chat_key"] = self.engine.chat_key
        self.turns = TurnScheduler(self.engine)
        self.webhook_inbox = InboxWriter(self.store_telegram, self.turns.submit)
        self.receipts = receipts.ReceiptWriter(self.db)
        if self.viber_sender is not None:
            self.viber_sender.record = self.receipts.record
            self.viber_sender.unsubscribed = self._viber_unsubscribed
        # Webhooks of the other apps: each request's events stored (several requests to a commit) before 200.
        self.inboxes = {
            name: InboxWriter(functools.partial(self.store_events, name), self.turns.submit)
            for name in self.channels
            if name not in (telegram.CHANNEL, webchat.CHANNEL)
        }
        self.followups = FollowupScheduler(self.db, self.translations, self.clock, on_queued=self.delivery.wake)
        self.youth = YouthScheduler(self.db, self.translations, self.clock, on_queued=self.delivery.wake)
        self.retention = Retention(self.db, self.personal_data, settings.retention_periods())
        # Other systems hear of hand-offs, submissions and sign-ups; an erased person's events go too.
        self.webhooks = webhooks.Dispatcher(self.db, self.clock)
        self.personal_data.erasers.append(webhooks.erase)
        self.stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []

    def _committed(self) -> None:
        """Turns committed: delivery looks at the outbox, and web chat pages of those turns show their replies."""
        self.delivery.wake()
        self.webchat.committed()

    def _delivered(self, outcome: str, item: Claimed) -> None:
        if outcome == "sent" and item.channel == webchat.CHANNEL:
            self.webchat.delivered(item.chat_id, item.id, item.method, item.payload, kept=item.message_id is not None)

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
        """True when the Viber person unsubscribed (marked blocked) since: nothing is sent to them."""
        ref = pseudonym(self.services.pseudonym_key, viber.CHANNEL, user_id)
        async with self.db.sessions() as session:
            found = await session.execute(select(Beneficiary.blocked).where(Beneficiary.channel_ref == ref))
            return bool(found.scalar())

    async def viber_receipt(self, token: str, user_id: str, status: str, error: str | None) -> None:
        """A delivered, seen or failed callback → the status of the transcript line its message token was."""
        line = self.viber_sender.lines.get(token) if self.viber_sender is not None else None
        if line is None:  # sent by another process: the line keeps the token of its last message
            ref = pseudonym(self.services.pseudonym_key, viber.CHANNEL, user_id)
            async with self.db.sessions() as session:
                line = (
                    await session.execute(
                        select(Message.id).where(
                            Message.conversation_id.in_(
                                select(Conversation.id)
                                .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
                                .where(Beneficiary.channel_ref == ref)
                            ),
                            Message.channel_message_id == token,
                            Message.direction == "out",
                        )
                    )
                ).scalar()
            if line is None and self.viber_sender is not None:
                line = self.viber_sender.lines.get(token)  # its send returned meanwhile
                if line is None:
                    self.viber_sender.hold(token, status, error)  # its send has not returned yet
        if line is not None:
            await self.receipts.record([receipts.Receipt(line, status, error)])

    def _limiter(self, pacer: Pacer, channel: str) -> Limiter:
        if self.settings.redis_url:
            return RedisLimiter(self.settings.redis_url, pacer, prefix=f"homeward:rate:{channel}")
        return LocalLimiter(pacer)

    def poller(self) -> telegram.Poller:
        if self.bot is None:
            raise RuntimeError("HOMEWARD_TELEGRAM_TOKEN is not set")
        return telegram.Poller(self.bot, self.store_telegram, self.turns.submit, self.settings.poll_timeout_seconds)

    async def start(self, *, polling: bool = True, delivery: bool = True) -> None:
        """Replay unfinished turns, then run delivery and (if a token is set) Telegram polling.

        The knowledge base's embedding model loads in a thread of its own meanwhile: questions are
        ranked lexically until it is ready, so the first reply does not wait for it.
        """
        if self.settings.kb_embeddings:
            self.services.kb.load_embeddings(cache_dir=self.settings.data_dir / "cache")
        await self.turns.recover()
        if self.bot is not None:
            await self._learn_username(self.bot)
        if delivery:
            if not self.settings.worker_id:
                self.delivery.worker_id = self.worker_slot.acquire()
            self._tasks.append(asyncio.create_task(self.delivery.run(self.stop_event), name="delivery"))
            self._tasks.append(asyncio.create_task(self._schedule(), name="scheduler"))
            self._tasks.append(asyncio.create_task(self.webhooks.run(self.stop_event), name="webhooks"))
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
        """The follow-up pass once a minute, retention once a day; the plans live in the database."""
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

    async def stop(self) -> None:
        self.stop_event.set()
        for task in self._tasks:
            if task.get_name() == "polling":
                task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.turns.close()
        for limiter in {id(x): x for x in (self.limiter, *self.delivery.limiters.values())}.values():
            if isinstance(limiter, RedisLimiter):
                await limiter.close()
        if self.graph is not None:
            await self.graph.close()
        if self.viber is not None:
            await self.viber.close()
        if self.bot is not None:
            await self.bot.session.close()
        await self.db.dispose()
        self.worker_slot.release()
