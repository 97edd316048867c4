"""Telegram through aiogram: our own polling loop, the webhook endpoint, decoding and sending.

aiogram gives the typed API client, the update types and the errors. The polling loop is ours
so that a batch of updates is stored in the inbox *before* its offset is confirmed to Telegram
(the next getUpdates call with a higher offset is what confirms it): a crash loses nothing.
An update of a shape newer than the installed aiogram is read in part rather than refused
(`decode`), and Telegram's refusals are told apart: a block, someone who never started the
bot, a group that moved to a new id (`TelegramSender`).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import BufferedInputFile, InputFile, Message, Update, User
from aiohttp import ClientError, ClientResponseError, ClientTimeout
from pydantic import ValidationError

from bot.channels import (
    Blocked,
    Decoded,
    GroupChat,
    Identity,
    Incoming,
    MembershipChange,
    Partly,
    Permanent,
    RetryLater,
    Sent,
    Transient,
)
from bot.events import Inbound
from bot.failures import field_paths
from bot.media import Fetched, Fetcher, Gone, TooBig, Unreachable
from db import jsontext

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
MESSAGE_KEYS = ("message", "edited_message")
PRUNINGS = 40  # at most this many unreadable parts are set aside from one update before giving up on it
# What a message says beyond its content, for the transcript: forwarded, quoting, replying, in an album.
CONTEXT_FIELDS: dict[str, Any] = {
    "forward_origin": True,
    "forward_from": True,
    "forward_from_chat": True,
    "forward_sender_name": True,
    "quote": {"text"},
    "external_reply": {"origin"},
    "reply_to_message": {"message_id", "text", "caption"},
    "media_group_id": True,
}
# Telegram's 403 for someone who never opened a chat with the bot (a button pressed in a message
# forwarded to them, an id typed by hand): not a block, they can still start the bot.
NEVER_STARTED = ("can't initiate conversation",)


class Malformed(ValueError):
    """A body that is JSON but not an update: no integer update_id, or a known part of the wrong shape."""


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
        fields: dict[str, Any] = {}
        if isinstance(method, SendText):  # plain JSON already: aiogram's walk over each value changes nothing
            fields = {"chat_id": method.chat_id, "text": method.text}
            if method.reply_markup is not None:
                fields["reply_markup"] = method.reply_markup
        else:
            for key, value in method.model_dump(warnings=False).items():
                prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
                if prepared is not None:
                    fields[key] = prepared
        if files:
            return await super().make_request(bot, method, timeout)
        status, raw_result = await self._post_json(bot, method.__api_method__, fields, timeout, lambda: method)
        response = self.check_response(bot=bot, method=method, status_code=status, content=raw_result)
        return cast(TelegramType, response.result)

    async def _post_json(
        self,
        bot: Bot,
        api_method: str,
        fields: dict[str, Any],
        timeout: int | None,
        method: Callable[[], TelegramMethod[Any]],
    ) -> tuple[int, str]:
        """POST `fields` as one JSON body; the answer's status and text (`method` names the call in errors)."""
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=api_method)
        try:
            async with session.post(
                url,
                data=jsontext.dumps_bytes(fields),
                headers=JSON_BODY,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                return resp.status, await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method(), message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method(), message=f"{type(e).__name__}: {e}") from e

    async def send_text(self, bot: Bot, chat_id: int, text: str, reply_markup: dict[str, Any] | None) -> dict[str, Any]:
        """sendMessage, as `bot(SendText(...))` sends it, answered with the message as plain JSON.

        A reply is sent per message of every wave: the call and a plain success (`{"ok": true,
        "result": {...}}`) are not built into aiogram's models; any other answer is read by aiogram
        (`check_response`), which raises its usual errors.
        """

        def method() -> SendText:
            return SendText(chat_id=chat_id, text=text, reply_markup=reply_markup)

        if self.middleware or type(text) is not str:  # what aiogram's own path would do differently
            return await bot(method())
        fields: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if reply_markup is not None:
            fields["reply_markup"] = reply_markup
        status, raw_result = await self._post_json(bot, SendText.__api_method__, fields, None, method)
        if HTTPStatus.OK <= status <= HTTPStatus.IM_USED:
            try:
                answer = jsontext.loads(raw_result)
            except ValueError:
                answer = None
            if (
                type(answer) is dict
                and answer.keys() == {"ok", "result"}
                and answer["ok"] is True
                and type(answer["result"]) is dict
            ):
                return cast(dict[str, Any], answer["result"])
        response = self.check_response(bot=bot, method=method(), status_code=status, content=raw_result)
        return cast(dict[str, Any], response.result)


