"""The sending half of a process: the database, each configured channel's sender, pacing, delivery.

It is built and started before the rest of Homeward (engine, handlers, knowledge base, forms, the
web server) is even imported: a process restarted after a crash sends what it had answered but not
yet sent while the rest loads (`bot.boot`). `Homeward` then takes it over as its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta
from typing import Any

from aiogram import Bot

from bot.channels import telegram, viber, webchat, whatsapp
from bot.channels.files import FileLinks
from bot.channels.labels import shortener
from bot.clock import Clock
from bot.config import Settings
from bot.delivery import Claimed, Delivery, Sender
from bot.i18n import LOCALES, Translations
from bot.pacing import Pacer
from bot.ratelimit import Limiter, LocalLimiter, RedisLimiter
from bot.workers import WorkerSlot

log = logging.getLogger(__name__)


class Outgoing:
    """What a process sends with, built from one Settings object."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.db = settings.database()
        self.translations = Translations(settings.locales_dir, settings.timezone)
        self.senders: dict[str, Sender] = {}
        self.bot: Bot | None = None
        if settings.telegram_token:
            self.bot = telegram.make_bot(settings.telegram_token, settings.telegram_api_base)
            self.senders[telegram.CHANNEL] = telegram.TelegramSender(self.bot)
        limiters: dict[str, Limiter] = {}
        self.graph: whatsapp.GraphClient | None = None
        self.whatsapp_sender: whatsapp.WhatsAppSender | None = None
        if settings.whatsapp_token and settings.whatsapp_phone_number_id:
            self.graph = whatsapp.GraphClient(
                settings.whatsapp_api_base, settings.whatsapp_token, settings.whatsapp_phone_number_id
            )
            shorteners = {loc: shortener(self.translations(loc)) for loc in LOCALES}
            self.whatsapp_sender = whatsapp.WhatsAppSender(
                self.graph, self.translations, self.clock, settings.whatsapp_templates, shorteners.__getitem__
            )
            self.senders[whatsapp.CHANNEL] = self.whatsapp_sender
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
                self.viber,
                self.translations,
                {loc: shortener(self.translations(loc)) for loc in LOCALES},
                files=FileLinks(
                    self.db,
                    self.clock,
                    settings.resolved_secret_key().encode(),
                    settings.public_url or settings.webhook_url,
                ),
            )
            self.senders[viber.CHANNEL] = self.viber_sender
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
        # The web chat page: its "sending" is keeping the reply for the page, which its stream then shows.
        self.webchat = webchat.WebChat(self.db, self.clock)
        self.senders[webchat.CHANNEL] = self.webchat
        self.delivery.on_event = self.delivered
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None

    def delivered(self, outcome: str, item: Claimed) -> None:
        if outcome == "sent" and item.channel == webchat.CHANNEL:
            self.webchat.delivered(item.chat_id, item.id, item.method, item.payload, kept=item.message_id is not None)

    def _limiter(self, pacer: Pacer, channel: str) -> Limiter:
        if self.settings.redis_url:
            return RedisLimiter(self.settings.redis_url, pacer, prefix=f"homeward:rate:{channel}")
        return LocalLimiter(pacer)

    def start(self) -> asyncio.Task[Any]:
        """Delivery running under this process's lasting worker id (once; later calls return the same task)."""
        if self.task is None:
            if not self.settings.worker_id:
                self.delivery.worker_id = self.worker_slot.acquire()
            self.task = asyncio.create_task(self.delivery.run(self.stop_event), name="delivery")
        return self.task

    async def close(self) -> None:
        """After delivery has stopped: the connections and the worker slot let go."""
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
