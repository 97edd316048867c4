"""Telegram through aiogram: our own polling loop, the webhook endpoint, decoding and sending.

aiogram gives the typed API client, the update types and the errors. The polling loop is ours
so that a batch of updates is stored in the inbox *before* its offset is confirmed to Telegram
(the next getUpdates call with a higher offset is what confirms it): a crash loses nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import BufferedInputFile, InputFile, Message, Update, User
from aiohttp import ClientError, ClientTimeout

from bot.channels import (
    Blocked,
    Decoded,
    GroupChat,
    Identity,
    Incoming,
    MembershipChange,
    Permanent,
    RetryLater,
    Sent,
    Transient,
)
from bot.events import Inbound

log = logging.getLogger(__name__)
CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "channel_post"]
MEDIA_KINDS = ("photo", "voice", "audio", "video", "video_note", "document", "sticker", "animation")
# aiogram reads every Bot API answer into a `Response[T]` model, which pydantic caches only weakly:
# once garbage-collected, the next call rebuilds it (about 5 ms, a few hundred times per thousand
# replies in bench/telegram_throughput). Holding the ones we use keeps them built.
RESPONSE_MODELS = (
    Response[Message],
    Response[bool],
    Response[dict[str, Any]],
    Response[list[dict[str, Any]]],
    Response[User],
)
JSON_BODY = {"Content-Type": "application/json"}


class GetRawUpdates(GetUpdates):
    """getUpdates through aiogram's client (its session, retries and errors), answered as plain JSON objects.

    Each update is stored as it arrived and read into aiogram's `Update` type once, when its turn
    runs (`decode`); reading the whole batch into `Update` objects here as well, only to write them
    back out as JSON, cost about a tenth of a turn's time.
    """

    __returning__ = list[dict[str, Any]]  # type: ignore[assignment]


class SendText(TelegramMethod[dict[str, Any]]):
    """sendMessage with its keyboard given, and its answer read, as plain JSON.

    aiogram's `SendMessage` reads the keyboard into models and the answer into a `Message` (with
    the whole text and keyboard echoed back), only for delivery to read one number from it.
    """

    __returning__ = dict[str, Any]
    __api_method__ = "sendMessage"

    chat_id: int
    text: str
    reply_markup: dict[str, Any] | None = None


class JsonSession(AiohttpSession):
    """aiogram's aiohttp session, posting a call that carries no file as one JSON body.

    The Bot API takes parameters as JSON as well as a form. aiogram always builds a URL-encoded
    form, which percent-encodes every byte of a long Albanian or Serbian answer in Python; JSON is
    written in C. Calls with a file (sendDocument) still go as aiogram's multipart form.
    """

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        files: dict[str, InputFile] = {}
        fields = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None:
                fields[key] = prepared
        if files:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=json.dumps(fields, ensure_ascii=False).encode(),
                headers=JSON_BODY,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw_result)
        return cast(TelegramType, response.result)


def make_bot(token: str, api_base: str, timeout: float = 30.0) -> Bot:
    session = JsonSession(api=TelegramAPIServer.from_base(api_base.rstrip("/")), timeout=timeout)
    return Bot(token, session=session, default=DefaultBotProperties())


def _display_name(message: Message) -> str | None:
    user = message.from_user
    if user is None:
        return None
    return " ".join(p for p in (user.first_name, user.last_name) if p) or None


def _message_inbound(message: Message, update_id: int, *, edit: bool) -> Inbound:
    base: dict[str, Any] = {
        "channel_message_id": str(message.message_id),
        "update_id": update_id,
        "language_code": message.from_user.language_code if message.from_user else None,
        "display_name": _display_name(message),
        "sent_at": datetime.fromtimestamp(message.edit_date, UTC) if edit and message.edit_date else message.date,
    }
    if edit:
        return Inbound(kind="edit", text=message.text or message.caption, **base)
    if message.text is not None:
        text = message.text
        if text.startswith("/"):
            head, _, args = text.partition(" ")
            command = head[1:].split("@", 1)[0].lower()
            return Inbound(kind="command", text=text, command=command, args=args, **base)
        return Inbound(kind="text", text=text, **base)
    for kind in MEDIA_KINDS:
        media = getattr(message, kind, None)
        if media:
            item = media[-1] if isinstance(media, list) else media  # photos come in sizes; keep the largest
            return Inbound(
                kind="document" if kind == "animation" else kind,
                text=message.caption,
                file_id=item.file_id,
                payload={"file_unique_id": item.file_unique_id},
                **base,
            )
    if message.location is not None:
        loc = message.location
        return Inbound(kind="location", payload={"latitude": loc.latitude, "longitude": loc.longitude}, **base)
    if message.contact is not None:
        c = message.contact
        return Inbound(
            kind="contact",
            text=" ".join(p for p in (c.first_name, c.last_name) if p),
            payload={"phone_number": c.phone_number},
            **base,
        )
    return Inbound(kind="other", text=message.caption, **base)


def decode(raw: str) -> Decoded:
    """A stored raw update → who wrote and what, or a group notice, or a block/unblock."""
    update = Update.model_validate_json(raw)
    if update.channel_post is not None:
        return GroupChat(CHANNEL, str(update.channel_post.chat.id), can_reply=False)
    if update.my_chat_member is not None:
        member = update.my_chat_member
        if member.chat.type != "private":
            return None
        status = member.new_chat_member.status
        return MembershipChange(CHANNEL, str(member.from_user.id), blocked=status in ("kicked", "left"))
    if update.callback_query is not None:
        query = update.callback_query
        chat = query.message.chat if query.message is not None else None
        if chat is not None and chat.type != "private":
            return GroupChat(CHANNEL, str(chat.id), can_reply=True)
        user = query.from_user
        identity = Identity(CHANNEL, str(user.id), str(chat.id) if chat else str(user.id))
        name = " ".join(p for p in (user.first_name, user.last_name) if p) or None
        return Incoming(
            identity,
            Inbound(
                kind="button",
                data=query.data or "",
                update_id=update.update_id,
                language_code=user.language_code,
                display_name=name,
                payload={"callback_query_id": query.id},
            ),
        )
    message = update.message or update.edited_message
    if message is None or message.from_user is None:
        return None
    if message.chat.type != "private":
        return GroupChat(CHANNEL, str(message.chat.id), can_reply=True)
    identity = Identity(CHANNEL, str(message.from_user.id), str(message.chat.id))
    return Incoming(identity, _message_inbound(message, update.update_id, edit=update.edited_message is not None))


def chat_of(update: dict[str, Any]) -> str:
    """The chat an update belongs to, for ordering turns; read from the raw JSON."""
    for key in ("message", "edited_message", "channel_post", "my_chat_member"):
        if key in update:
            return str(update[key]["chat"]["id"])
    if "callback_query" in update:
        query = update["callback_query"]
        message = query.get("message")
        return str(message["chat"]["id"]) if message else str(query["from"]["id"])
    return "0"


def _markup(rows: list[list[dict[str, str]]] | None) -> dict[str, Any] | None:
    if not rows:
        return None
    return {"inline_keyboard": [[{"text": b["text"], "callback_data": b["data"]} for b in row] for row in rows]}


class TelegramSender:
    """Turns outbox rows into Bot API calls and aiogram's errors into delivery outcomes."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, method: str, chat_id: str, payload: dict[str, Any]) -> Sent:
        try:
            if method == "sendMessage":
                sent = await self.bot(
                    SendText(chat_id=int(chat_id), text=payload["text"], reply_markup=_markup(payload.get("buttons")))
                )
                return Sent(str(sent["message_id"]))
            if method == "sendDocument":
                document = BufferedInputFile(payload["content"].encode("utf-8"), filename=payload["file_name"])
                msg = await self.bot.send_document(
                    chat_id=int(chat_id), document=document, caption=payload.get("caption") or None
                )
                return Sent(str(msg.message_id))
            if method == "answerCallbackQuery":
                await self.bot.answer_callback_query(callback_query_id=payload["callback_query_id"])
                return Sent(None)
            raise Permanent(f"unknown method {method}")
        except TelegramRetryAfter as exc:
            raise RetryLater(float(exc.retry_after), exc.message) from exc
        except TelegramForbiddenError as exc:
            raise Blocked(exc.message) from exc
        except TelegramBadRequest as exc:
            if method == "answerCallbackQuery":
                return Sent(None)  # a button press answered too late: nothing to deliver any more
            raise Permanent(exc.message) from exc
        except (TelegramServerError, TelegramNetworkError) as exc:
            raise Transient(str(exc)) from exc
        except TelegramAPIError as exc:
            raise Transient(str(exc)) from exc
        except (TimeoutError, OSError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from exc


StoreBatch = Callable[[list[tuple[int, str, str]]], Awaitable[list[tuple[str, int]]]]


class Poller:
    """Long polling that stores every update before confirming it."""

    def __init__(self, bot: Bot, store: StoreBatch, submit: Callable[[int], None], timeout: int = 25) -> None:
        self.bot = bot
        self.store = store
        self.submit = submit
        self.timeout = timeout
        self.offset: int | None = None

    async def poll_once(self) -> int:
        updates = cast(
            list[dict[str, Any]],
            await self.bot(
                GetRawUpdates(offset=self.offset, timeout=self.timeout, allowed_updates=ALLOWED_UPDATES),
                request_timeout=self.timeout + 10,
            ),
        )
        if not updates:
            return 0
        batch = [
            (int(update["update_id"]), chat_of(update), json.dumps(update, ensure_ascii=False)) for update in updates
        ]
        stored = await self.store(batch)  # committed before the offset moves past these updates
        self.offset = max(update_id for update_id, _, _ in batch) + 1
        for _, inbox_id in stored:
            self.submit(inbox_id)
        return len(updates)

    async def run(self, stop: asyncio.Event) -> None:
        delay = 1.0
        await self.bot.delete_webhook(drop_pending_updates=False)
        while not stop.is_set():
            try:
                await self.poll_once()
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network or database away: wait and poll again, nothing confirmed
                log.warning("polling failed; retrying", extra={"error": type(exc).__name__, "delay": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


def secret_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the webhook secret header."""
    if not expected:
        return False
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