def make_bot(token: str, api_base: str, timeout: float = 30.0) -> Bot:
    session = JsonSession(api=TelegramAPIServer.from_base(api_base.rstrip("/")), timeout=timeout)
    return Bot(token, session=session, default=DefaultBotProperties())


def _display_name(message: Message) -> str | None:
    user = message.from_user
    if user is None:
        return None
    return " ".join(p for p in (user.first_name, user.last_name) if p) or None


def _name_of(found: Any) -> str | None:
    """A person's or chat's name from a raw user or chat object, if it has one."""
    if not isinstance(found, dict):
        return None
    parts = [found.get(key) for key in ("first_name", "last_name")]
    name = " ".join(p for p in parts if isinstance(p, str) and p) or found.get("title")
    return name[:128] if isinstance(name, str) and name else None


def _origin(origin: Any) -> dict[str, Any]:
    """Where a forwarded or quoted message came from: its kind (any kind, even one newer than us) and a name."""
    found: dict[str, Any] = {}
    if not isinstance(origin, dict):
        return found
    if isinstance(origin.get("type"), str):
        found["origin"] = origin["type"][:32]
    name = (
        _name_of(origin.get("sender_user"))
        or _name_of(origin.get("sender_chat"))
        or _name_of(origin.get("chat"))
        or (origin["sender_user_name"][:128] if isinstance(origin.get("sender_user_name"), str) else None)
    )
    if name:
        found["name"] = name
    return found


def _context(message: dict[str, Any]) -> dict[str, Any]:
    """What a message says beyond its content, from its JSON: forwarded from whom, quoting what, in which album."""
    found: dict[str, Any] = {}
    if "forward_origin" in message:
        found["forwarded"] = _origin(message["forward_origin"])
    elif any(key in message for key in ("forward_from", "forward_from_chat", "forward_sender_name")):
        legacy = {
            "sender_user": message.get("forward_from"),
            "chat": message.get("forward_from_chat"),
            "sender_user_name": message.get("forward_sender_name"),
        }
        found["forwarded"] = _origin(legacy)
    quote = message.get("quote")
    if isinstance(quote, dict) and isinstance(quote.get("text"), str):
        found["quote"] = quote["text"][:1024]
    external = message.get("external_reply")
    if isinstance(external, dict):
        found["quoted_from"] = _origin(external.get("origin"))
    reply = message.get("reply_to_message")
    if isinstance(reply, dict):
        said = reply.get("text") or reply.get("caption")
        found["reply_to"] = {"message_id": str(reply.get("message_id", ""))[:32]}
        if isinstance(said, str):
            found["reply_to"]["text"] = said[:300]
    album = message.get("media_group_id")
    if isinstance(album, (str, int)):
        found["album"] = str(album)[:64]
    return found


def _typed_context(message: Message) -> dict[str, Any]:
    if not (message.model_extra or any(getattr(message, name, None) is not None for name in CONTEXT_FIELDS)):
        return {}
    return _context(message.model_dump(mode="json", include=CONTEXT_FIELDS, exclude_none=True))


