"""Security headers on every response of the process's web server, errors included.

No inline script can run, no framing, no sniffing, nothing cached; over HTTPS also
Strict-Transport-Security. A request arrived over HTTPS when the server saw TLS itself or a
proxy in front says so in `X-Forwarded-Proto`: believing that header from anyone is safe here,
because a browser ignores Strict-Transport-Security received over plain HTTP (RFC 6797, 8.1).

An exception that escapes a route becomes a plain 500 with these headers, and is logged with its
type and where it was raised only: an exception's message can hold what a person typed or a
URL with the bot token, so neither it nor the traceback's text reaches the log.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def over_https(scope: Scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-proto":
            return value.split(b",")[0].strip().lower() == b"https"
    return False


def raised_at(exc: BaseException) -> list[str]:
    """Where `exc` came from, innermost last: file, line and function of the last few frames, no text."""
    frames = traceback.extract_tb(exc.__traceback__)[-4:]
    return [f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames]


class SecurityHeaders:
    """ASGI middleware: the headers above on every response; an unhandled error becomes a 500 carrying them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [HSTS] if over_https(scope) else []
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name, value) for name, value in [*SECURITY_HEADERS, *extra] if name not in names
                ]
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception as exc:
            log.error(
                "request failed",
                extra={"method": scope.get("method"), "error": type(exc).__name__, "raised_at": raised_at(exc)},
            )
            if started:  # part of the answer is out: the connection is closed without the rest
                return
            await with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21")],
                }
            )
            await send({"type": "http.response.body", "body": b"Internal Server Error"})
