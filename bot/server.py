"""Running processes: the long-lived loops behind `homeward serve`, `homeward bot` and `homeward worker`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import logs, metrics
from bot.app import Homeward
from bot.channels import telegram, viber, whatsapp
from bot.config import Settings
from bot.inbox import InboxWriter
from bot.outgoing import Outgoing
from bot.security_headers import SecurityHeaders
from db import jsontext
from db.migrate import upgrade_async

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"
WHATSAPP_PATH = "/whatsapp/webhook"
VIBER_PATH = "/viber/webhook"
WEBHOOK_MAX_BODY = 1024 * 1024  # Telegram's updates and Meta's webhook bodies are a few kilobytes
YOUNG_OBJECTS = 100_000  # allocations between two collections of the youngest generation (Python's default: 700)


def settle_collector() -> None:
    """Tune Python's garbage collector for a long-running process, once start-up is done.

    What start-up built (modules, the knowledge-base index, catalogs, mappers) lives as long as
    the process: frozen, the collector no longer walks it on every full collection. The youngest
    generation is collected every 100,000 allocations instead of 700: a turn allocates thousands of
    short-lived objects, and at the default about a tenth of the CPU went to collections
    (bench/telegram_throughput). Reference counting still frees almost everything at once; what
    is in the young generation when it is collected is mostly what is still in use (requests,
    batches and sends in flight), walked at every collection. At 20,000 a WhatsApp run of the
    channel benchmark (2,000 replies, with their receipts) was collected 31 times, about 20 ms
    each, a tenth of its CPU; at 100,000, twice, about 90 ms each.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, max(older, 50), max(oldest, 100))