def _file_details(item: Any) -> dict[str, str]:
    """A file's own name and type, where the app gives them (documents, audio, video)."""
    found = {key: getattr(item, key, None) for key in ("file_name", "mime_type")}
    return {key: value[:128] for key, value in found.items() if isinstance(value, str) and value}


def _message_inbound(message: Message, update_id: int, *, edit: bool) -> Inbound:
    base: dict[str, Any] = {
        "channel_message_id": str(message.message_id),
        "update_id": update_id,
        "language_code": message.from_user.language_code if message.from_user else None,
        "display_name": _display_name(message),
        "sent_at": datetime.fromtimestamp(message.edit_date, UTC) if edit and message.edit_date else message.date,
    }
    context = _typed_context(message)
    if edit:
        if message.location is not None:  # a live location moving: each edit is a position
            loc = message.location
            return Inbound(kind="edit", payload={"latitude": loc.latitude, "longitude": loc.longitude}, **base)
        return Inbound(kind="edit", text=message.text or message.caption, payload=context, **base)
    if message.text is not None:
        return _text_inbound(message.text, context, base)
    for kind in MEDIA_KINDS:
        media = getattr(message, kind, None)
        if media:
            item = media[-1] if isinstance(media, list) else media  # photos come in sizes; keep the largest
            return Inbound(
                kind="document" if kind == "animation" else kind,
                text=message.caption,
                file_id=item.file_id,
                payload={"file_unique_id": item.file_unique_id, **_file_details(item), **context},
                **base,
            )
    if message.location is not None:
        loc = message.location
        return Inbound(
            kind="location", payload={"latitude": loc.latitude, "longitude": loc.longitude, **context}, **base
        )
    if message.contact is not None:
        c = message.contact
        return Inbound(
            kind="contact",
            text=" ".join(p for p in (c.first_name, c.last_name) if p),
            payload={"phone_number": c.phone_number, **context},
            **base,
        )
    return Inbound(kind="other", text=message.caption, payload=context, **base)


def decode(raw: str) -> Decoded:
    """A stored raw update → who wrote and what, or a group notice, or a block/unblock.

    An update that aiogram's types cannot read whole (a kind of forward, reaction, member status
    or media that Telegram added after our aiogram was released) is read in part: the parts that
    do not validate are set aside one by one until the rest does, so the person is answered as
    for any message, and the update is kept with the field paths that could not be read.
    """
    plain = _plain_text(raw)
    if plain is not None:
        return plain
    try:
        update = Update.model_validate_json(raw)
    except ValidationError as exc:
        return _read_in_part(raw, exc)
    return _read(update)


# The shape most updates have: a person's plain text in their private chat, nothing more. Read
# from its JSON directly, it gives what `_read` gives for it; building aiogram's `Update` (four
# models, each validated and given its bot context) cost more than the rest of decoding a turn.
_PLAIN_MESSAGE = frozenset({"message_id", "date", "chat", "from", "text"})
_PLAIN_CHAT = frozenset({"id", "type", "first_name", "last_name", "username"})
_PLAIN_USER = frozenset({"id", "is_bot", "first_name", "last_name", "username", "language_code"})
_SECONDS_UNTIL = 2 * 10**10  # pydantic reads a larger number as milliseconds: left to it


