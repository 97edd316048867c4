"""Signing in and out, the interface language, and the landing page for each role."""

from __future__ import annotations

import math
import secrets
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from bot.i18n import CONSOLE_LOCALES
from console import audit, auth
from console.access import Permission
from console.addresses import client_address
from console.web import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginRequired,
    SignedIn,
    back,
    console_of,
    page,
    signed_in,
)
from db.staff import StaffUser

router = APIRouter()
CHOSEN_COOKIE = "hw_login_lang"  # a language chosen on the sign-in page, until the sign-in


def _local(path: str) -> str:
    """Only paths on this site are followed after sign-in."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


@router.get("/")
async def home(request: Request) -> Response:
    staff = await signed_in(request)
    if staff is None:
        raise LoginRequired
    if staff.may(Permission.INBOX):
        return back("/inbox")
    return back("/youth" if staff.may(Permission.YOUTH) else "/dashboard")


@router.get("/login")
async def login_form(request: Request, next: str = "/", lang: str = "") -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response: Response = page(request, None, "login.html", login_token=token, next=_local(next), error=None)
    secure = request.url.scheme == "https"
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=3600)
    if lang in CONSOLE_LOCALES:
        response = back(f"/login?next={quote(_local(next))}")
        response.set_cookie(LANG_COOKIE, lang, httponly=True, samesite="strict", secure=secure, max_age=31536000)
        # Chosen for this sign-in: it becomes the account's language once signed in.
        response.set_cookie(CHOSEN_COOKIE, lang, httponly=True, samesite="strict", secure=secure, max_age=3600)
    return response


@router.post("/login")
async def login(
    request: Request,
    name: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/"),
) -> Response:
    console = console_of(request)
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not auth.same(cookie, csrf):
        return page(request, None, "error.html", status=403, code=403)
    address = client_address(request, console.homeward.settings.trusted_proxies)
    now = console.now()
    token = None
    async with console.homeward.db.transaction() as session:
        wait = await auth.waiting(session, name, address, now)
        if wait > 0:
            audit.record(
                session,
                actor=f"staff:{name.strip()[:60]}",
                action="login.throttled",
                now=now,
                detail={"address": address, "wait": math.ceil(wait)},
            )
        else:
            chosen = request.cookies.get(CHOSEN_COOKIE)
            token = await auth.sign_in(
                session,
                name,
                password,
                address,
                now,
                console.policy,
                locale=chosen if chosen in CONSOLE_LOCALES else None,
            )
            audit.record(
                session,
                actor=f"staff:{name.strip()[:60]}",
                action="login" if token else "login.failed",
                now=now,
                detail={"address": address},
            )
    if token is None:
        seconds = math.ceil(wait)
        response: Response = page(
            request,
            None,
            "login.html",
            status=429 if seconds else 401,
            login_token=cookie,
            next=_local(next),
            error="throttled" if seconds else "wrong",
            seconds=seconds,
        )
        if seconds:
            response.headers["retry-after"] = str(seconds)
        return response
    response = back(_local(next))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=int(console.policy.absolute.total_seconds()),
    )
    response.delete_cookie(LOGIN_COOKIE)
    response.delete_cookie(CHOSEN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, staff: SignedIn) -> Response:
    console = console_of(request)
    async with console.homeward.db.transaction() as session:
        await auth.sign_out(session, staff)
        audit.record(session, actor=staff.actor, action="logout", now=console.now())
    response = back("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language")
async def language(request: Request, staff: SignedIn, locale: str = Form(""), next: str = Form("/")) -> Response:
    if locale in CONSOLE_LOCALES:
        async with console_of(request).homeward.db.transaction() as session:
            user = await session.get(StaffUser, staff.id)
            if user is not None:
                user.locale = locale
    return back(_local(next))