async def _capped_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to be longer than `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _answered() -> Response:
    """The empty JSON object a platform is answered with (built as bytes: no encoding per request)."""
    return Response(b"{}", media_type="application/json")


async def _stored(inbox: InboxWriter, events: list[tuple[int, str, str]]) -> None:
    """A request's events stored (most carry one, a receipt none) before it is answered."""
    if len(events) == 1:
        await inbox.store(*events[0])
    elif events:
        await asyncio.gather(*(inbox.store(event_id, chat, raw) for event_id, chat, raw in events))


def webhook_route(app: Homeward) -> Route:
    """POST /telegram/webhook: check the secret in constant time, store the update, answer 200, then process."""

    async def receive(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        if not telegram.secret_matches(app.settings.webhook_secret, given):
            return Response(status_code=401)
        body = await _capped_body(request, WEBHOOK_MAX_BODY)
        if body is None:
            return Response(status_code=413)
        try:
            raw: dict[str, Any] = jsontext.loads(body)
            chat = telegram.chat_of(raw)  # a body that is not an update (Malformed is a ValueError) gets 400
        except (ValueError, RecursionError):
            return Response(status_code=400)
        # Committed (with other requests' updates arriving meanwhile) before the answer; its turn runs after.
        await app.webhook_inbox.store(raw["update_id"], chat, telegram.as_stored(raw))
        return _answered()

    return Route(WEBHOOK_PATH, receive, methods=["POST"])


def whatsapp_routes(app: Homeward) -> list[Route]:
    """GET answers Meta's verification; POST checks the signature, stores messages and receipts, then 200."""
    settings = app.settings
    inbox = app.inboxes[whatsapp.CHANNEL]

    async def verify(request: Request) -> Response:
        challenge = whatsapp.handshake(dict(request.query_params), settings.whatsapp_verify_token)
        if challenge is None:
            return Response(status_code=403)
        return PlainTextResponse(challenge)

    async def receive(request: Request) -> Response:
        body = await request.body()
        if len(body) > WEBHOOK_MAX_BODY:
            return Response(status_code=413)
        if not whatsapp.signature_valid(settings.whatsapp_app_secret, body, request.headers.get("X-Hub-Signature-256")):
            return Response(status_code=401)
        try:
            events, found = whatsapp.split_webhook(jsontext.loads(body))
        except (ValueError, KeyError, TypeError, AttributeError):
            return Response(status_code=400)
        # Stored (messages) and recorded (receipts) before the answer; Meta retries what is not answered 200.
        await _stored(inbox, events)
        await app.receipts.record(found)
        return _answered()

    return [Route(WHATSAPP_PATH, verify, methods=["GET"]), Route(WHATSAPP_PATH, receive, methods=["POST"])]


def viber_route(app: Homeward) -> Route:
    """POST checks the signature, stores messages and (un)subscriptions, records receipts, then 200.

    `conversation_started` is answered with the welcome message in the response's body, as Viber asks.
    """
    settings = app.settings
    inbox = app.inboxes[viber.CHANNEL]

    async def receive(request: Request) -> Response:
        body = await _capped_body(request, WEBHOOK_MAX_BODY)
        if body is None:
            return Response(status_code=413)
        if not viber.signature_valid(settings.viber_token, body, request.headers.get("X-Viber-Content-Signature")):
            return Response(status_code=401)
        try:
            callback = viber.read_callback(jsontext.loads(body))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return Response(status_code=400)
        # Stored (events) and recorded (receipts) before the answer; Viber retries what is not answered 200.
        await _stored(inbox, callback.stored)
        if callback.receipt is not None:
            await app.viber_receipt(*callback.receipt)
        if callback.welcome is not None:
            return JSONResponse(app.viber_welcome(callback.language))
        return _answered()

    return Route(VIBER_PATH, receive, methods=["POST"])


def web_app(app: Homeward, *, webhook: bool, console: bool) -> Starlette:
    routes: list[Any] = metrics.routes(app)  # /healthz and /metrics on every process's port
    if webhook:
        routes.append(webhook_route(app))
    if whatsapp.CHANNEL in app.inboxes:
        routes.extend(whatsapp_routes(app))
    if viber.CHANNEL in app.inboxes:
        routes.append(viber_route(app))
    web = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])  # every response, errors included
    if console:
        from console.web import mount_console

        mount_console(web, app)
    return web


async def _serving(server: uvicorn.Server) -> None:
    """uvicorn's server; it exits the process when it cannot open its port, and this returns instead."""
    with contextlib.suppress(SystemExit):
        await server.serve()


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    *,
    console: bool,
    webhook: bool = False,
    intake: bool = True,
    outgoing: Outgoing | None = None,
) -> None:
    """Run until `stop` is set: migrations, then intake, delivery and (optionally) the web server.

    Given `outgoing`, the migrations are done and delivery is already running (`bot.boot`).
    """
    if outgoing is None:
        await upgrade_async(settings.database_url)
    app = Homeward(settings, outgoing=outgoing)
    await app.start(polling=intake and not webhook, delivery=True)
    try:  # whatever fails from here on (the webhook's registration, the port), every task stops cleanly
        settle_collector()
        if webhook and app.bot is not None:
            await app.bot.set_webhook(
                url=settings.webhook_url.rstrip("/") + WEBHOOK_PATH,  # type: ignore[union-attr]
                secret_token=settings.webhook_secret,
                allowed_updates=telegram.ALLOWED_UPDATES,
            )
        # Every process serves /healthz and /metrics; the console and the webhook only where asked.
        config = uvicorn.Config(
            web_app(app, webhook=webhook, console=console),
            host=settings.console_host,
            port=settings.console_port,
            log_level="warning",
            log_config=None,  # uvicorn's loggers keep no plain-text handlers: they go through bot.logs' JSON
            lifespan="off",
            proxy_headers=False,  # a proxy's X-Forwarded-For is believed only as configured (console.addresses)
            # open live-update streams must not hold a shutdown up
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        logs.route_all()  # libraries imported since start-up may have attached handlers of their own
        server_task = asyncio.create_task(_serving(server))
        # Said once the port is open (binding it can fail: taken by another program), not before.
        while not server.started and not server_task.done() and not stop.is_set():
            await asyncio.sleep(0.02)
        if server_task.done():
            server_task.result()  # an error of its own is raised as it is
            # uvicorn gave up on opening its socket and has logged why: most often another program holds the port
            log.error(
                "the web server could not start: the address may be in use by another program; "
                "HOMEWARD_CONSOLE_HOST and HOMEWARD_CONSOLE_PORT choose another",
                extra={"address": f"{settings.console_host}:{settings.console_port}"},
            )
            raise SystemExit(3)
        if server.started:  # not when asked to stop before the port was open
            log.info(
                "homeward running",
                extra={
                    "telegram": app.bot is not None,
                    "webhook": webhook,
                    "console": console,
                    "address": f"http://{settings.console_host}:{settings.console_port}",
                },
            )
        await stop.wait()
        server.should_exit = True
        await server_task
    finally:
        await app.stop()