def _plain_text(raw: str) -> Incoming | None:
    """A private text message whose every field has exactly the type the Bot API gives it, read as
    `_read` reads it; None for anything else (aiogram's types read it, with their validation)."""
    try:
        data = jsontext.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.keys() != {"update_id", "message"}:
        return None
    update_id, message = data["update_id"], data["message"]
    if type(update_id) is not int or type(message) is not dict or not message.keys() <= _PLAIN_MESSAGE:
        return None
    chat, user, text, date = message.get("chat"), message.get("from"), message.get("text"), message.get("date")
    if (
        type(message.get("message_id")) is not int
        or type(date) is not int
        or not 0 <= date < _SECONDS_UNTIL
        or type(text) is not str
        or type(chat) is not dict
        or type(user) is not dict
        or not chat.keys() <= _PLAIN_CHAT
        or not user.keys() <= _PLAIN_USER
        or type(chat.get("id")) is not int
        or chat.get("type") != "private"
        or type(user.get("id")) is not int
        or type(user.get("is_bot")) is not bool
        or type(user.get("first_name")) is not str
        or any(type(part.get(key, "")) is not str for part in (chat, user) for key in ("last_name", "username"))
        or type(chat.get("first_name", "")) is not str
        or type(user.get("language_code", "")) is not str
    ):
        return None
    first, last = user["first_name"], user.get("last_name")
    base: dict[str, Any] = {
        "channel_message_id": str(message["message_id"]),
        "update_id": update_id,
        "language_code": user.get("language_code"),
        "display_name": " ".join(p for p in (first, last) if p) or None,
        "sent_at": datetime.fromtimestamp(date, UTC),
    }
    identity = Identity(CHANNEL, str(user["id"]), str(chat["id"]))
    return Incoming(identity, _text_inbound(text, {}, base))


def _text_inbound(text: str, context: dict[str, Any], base: dict[str, Any]) -> Inbound:
    if text.startswith("/"):
        head, _, args = text.partition(" ")
        command = head[1:].split("@", 1)[0].lower()
        return Inbound(kind="command", text=text, command=command, args=args, payload=context, **base)
    return Inbound(kind="text", text=text, payload=context, **base)


def _read(update: Update) -> Incoming | GroupChat | MembershipChange | None:
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
            return GroupChat(CHANNEL, str(chat.id), can_reply=True, callback_query_id=query.id)
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


def _read_in_part(raw: str, exc: ValidationError) -> Partly:
    problem = f"ValidationError at {field_paths(exc)}"
    try:
        data = json.loads(raw)
    except ValueError:
        return Partly(None, problem)
    if not isinstance(data, dict):
        return Partly(None, problem)
    readable = copy.deepcopy(data)
    update: Update | None = None
    for _ in range(PRUNINGS):
        try:
            update = Update.model_validate(readable)
            break
        except ValidationError as again:
            if not _set_aside(readable, again):
                break
    decoded = _read(update) if update is not None else None
    plain = _read_raw(data)
    if decoded is None:
        decoded = plain
    elif isinstance(decoded, Incoming) and isinstance(plain, Incoming) and decoded.inbound.kind == "other":
        # Its content was what could not be read (a photo without today's fields): say what it was.
        inbound = dataclasses.replace(decoded.inbound, kind=plain.inbound.kind, file_id=plain.inbound.file_id)
        decoded = Incoming(decoded.identity, inbound)
    if isinstance(decoded, Incoming):
        # The typed reading lost what the unreadable parts said of the message's context: read it raw.
        message = next((data[k] for k in MESSAGE_KEYS if isinstance(data.get(k), dict)), None)
        if message is not None and decoded.inbound.kind != "edit":
            extra = {k: v for k, v in _context(message).items() if k not in decoded.inbound.payload}
            if extra:
                payload = {**decoded.inbound.payload, **extra}
                decoded = Incoming(decoded.identity, dataclasses.replace(decoded.inbound, payload=payload))
    return Partly(decoded, problem)


def _set_aside(data: dict[str, Any], exc: ValidationError) -> bool:
    """Remove the innermost existing part on the path of the first error; False when nothing is left to remove."""
    loc = exc.errors(include_url=False, include_context=False, include_input=False)[0]["loc"]
    parent: Any = None
    key: Any = None
    here: Any = data
    for step in loc:
        if isinstance(here, dict) and isinstance(step, str) and step in here:
            parent, key, here = here, step, here[step]
        elif isinstance(here, list) and isinstance(step, int) and 0 <= step < len(here):
            parent, key, here = here, step, here[step]
        elif isinstance(here, (dict, list)) and isinstance(step, str):
            continue  # a union member's name in the path, not a key of the JSON
        else:
            break
    if parent is None or (parent is data and key == "update_id"):
        return False
    del parent[key]
    return True


