"""Every console route checks the role: walked without a session and with each role."""

from __future__ import annotations

import pytest

from bot.app import Homeward
from console.access import ROLE_PERMISSIONS, Permission
from console.routes import MODULES
from db.models import AuditEntry
from tests.console_support import add_staff, client, csrf, person_with_transcript
from tests.console_support import sign_in as log_in

P = Permission
# (method, path, permission needed); None: any signed-in staff member.
GUARDED: list[tuple[str, str, Permission | None]] = [
    ("GET", "/", None),
    ("GET", "/inbox", P.INBOX),
    ("GET", "/search?q=karta", P.INBOX),
    ("GET", "/dashboard", P.DASHBOARD),
    ("GET", "/events/inbox", P.INBOX),
    ("GET", "/events/alerts", P.INBOX),
    ("GET", "/conversations/{cid}", P.TRANSCRIPT),
    ("GET", "/conversations/{cid}/events", P.TRANSCRIPT),
    ("GET", "/conversations/{cid}/messages/{mid}/file", P.TRANSCRIPT),
    ("GET", "/conversations/{cid}/export?format=csv", P.EXPORT_CONVERSATION),
    ("POST", "/conversations/{cid}/take", P.ACT),
    ("POST", "/conversations/{cid}/reply", P.ACT),
    ("POST", "/conversations/{cid}/return", P.ACT),
    ("POST", "/conversations/{cid}/close", P.ACT),
    ("POST", "/conversations/{cid}/assign", P.ACT),
    ("POST", "/conversations/{cid}/labels", P.ACT),
    ("POST", "/conversations/{cid}/urgent", P.ACT),
    ("POST", "/conversations/{cid}/status", P.ACT),
    ("POST", "/conversations/{cid}/notes", P.ACT),
    ("POST", "/conversations/{cid}/return-date", P.ACT),
    ("POST", "/conversations/{cid}/followups/{ctid}/send", P.ACT),
    ("GET", "/followups", P.FOLLOWUPS),
    ("GET", "/followups/export?format=csv", P.EXPORT_ALL),
    ("GET", "/youth", P.YOUTH),
    ("GET", "/youth/export?format=csv", P.YOUTH),
    ("POST", "/youth/programmes", P.YOUTH),
    ("POST", "/youth/cohorts", P.YOUTH),
    ("POST", "/youth/cohorts/{coid}/capacity", P.YOUTH),
    ("POST", "/youth/cohorts/{coid}/announce", P.YOUTH),
    ("POST", "/youth/signups/{suid}/guardian", P.YOUTH),
    ("POST", "/youth/signups/{suid}/cancel", P.YOUTH),
    ("GET", "/broadcasts", P.BROADCAST),
    ("POST", "/broadcasts/preview", P.BROADCAST),
    ("POST", "/broadcasts", P.BROADCAST),
    ("GET", "/broadcasts/{bid}", P.BROADCAST),
    ("GET", "/broadcasts/{bid}/counts", P.BROADCAST),
    ("GET", "/knowledge", P.KNOWLEDGE),
    ("GET", "/audit", P.AUDIT),
    ("GET", "/staff", P.STAFF),
    ("POST", "/staff", P.STAFF),
    ("POST", "/staff/{sid}/disable", P.STAFF),
    ("POST", "/staff/{sid}/enable", P.STAFF),
    ("POST", "/staff/{sid}/role", P.STAFF),
    ("POST", "/staff/{sid}/municipalities", P.STAFF),
    ("POST", "/staff/{sid}/password", P.STAFF),
    ("POST", "/staff/{sid}/sessions/end", P.STAFF),
    ("GET", "/exports", P.EXPORT_ALL),
    ("GET", "/exports/transcripts?format=csv", P.EXPORT_ALL),
    ("GET", "/canned", P.CANNED_MANAGE),
    ("POST", "/canned", P.CANNED_MANAGE),
    ("POST", "/canned/{rid}/remove", P.CANNED_MANAGE),
    ("GET", "/integrations", P.INTEGRATIONS),
    ("POST", "/integrations/tokens", P.INTEGRATIONS),
    ("POST", "/integrations/tokens/{nm}/revoke", P.INTEGRATIONS),
    ("POST", "/integrations/webhooks", P.INTEGRATIONS),
    ("POST", "/integrations/webhooks/{nm}/remove", P.INTEGRATIONS),
    ("GET", "/updates", P.AUDIT),
    ("GET", "/reports", P.REPORTS),
    ("GET", "/reports/{table}.csv", P.REPORTS),
    ("GET", "/reports/chart.svg", P.REPORTS),
    ("GET", "/reports/chart.png", P.REPORTS),
    ("POST", "/language", P.DASHBOARD),
    ("POST", "/logout", P.DASHBOARD),
]
PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/chat"),
    ("POST", "/chat/messages"),
    ("POST", "/chat/files"),  # the visitor's own cookie and page token, like a message
    ("GET", "/chat/events"),
    ("GET", "/chat/files/{file_id}/{signature}"),  # the visitor's own cookie and a signed, one-time link
    ("GET", "/chat/files/{file_id}/{signature}/{name}"),  # a signed, one-time link sent in an app (Viber)
}


