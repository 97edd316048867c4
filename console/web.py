"""The console's FastAPI application: built from a running `Homeward`, nothing read from elsewhere.

This module holds the request plumbing every route shares: who is signed in, the role check,
the CSRF check on every POST, security headers, and rendering pages in the right language.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.app import Homeward
from bot.security_headers import SecurityHeaders
from console import auth, live, ui
from console.access import Permission, Staff

SESSION_COOKIE = "hw_session"
LANG_COOKIE = "hw_lang"
LOGIN_COOKIE = "hw_login"


@dataclass
class Console:
    """What routes need, built once per application."""

    homeward: Homeward
    env: Environment
    policy: auth.SessionPolicy
    secret: bytes
    stream_seconds: float  # how long a live-update stream lasts before the browser reconnects
    feed: live.Feed  # one look at what changed for every open page

    def now(self) -> datetime:
        return self.homeward.clock.now()


class LoginRequired(Exception):
    pass


class Forbidden(Exception):
    pass


class NotFound(Exception):
    pass


def console_of(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


async def signed_in(request: Request) -> Staff | None:
    console = console_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    async with console.homeward.db.transaction() as session:
        return await auth.current(session, token, console.now(), console.policy)


async def _csrf_given(request: Request) -> str | None:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf")
        return value if isinstance(value, str) else None
    return None


def allowed(permission: Permission) -> Callable[[Request], Awaitable[Staff]]:
    """A dependency: the signed-in staff member whose role has `permission`; POSTs need the CSRF token."""

    async def dependency(request: Request) -> Staff:
        staff = await signed_in(request)
        if staff is None:
            raise LoginRequired
        if request.method not in ("GET", "HEAD") and not auth.same(staff.csrf, await _csrf_given(request)):
            raise Forbidden
        if not staff.may(permission):
            raise Forbidden
        return staff

    return dependency


SignedIn = Annotated[Staff, Depends(allowed(Permission.DASHBOARD))]
InboxReader = Annotated[Staff, Depends(allowed(Permission.INBOX))]
TranscriptReader = Annotated[Staff, Depends(allowed(Permission.TRANSCRIPT))]
CaseActor = Annotated[Staff, Depends(allowed(Permission.ACT))]
ConversationExporter = Annotated[Staff, Depends(allowed(Permission.EXPORT_CONVERSATION))]
Exporter = Annotated[Staff, Depends(allowed(Permission.EXPORT_ALL))]
Auditor = Annotated[Staff, Depends(allowed(Permission.AUDIT))]
CannedManager = Annotated[Staff, Depends(allowed(Permission.CANNED_MANAGE))]
FollowupReader = Annotated[Staff, Depends(allowed(Permission.FOLLOWUPS))]
YouthCoordinator = Annotated[Staff, Depends(allowed(Permission.YOUTH))]
Broadcaster = Annotated[Staff, Depends(allowed(Permission.BROADCAST))]
KnowledgeReviewer = Annotated[Staff, Depends(allowed(Permission.KNOWLEDGE))]


def translator(request: Request, staff: Staff | None) -> ui.Interface:
    locale = staff.locale if staff is not None else request.cookies.get(LANG_COOKIE)
    return ui.interface(console_of(request).homeward.translations, locale)


def page(request: Request, staff: Staff | None, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    console = console_of(request)
    t = translator(request, staff)
    html = ui.render(
        console.env,
        template,
        t,
        place=ui.places(console.homeward.services.extras.get("municipalities"), t),
        staff=staff,
        csrf=staff.csrf if staff else "",
        Permission=Permission,
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def back(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.method in ("GET", "HEAD") and request.headers.get("accept", "") != "text/event-stream":
            return back(f"/login?next={quote(request.url.path)}")
        return Response(status_code=401)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        staff = await signed_in(request)
        return page(request, staff, "error.html", status=403, code=403)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        staff = await signed_in(request)
        return page(request, staff, "error.html", status=404, code=404)


def create_console(homeward: Homeward, *, stream_seconds: float = 300.0) -> FastAPI:
    from console.api import create_api
    from console.routes import MODULES

    settings = homeward.settings
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = Console(
        homeward=homeward,
        env=ui.environment(),
        policy=auth.SessionPolicy(
            idle=timedelta(minutes=settings.console_session_idle_minutes),
            absolute=timedelta(hours=settings.console_session_max_hours),
        ),
        secret=settings.resolved_secret_key().encode(),
        stream_seconds=stream_seconds,
        feed=live.Feed(homeward.db, homeward.change_listeners),
    )
    app.mount("/api/v1", create_api(homeward))
    app.mount("/static", StaticFiles(directory=ui.STATIC), name="static")
    for module in MODULES:
        app.include_router(module.router)
    _errors(app)
    app.add_middleware(SecurityHeaders)
    return app


def mount_console(web: Starlette, homeward: Homeward) -> None:
    """Serve the console and the chat page from the process's web server, after its other routes."""
    web.router.routes.append(Mount("/", app=create_console(homeward)))
