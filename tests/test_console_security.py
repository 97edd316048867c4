"""The console's data care: escaping, CSRF, roles, municipalities, sign-in slowing, session expiry, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.app import Homeward
from bot.clock import FixedClock
from bot.config import Settings
from db.models import AuditEntry, Conversation
from db.staff import StaffUser
from tests.console_support import add_staff, client, csrf, person_with_transcript, sign_in

SCRIPT = "<script>document.title='pwned'</script>"
IMAGE = "<img src=x onerror=\"document.title='pwned'\">"


async def audit_actions(app: Homeward) -> list[tuple[str, str, str | None]]:
    async with app.db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.target).order_by(AuditEntry.id)
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def test_what_a_returnee_typed_is_shown_as_text(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=[SCRIPT, IMAGE], name=IMAGE)
    await add_staff(homeward, "amra", "caseworker")
    async with client(homeward) as http:
        await sign_in(http, "amra")
        for page in (f"/conversations/{cid}", "/inbox?view=open", "/search?q=document+title"):
            html = (await http.get(page)).text
            assert "<script>document" not in html and "<img src=x" not in html, page
            assert "&lt;script&gt;" in html or "&lt;img src=x" in html, page
            response = await http.get(page)
            assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_a_post_without_the_csrf_token_is_refused(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=["ndihmë"])
    await add_staff(homeward, "amra", "caseworker")
    async with client(homeward) as http:
        await sign_in(http, "amra")
        assert (await http.post(f"/conversations/{cid}/take")).status_code == 403
        assert (await http.post(f"/conversations/{cid}/take", data={"csrf": "forged"})).status_code == 403
        async with homeward.db.sessions() as session:
            assert (await session.get(Conversation, cid)).mode == "bot"  # type: ignore[union-attr]
        token = await csrf(http)
        assert (await http.post(f"/conversations/{cid}/take", data={"csrf": token})).status_code == 303
        async with homeward.db.sessions() as session:
            assert (await session.get(Conversation, cid)).mode == "human"  # type: ignore[union-attr]
        # The sign-in form has its own token: a forged sign-in post is refused too.
        assert (await http.post("/login", data={"name": "amra", "password": "x", "csrf": "nope"})).status_code == 403


async def test_a_viewer_sees_aggregates_and_never_a_transcript(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=["my secret story"])
    await add_staff(homeward, "vera", "viewer")
    async with client(homeward) as http:
        await sign_in(http, "vera")
        dashboard = await http.get("/dashboard")
        assert dashboard.status_code == 200 and 'id="people">1<' in dashboard.text
        for url in (
            f"/conversations/{cid}",
            f"/conversations/{cid}/export?format=csv",
            "/search?q=secret",
            "/inbox",
            f"/conversations/{cid}/events",
        ):
            response = await http.get(url)
            assert response.status_code == 403 and "secret story" not in response.text, url
    assert not [a for a in await audit_actions(homeward) if a[1] == "transcript.read"]


async def test_a_caseworker_limited_to_a_municipality_cannot_open_another(homeward: Homeward) -> None:
    prizren = await person_with_transcript(
        homeward, municipality="Prizren", texts=["lična karta Prizren"], name="Arta", chat_id="901"
    )
    gjakova = await person_with_transcript(
        homeward,
        municipality="Gjakovë",
        texts=["lična karta Gjakovë"],
        name="Besa",
        chat_id="902",
        needs_human=True,
    )
    await add_staff(homeward, "amra", "caseworker", ("Prizren",))
    async with client(homeward) as http:
        await sign_in(http, "amra")
        assert (await http.get(f"/conversations/{prizren}")).status_code == 200
        assert (await http.get(f"/conversations/{gjakova}")).status_code == 404
        assert (await http.get(f"/conversations/{gjakova}/export?format=csv")).status_code == 404
        token = await csrf(http)
        assert (await http.post(f"/conversations/{gjakova}/take", data={"csrf": token})).status_code == 404
        inbox = (await http.get("/inbox?view=open")).text
        assert "Arta" in inbox and "Besa" not in inbox
        assert "Besa" not in (await http.get("/inbox?view=needs_human")).text
        found = (await http.get("/search?q=licna+karta")).text
        assert "Prizren" in found and "Gjakovë" not in found
    denied = [a for a in await audit_actions(homeward) if a[1] == "transcript.denied"]
    assert denied and all(a[2] == f"conversation:{gjakova}" for a in denied)


async def test_repeated_wrong_passwords_slow_sign_in_and_passwords_are_hashed_with_argon2id(
    homeward: Homeward,
) -> None:
    await add_staff(homeward, "amra", "caseworker")
    async with client(homeward) as http:
        for _ in range(3):
            assert (await sign_in(http, "amra", "wrong password")).status_code == 401
        slowed = await sign_in(http, "amra")  # the right password, too soon: not even checked
        assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
        assert "hw_session" not in http.cookies
    async with homeward.db.sessions() as session:
        user = (await session.execute(select(StaffUser))).scalar_one()
    assert user.password_hash.startswith("$argon2id$")
    actions = [a[1] for a in await audit_actions(homeward)]
    assert actions.count("login.failed") == 3 and "login.throttled" in actions


async def test_session_cookie_is_httponly_samesite_and_expires(settings: Settings) -> None:
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    app = Homeward(settings, clock=clock)
    try:
        await add_staff(app, "amra", "caseworker")
        async with client(app) as http:
            response = await sign_in(http, "amra")
            cookie = response.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert (await http.get("/inbox")).status_code == 200
            clock.advance(timedelta(minutes=settings.console_session_idle_minutes + 1))
            expired = await http.get("/inbox")
            assert expired.status_code == 303 and expired.headers["location"].startswith("/login")
    finally:
        await app.db.dispose()


async def test_the_audit_log_is_for_admins_and_read_only(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=["ndihmë"])
    await add_staff(homeward, "amra", "caseworker")
    await add_staff(homeward, "ada", "admin")
    async with client(homeward) as http:
        await sign_in(http, "amra")
        await http.get(f"/conversations/{cid}")
        assert (await http.get("/audit")).status_code == 403
    async with client(homeward) as http:
        await sign_in(http, "ada")
        log = await http.get("/audit?action=transcript.read")
        assert log.status_code == 200 and "<strong>amra</strong>" in log.text
        assert f'<a href="/conversations/{cid}">' in log.text
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert (await http.request(method, "/audit")).status_code in (403, 405)
    assert ("staff:amra", "transcript.read", f"conversation:{cid}") in await audit_actions(homeward)