def test_the_walk_covers_every_route() -> None:
    declared = {
        (m, path)
        for module in MODULES
        for route in module.router.routes
        for m in route.methods
        for path in [route.path]
    }  # type: ignore[attr-defined]
    walked = {
        (
            m,
            p.split("?")[0]
            .replace("{cid}", "{conversation_id}")
            .replace("{mid}", "{message_id}")
            .replace("{rid}", "{reply_id}")
            .replace("{ctid}", "{contact_id}")
            .replace("{nm}", "{name}")
            .replace("{sid}", "{staff_id}")
            .replace("{coid}", "{cohort_id}")
            .replace("{suid}", "{signup_id}")
            .replace("{bid}", "{broadcast_id}"),
        )
        for m, p, _ in GUARDED
    }
    assert declared == walked | PUBLIC


async def test_without_a_session_every_guarded_route_refuses(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=["lična karta"])
    async with client(homeward) as http:
        for method, path, _ in GUARDED:
            url = path.format(cid=cid, mid=1, rid=1, ctid=1, nm="x", table="activity", sid=1, coid=1, suid=1, bid=1)
            response = await http.request(method, url, data={"csrf": "x", "text": "hi"} if method == "POST" else None)
            if method == "GET":
                assert response.status_code == 303 and response.headers["location"].startswith("/login"), url
            else:
                assert response.status_code == 401, url
    async with homeward.db.sessions() as session:
        from sqlalchemy import select

        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert "transcript.read" not in actions


@pytest.mark.parametrize("role", ["admin", "caseworker", "youth_coordinator", "viewer"])
async def test_each_role_reaches_exactly_its_routes(homeward: Homeward, role: str) -> None:
    cid = await person_with_transcript(homeward, municipality="Prizren", texts=["lična karta"])
    await add_staff(homeward, f"user-{role}", role)
    allowed = ROLE_PERMISSIONS[role]
    async with client(homeward) as http:
        assert (await log_in(http, f"user-{role}")).status_code == 303
        token = await csrf(http)
        for method, path, permission in GUARDED:
            if path == "/logout":
                continue  # walked last: it ends the session
            url = path.format(cid=cid, mid=1, rid=1, ctid=1, nm="x", table="activity", sid=1, coid=1, suid=1, bid=1)
            data = (
                {
                    "csrf": token,
                    "text": "hello",
                    "labels": "a",
                    "title": "t",
                    "text_sq": "x",
                    "text_sr": "х",
                    "locale": "sq",
                    "return_date": "2025-11-01",
                    "next": "/",
                }
                if method == "POST"
                else None
            )
            response = await http.request(method, url, data=data)
            if permission is None or permission in allowed:
                assert response.status_code not in (401, 403), (role, url, response.status_code)
            else:
                assert response.status_code == 403, (role, url, response.status_code)
                assert "lična karta" not in response.text
        assert (await http.post("/logout", data={"csrf": token})).status_code == 303
        assert (await http.get("/dashboard")).status_code == 303  # signed out
