"""Media a person sent, served to caseworkers from what Homeward keeps (`bot.media`), every view audited.

The console never hands out an app's address or token: the bytes are kept encrypted by the bot's
media store (fetched when they arrived, or now, on this first opening, for an app whose files
last) and served from the console's own address. A file is served as the type its bytes were
found to be: photos, voice messages, audio and video inline (for the page's <img>, <audio> and
<video>), everything else as a download; HTML, SVG and other types that a browser would run
are never kept, so never served.

A photo, recording or video opened at its own address (a new tab) is shown by the browser's own viewer, a
page the browser makes around the file and styles inline. The console's policy forbids inline styles, so
the viewer would be left unstyled and the browser would report the refusals; a file shown inline carries
its own policy instead (`VIEWER_POLICY`), which allows those styles and nothing else: no script, no
plugin, no connection, no form, and the viewer runs sandboxed. The file itself is never a document: its
type is an image, audio or video type and the browser may not guess another (`nosniff`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.media import MediaStore, download_name, line_of, shown_as
from console import audit
from console.access import Staff
from db.models import MediaFile, Message


class Unavailable(Exception):
    """Nothing to serve: no file, an app whose files are not fetched, or a file expired, refused or unreachable."""


VIEWER_POLICY = (
    "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)


@dataclass(frozen=True)
class Served:
    content: bytes
    filename: str
    media_type: str
    inline: bool

    @property
    def headers(self) -> dict[str, str]:
        how = "inline" if self.inline else "attachment"
        headers = {
            "content-disposition": f'{how}; filename="{self.filename}"',
            "x-content-type-options": "nosniff",
            "cache-control": "no-store, private",
        }
        if self.inline and self.media_type.startswith(("image/", "audio/", "video/")):
            headers["content-security-policy"] = VIEWER_POLICY
        return headers


async def kept_or_fetched(store: MediaStore, message: Message, channel: str) -> MediaFile | None:
    """The kept file of a line not kept yet (or whose fetch failed before): fetched now, if its app's files are."""
    if message.direction != "in" or not message.file_id:
        return None
    return await store.keep(line_of(message, channel))


def served(found: MediaFile | None, message: Message) -> Served:
    if found is None or found.status != "stored" or found.content is None:
        raise Unavailable(message.id)
    media_type = found.media_type or "application/octet-stream"
    inline = shown_as(media_type) != "file"
    return Served(
        found.content,
        download_name(found, message.kind, message.id),
        media_type if media_type.startswith(("image/", "audio/", "video/", "application/")) else "text/plain",
        inline,
    )


def record(session: AsyncSession, staff: Staff, conversation_id: int, message: Message, now: datetime) -> None:
    audit.record(
        session,
        actor=staff.actor,
        action="media.view",
        now=now,
        target=f"conversation:{conversation_id}",
        detail={"message": message.id, "kind": message.kind},
    )
