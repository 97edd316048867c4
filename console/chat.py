"""The web chat page's side of a conversation: who the browser is, what it sent, what it should show.

A browser is identified by a random visitor id in an HttpOnly cookie. Only a keyed hash of it
(`webchat.visitor_hash`) is the channel identity the engine sees and the database stores. What
the person types is stored in the inbox as a `web` event and run as a turn, exactly like a
Telegram update. The page shows the transcript as soon as each turn commits; a person without a
transcript sees what was delivered to them, held briefly by the web channel.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from bot import media
from bot.app import Homeward
from bot.channels import webchat
from bot.channels.files import file_signature
from bot.engine import pseudonym
from bot.inbox import store_updates
from console import ui
from db.models import AuditEntry, Beneficiary, ChatFile, Conversation, LinkedIdentity, Message, OutboxItem

COOKIE = "hw_visitor"


def page_token(secret: bytes, visitor: str) -> str:
    """The token the page sends with each message: proves the request comes from our own page."""
    return hmac.new(secret, f"chat:{visitor}".encode(), hashlib.sha256).hexdigest()[:40]


def valid_visitor(visitor: str | None) -> bool:
    return (
        bool(visitor) and 16 <= len(visitor or "") <= 64 and (visitor or "").replace("-", "").replace("_", "").isalnum()
    )


def _keys(app: Homeward) -> list[bytes]:
    return [app.services.pseudonym_key, *app.services.previous_keys]


async def identity(app: Homeward, visitor: str) -> str:
    """The channel identity of a browser: its visitor hash under the current key.

    A person first seen under an earlier key (a key rotation), or before visitor ids were hashed,
    is found through those and re-keyed at once, so their conversation goes on.
    """
    keys = _keys(app)
    current = webchat.visitor_hash(keys[0], visitor)
    if current in app.webchat.settled:
        app.webchat.settle(current)
        return current
    wanted = pseudonym(keys[0], webchat.CHANNEL, current)
    candidates = {wanted}
    for old in keys:
        candidates.add(pseudonym(old, webchat.CHANNEL, visitor))  # before visitor ids were hashed
        for key in keys:
            candidates.add(pseudonym(key, webchat.CHANNEL, webchat.visitor_hash(old, visitor)))
    async with app.db.sessions() as session:
        found = (
            await session.execute(
                select(Beneficiary.id, Beneficiary.channel_ref).where(Beneficiary.channel_ref.in_(candidates))
            )
        ).all()
    if not found or any(ref == wanted for _, ref in found):
        app.webchat.settle(current)  # a person begun later is made under the current key
        return current
    async with app.db.transaction() as session:
        person = await session.get(Beneficiary, found[0][0])
        if person is not None:
            person.channel_ref = wanted
            if person.chat_id is not None:
                person.channel_user_id = person.chat_id = current
    app.webchat.settle(current)
    return current


async def submit(
    app: Homeward,
    visitor: str,
    client_id: str,
    *,
    text: str | None = None,
    data: str | None = None,
    file: dict[str, str] | None = None,
    language_code: str | None = None,
) -> None:
    """Store what the person did as an inbox row (idempotent on the browser's id), then run its turn.

    `visitor` is the browser's identity (`identity`), never the cookie's value.
    """
    update_id, raw = webchat.event(
        visitor, client_id, text=text, data=data, file=file, language_code=language_code, now=app.clock.now()
    )
    chat_key = app.engine.chat_key(webchat.CHANNEL, visitor)
    for _, inbox_id in await store_updates(app.db, app.clock, webchat.CHANNEL, [(update_id, chat_key, raw)]):
        app.turns.submit(inbox_id)


@dataclass(frozen=True)
class Line:
    """One bubble on the page."""

    id: str
    mine: bool
    text: str
    buttons: list[list[dict[str, str]]] = field(default_factory=list)
    ref: str | None = None  # the browser's own id of a message it sent
    file: dict[str, str] | None = None  # a file to download once: its name and link
    chose: str | None = None  # a button the person pressed (no bubble: the page marks the button)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mine": self.mine,
            "text": self.text,
            "buttons": self.buttons,
            "ref": self.ref,
            "file": self.file,
            "chose": self.chose,
        }


async def person_of(app: Homeward, visitor: str) -> Beneficiary | None:
    ref = pseudonym(app.services.pseudonym_key, webchat.CHANNEL, visitor)
    async with app.db.sessions() as session:
        return (await session.execute(select(Beneficiary).where(Beneficiary.channel_ref == ref))).scalar_one_or_none()


def _held_lines(held: list[webchat.Delivered]) -> list[Line]:
    return [Line(f"d{d.seq}", False, d.text, d.buttons) for d in held]


async def lines_after(app: Homeward, visitor: str, after: int) -> tuple[list[Line], int]:
    """New bubbles since message `after`, and the new cursor.

    From the transcript, in order, as soon as the turn that wrote them committed (a file waits for
    its delivery, which makes its link). For a person without a transcript (consent declined, data
    erased), what delivery handed over since the last look, and the cursor goes back to 0: a
    transcript begun later starts from its first line.
    """
    ref = pseudonym(app.services.pseudonym_key, webchat.CHANNEL, visitor)
    now = app.clock.now()
    async with app.db.sessions() as session:
        found = (
            await session.execute(
                select(Beneficiary.consent, Conversation.id)
                .join(Conversation, Conversation.beneficiary_id == Beneficiary.id)
                .where(Beneficiary.channel_ref == ref)
            )
        ).first()
        if found is None or found[0] in ("declined", "erased"):
            return _held_lines(app.webchat.collect(visitor)), 0
        # Each line with the send of it still to come, if any, in one statement.
        rows = (
            await session.execute(
                select(
                    Message.id,
                    Message.direction,
                    Message.kind,
                    Message.text,
                    Message.payload,
                    Message.status,
                    Message.channel_message_id,
                    OutboxItem.id,
                )
                .outerjoin(
                    OutboxItem,
                    (OutboxItem.message_id == Message.id)
                    & (Message.direction == "out")
                    & Message.status.in_(("queued", "sending"))
                    & OutboxItem.status.in_(("pending", "sending"))
                    & (OutboxItem.chat_id == visitor),
                )
                .where(Message.conversation_id == found[1], Message.id > after)
                .order_by(Message.id)
            )
        ).all()
        messages = list({row[0]: row[:7] for row in rows}.values())  # a line sent in parts has a row per part
        unsent = []  # shown below before delivery: remembered, in case an erasure unlinks them from their lines
        for _, direction, kind, _, _, status, _, send in rows:
            if direction == "out" and status in ("queued", "sending"):
                if kind == "document":
                    break
                if send is not None:
                    unsent.append(send)
        if unsent:
            app.webchat.shown(visitor, unsent)
        files = [
            int(cmid.removeprefix(webchat.FILE_PREFIX))
            for _, direction, kind, _, _, status, cmid in messages
            if direction == "out" and kind == "document" and cmid and cmid.startswith(webchat.FILE_PREFIX)
        ]
        ready: dict[int, str] = {}
        if files:
            ready = {
                fid: name
                for fid, name in (
                    await session.execute(
                        select(ChatFile.id, ChatFile.file_name).where(
                            ChatFile.id.in_(files), ChatFile.chat_id == visitor, ChatFile.expires_at > now
                        )
                    )
                ).all()
            }
    # Delivered without a transcript line (the turn in which consent was given, or one still in flight
    # when the transcript was erased): shown first, once.
    lines: list[Line] = _held_lines(app.webchat.collect(visitor))
    cursor = after
    for mid, direction, kind, text, payload, status, cmid in messages:
        if direction == "out" and kind == "document" and status in ("queued", "sending"):
            break  # its link is made when it is delivered
        cursor = mid
        if direction == "in" and kind == "button":
            # The line reads what was tapped; the button's data, which the page matches, is in the payload.
            lines.append(Line(str(mid), True, "", chose=(payload or {}).get("data") or text))
            continue
        buttons = list((payload or {}).get("buttons") or []) if direction == "out" else []
        attached = None
        if kind == "document" and cmid and cmid.startswith(webchat.FILE_PREFIX):
            fid = int(cmid.removeprefix(webchat.FILE_PREFIX))
            key = app.services.pseudonym_key
            attached = (
                {"name": ready[fid], "url": f"/chat/files/{fid}/{file_signature(key, fid, visitor)}"}
                if fid in ready
                else {"name": "", "url": ""}  # taken or expired
            )
        if direction == "in" and kind in webchat.UPLOAD_KINDS and not text:
            text = "📎 " + str((payload or {}).get("file_name") or "")  # what the person sent: its name
        lines.append(
            Line(str(mid), direction == "in", text or "", buttons, cmid if direction == "in" else None, attached)
        )
    return lines, cursor


@dataclass(frozen=True)
class Upload:
    """A photo or document sent from the page, or why it was refused (`error`, with words for the person)."""

    error: str | None = None
    message: str = ""


async def upload(
    app: Homeward, visitor: str, client_id: str, content: bytes | None, name: str, declared: str | None
) -> Upload:
    """Keep a photo or document the person sent (checked on its bytes), then run its turn like a message.

    `content` is None when it was larger than the limit. Refusals are worded for the person, in
    their language: too big, a type that is not accepted, or no conversation yet to keep it in.
    """
    person = await person_of(app, visitor)
    # Before a language is chosen the page speaks both, and so does every refusal here.
    t = ui.interface(app.translations, person.locale if person is not None else None)
    if person is None or person.consent != "given":
        return Upload("not_yet", t.gettext("Please answer the first questions before you send a file."))
    limit = app.settings.webchat_upload_max_bytes
    if content is None:
        return Upload(
            "too_big",
            t.gettext(
                "This file is too large: at most {limit} MB. Please send a smaller photo or PDF.",
                limit=limit // 1_000_000,
            ),
        )
    media_type = media.sniff(content, declared)
    if media_type not in media.UPLOAD_TYPES:
        return Upload(
            "wrong_type",
            t.gettext("This kind of file cannot be sent here. Please send a photo (JPEG, PNG or WebP) or a PDF."),
        )
    async with app.db.sessions() as session:
        conversation_id = (
            await session.execute(select(Conversation.id).where(Conversation.beneficiary_id == person.id))
        ).scalar_one()
    ref = f"web:{secrets.token_urlsafe(18)}"
    kind = "photo" if media_type.startswith("image/") else "document"
    await app.media.upload(conversation_id, ref, content, media_type, name or None)
    await submit(app, visitor, client_id, file={"ref": ref, "kind": kind, "name": name[:128], "type": media_type})
    return Upload()


async def forget_expired_files(app: Homeward) -> None:
    """Files whose links expired unused are deleted (also whenever a new one is kept)."""
    async with app.db.transaction() as session:
        await session.execute(delete(ChatFile).where(ChatFile.expires_at <= app.clock.now()))


async def take_file(app: Homeward, visitor: str, file_id: int, signature: str) -> tuple[str, bytes] | None:
    """A file's name and content, once: the link stops working when taken or expired. Audited."""
    if not hmac.compare_digest(file_signature(app.services.pseudonym_key, file_id, visitor), signature):
        return None
    return await _take(app, file_id, visitor, pseudonym(app.services.pseudonym_key, webchat.CHANNEL, visitor))


async def take_app_file(app: Homeward, file_id: int, signature: str) -> tuple[str, bytes] | None:
    """A file sent in an app as a link (Viber), once, to whoever has the link: its signature names its owner."""
    async with app.db.sessions() as session:
        owner = (await session.execute(select(ChatFile.chat_id).where(ChatFile.id == file_id))).scalar_one_or_none()
    channel, _, chat_id = (owner or "").partition(":")
    if owner is None or not chat_id:
        return None  # gone, or a web chat file (those need the visitor's cookie)
    if not hmac.compare_digest(file_signature(app.services.pseudonym_key, file_id, owner), signature):
        return None
    return await _take(app, file_id, owner, pseudonym(app.services.pseudonym_key, channel, chat_id))


async def _take(app: Homeward, file_id: int, owner: str, ref: str) -> tuple[str, bytes] | None:
    now = app.clock.now()
    async with app.db.transaction() as session:
        row = (
            await session.execute(
                select(ChatFile).where(ChatFile.id == file_id, ChatFile.chat_id == owner, ChatFile.expires_at > now)
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        name, content = row.file_name, str(row.content.get("text", ""))
        taken = await session.execute(delete(ChatFile).where(ChatFile.id == file_id, ChatFile.chat_id == owner))
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        person = (
            await session.execute(select(Beneficiary.id).where(Beneficiary.channel_ref == ref))
        ).scalar_one_or_none()
        if person is None:  # an app linked to a person who started elsewhere
            person = (
                await session.execute(select(LinkedIdentity.beneficiary_id).where(LinkedIdentity.channel_ref == ref))
            ).scalar_one_or_none()
        session.add(
            AuditEntry(
                at=now,
                actor=f"person:{person}" if person is not None else "person",
                action="mydata.download",
                target=f"beneficiary:{person}" if person is not None else None,
                detail={"file": name},
            )
        )
    return name, content.encode("utf-8")