def _sender_and_chat(part: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    sender, chat = part.get("from"), part.get("chat")
    if isinstance(sender, dict) and isinstance(sender.get("id"), int):
        if chat is None:
            chat = sender
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return sender, chat
    return None


def _read_raw(data: dict[str, Any]) -> Incoming | GroupChat | None:
    """The last resort for an update whose message itself did not validate: chat, sender, and text or kind."""
    update_id = data.get("update_id") if isinstance(data.get("update_id"), int) else None
    query = data.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        chat_part = message.get("chat") if isinstance(message, dict) else None
        found = _sender_and_chat({"from": query.get("from"), "chat": chat_part})
        if found is None:
            return None
        sender, chat = found
        if chat.get("type", "private") != "private":
            return GroupChat(CHANNEL, str(chat["id"]), can_reply=True, callback_query_id=str(query.get("id", "")))
        inbound = Inbound(
            kind="button",
            data=query["data"] if isinstance(query.get("data"), str) else "",
            update_id=update_id,
            display_name=_name_of(sender),
            payload={"callback_query_id": str(query.get("id", ""))},
        )
        return Incoming(Identity(CHANNEL, str(sender["id"]), str(chat["id"])), inbound)
    for key in MESSAGE_KEYS:
        message = data.get(key)
        if not isinstance(message, dict):
            continue
        found = _sender_and_chat(message)
        if found is None:
            return None
        sender, chat = found
        if chat.get("type") != "private":
            return GroupChat(CHANNEL, str(chat["id"]), can_reply=True)
        text = message.get("text") if isinstance(message.get("text"), str) else None
        caption = message.get("caption") if isinstance(message.get("caption"), str) else None
        kind = next((k for k in (*MEDIA_KINDS, "location", "contact") if k in message), "other")
        if key == "edited_message":
            kind = "edit"
        elif text is not None:
            kind = "command" if text.startswith("/") else "text"
        command = text[1:].partition(" ")[0].split("@", 1)[0].lower() if kind == "command" and text else None
        media = message.get(kind)
        item = media[-1] if isinstance(media, list) and media else media
        file_id = item.get("file_id") if isinstance(item, dict) and isinstance(item.get("file_id"), str) else None
        inbound = Inbound(
            kind="document" if kind == "animation" else kind,
            text=text if text is not None else caption,
            file_id=file_id if kind in MEDIA_KINDS else None,
            command=command,
            args=text.partition(" ")[2] if command is not None and text else "",
            payload=_context(message),
            channel_message_id=str(message.get("message_id", ""))[:32] or None,
            update_id=update_id,
            language_code=sender.get("language_code") if isinstance(sender.get("language_code"), str) else None,
            display_name=_name_of(sender),
        )
        return Incoming(Identity(CHANNEL, str(sender["id"]), str(chat["id"])), inbound)
    return None


def _part(update: dict[str, Any], key: str) -> dict[str, Any]:
    part = update[key]
    if not isinstance(part, dict):
        raise Malformed(key)
    return part


def _id_of(part: dict[str, Any], key: str) -> str:
    found = part.get(key)
    if not isinstance(found, dict) or not isinstance(found.get("id"), (int, str)) or isinstance(found["id"], bool):
        raise Malformed(key)
    return str(found["id"])


def chat_of(update: Any) -> str:
    """The chat an update belongs to, for ordering turns; read from the raw JSON.

    Raises `Malformed` when the body is not an update (no integer update_id) or a part it names
    has the wrong shape. An update of a kind we do not know belongs to no chat ("0").
    """
    if (
        not isinstance(update, dict)
        or not isinstance(update.get("update_id"), int)
        or isinstance(update["update_id"], bool)
    ):
        raise Malformed("update_id")
    for key in ("message", "edited_message", "channel_post", "my_chat_member"):
        if key in update:
            return _id_of(_part(update, key), "chat")
    if "callback_query" in update:
        query = _part(update, "callback_query")
        message = query.get("message")
        if message is not None:
            if not isinstance(message, dict):
                raise Malformed("callback_query.message")
            return _id_of(message, "chat")
        return _id_of(query, "from")
    for key, part in update.items():  # a kind of update we do not handle: its chat, if it names one
        if key != "update_id" and isinstance(part, dict):
            for holder in ("chat", "from", "user"):
                found = part.get(holder)
                if isinstance(found, dict) and isinstance(found.get("id"), int):
                    return str(found["id"])
    return "0"


def as_stored(update: dict[str, Any]) -> str:
    """An update as the inbox keeps it: JSON, with any lone surrogate (which no database stores) replaced."""
    return jsontext.dumps(update)  # a lone surrogate is written as U+FFFD


def _markup(rows: list[list[dict[str, str]]] | None) -> dict[str, Any] | None:
    if not rows:
        return None
    return {"inline_keyboard": [[{"text": b["text"], "callback_data": b["data"]} for b in row] for row in rows]}


class TelegramSender:
    """Turns outbox rows into Bot API calls and aiogram's errors into delivery outcomes."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, method: str, chat_id: str, payload: dict[str, Any], *, followed: bool = False) -> Sent:
        try:
            if method == "sendMessage":
                text, markup = payload["text"], _markup(payload.get("buttons"))
                if isinstance(self.bot.session, JsonSession):
                    sent = await self.bot.session.send_text(self.bot, int(chat_id), text, markup)
                else:
                    sent = await self.bot(SendText(chat_id=int(chat_id), text=text, reply_markup=markup))
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
        except TelegramMigrateToChat as exc:
            if followed:  # the new chat moved again: give up at once rather than chase it
                raise Permanent(exc.message) from exc
            # The group became a supergroup under a new id: the call goes there, once.
            return await self.send(method, str(exc.migrate_to_chat_id), payload, followed=True)
        except TelegramForbiddenError as exc:
            if any(words in exc.message for words in NEVER_STARTED):
                raise Permanent(exc.message) from exc  # never started the bot: nothing to unblock
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


def file_fetcher(bot: Bot) -> Fetcher:
    """A person's file through the Bot API (getFile, then the download), with the bot's token kept inside."""

    async def fetch(file_id: str, payload: dict[str, Any], most: int) -> Fetched:
        try:
            info = await bot.get_file(file_id)
            if (info.file_size or 0) > most:
                raise TooBig(file_id)
            if not info.file_path:
                raise Gone(file_id)
            data = await bot.download_file(info.file_path)
        except TelegramBadRequest as exc:
            if "too big" in exc.message:
                raise TooBig(file_id) from exc
            raise Gone(file_id) from exc  # an id Telegram no longer knows
        except ClientResponseError as exc:
            if exc.status in (400, 404):
                raise Gone(file_id) from exc
            raise Unreachable(f"HTTP {exc.status}") from exc
        except (TelegramAPIError, ClientError, OSError, TimeoutError) as exc:
            raise Unreachable(type(exc).__name__) from exc
        if data is None:
            raise Gone(file_id)
        content = data.read(most + 1)
        if len(content) > most:
            raise TooBig(file_id)
        return Fetched(content, None, None)

    return fetch


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
        batch = [(int(update["update_id"]), self._chat(update), as_stored(update)) for update in updates]
        stored = await self.store(batch)  # committed before the offset moves past these updates
        self.offset = max(update_id for update_id, _, _ in batch) + 1
        for _, inbox_id in stored:
            self.submit(inbox_id)
        return len(updates)

    @staticmethod
    def _chat(update: dict[str, Any]) -> str:
        try:
            return chat_of(update)
        except Malformed:  # stored all the same, and recorded as unreadable when its turn runs
            return "0"

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
