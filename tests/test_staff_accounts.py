"""Staff accounts over their life, on the command line and on the console's staff page; passphrase rules;
sign-in slowed per account and address instead of a lock; municipalities checked and enforced."""

from __future__ import annotations

import asyncio
import getpass
import io
import re
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import select

from bot.app import Homeward
from bot.cli import main
from bot.clock import FixedClock
from bot.config import Settings
from console import attempts, passphrases
from console.web import create_console
from db.models import AuditEntry, Conversation
from db.staff import LoginAttempt, StaffUser
from db.youth import Enrolment
from tests.console_support import (
    BASE,
    PASSWORD,
    add_cohort,
    add_sign_up,
    add_staff,
    client,
    csrf,
    person_with_transcript,
    shown,
    sign_in,
)

NEW_PASSPHRASE = "lantern orchard velvet 47"


def from_address(app: Homeward, address: str) -> httpx.AsyncClient:
    """A console client whose connection comes from `address`."""
    transport = httpx.ASGITransport(app=create_console(app, stream_seconds=0.0), client=(address, 50123))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def audit_log(app: Homeward, prefix: str = "staff.") -> list[tuple[str, str, str | None]]:
    async with app.db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.target)
            .where(AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.id)
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def account(app: Homeward, name: str) -> StaffUser:
    async with app.db.sessions() as session:
        return (await session.execute(select(StaffUser).where(StaffUser.name == name))).scalar_one()


async def signed_in_here(http: httpx.AsyncClient) -> bool:
    response = await http.get("/dashboard")
    return response.status_code == 200


# --- passphrase rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("passphrase", "reason"),
    [
        (" " * 10, "blank"),
        (" " * 14, "blank"),
        ("\t \t \t \t \t \t ", "blank"),
        ("short one", "short"),
        ("password1234", "common"),
        ("Password2024!", "common"),
        ("qwertyqwerty", "common"),
        ("1q2w3e4r5t6y", "common"),
        ("abcabcabcabc", "common"),
        ("monkey monkey monkey", "common"),
        ("x" * 1025, "long"),
        ("amra-likes-tea-2026", "personal"),
        ("my homeward login", "personal"),
    ],
)
def test_a_weak_passphrase_is_refused_with_its_reason(passphrase: str, reason: str) -> None:
    assert passphrases.weakness(passphrase, "amra") == reason


def test_a_long_phrase_of_ones_own_and_a_made_one_pass() -> None:
    assert "password" in passphrases.common_passwords() and len(passphrases.common_passwords()) >= 4000
    assert passphrases.weakness("river lantern okra 47", "amra") is None
    made = {passphrases.generate() for _ in range(20)}
    assert len(made) == 20 and all(passphrases.weakness(p, "amra") is None for p in made)


# --- slowing, pure --------------------------------------------------------------------------------


def test_waits_double_per_address_and_spare_an_address_the_account_signed_in_from() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    delays = [attempts.PAIR.delay(n) for n in range(10)]
    assert delays[:3] == [0, 0, 0] and delays[3:8] == [2, 4, 8, 16, 32]
    assert attempts.PAIR.delay(40) == attempts.PAIR.cap
    hammered = attempts.Recent(0, None, 0, None, account=30, account_last=now, familiar=False)
    assert 0 < attempts.wait(hammered, now) <= attempts.ACCOUNT.cap
    assert attempts.wait(attempts.Recent(0, None, 0, None, 30, now, familiar=True), now) == 0


# --- the command line -------------------------------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("HOMEWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("HOMEWARD_SECRET_KEY", settings.secret_key or "")
    return monkeypatch


async def staff_cli(monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return await asyncio.to_thread(main, ["staff", *args])


async def test_the_command_line_disables_enables_changes_role_and_passphrase_and_ends_sessions(
    homeward: Homeward, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        await staff_cli(
            cli_env, "add", "amra", "--role", "caseworker", "--municipality", "Prizren", stdin=PASSWORD + "\n"
        )
        == 0
    )
    assert (await account(homeward, "amra")).municipalities == ["prizren"]  # a name is stored as its id
    async with client(homeward) as http:
        assert (await sign_in(http, "amra")).status_code == 303

        assert await staff_cli(cli_env, "disable", "amra") == 0
        assert "1 session(s) ended" in capsys.readouterr().out
        assert not await signed_in_here(http)  # the open session stopped at once
        assert (await sign_in(http, "amra")).status_code == 401

        assert await staff_cli(cli_env, "enable", "amra") == 0
        assert (await sign_in(http, "amra")).status_code == 303

        assert await staff_cli(cli_env, "password", "amra", stdin=NEW_PASSPHRASE + "\n") == 0
        assert not await signed_in_here(http)
        assert (await sign_in(http, "amra")).status_code == 401  # the old passphrase
        assert (await sign_in(http, "amra", NEW_PASSPHRASE)).status_code == 303

        assert await staff_cli(cli_env, "sessions", "end", "amra") == 0
        assert not await signed_in_here(http)

    assert await staff_cli(cli_env, "role", "amra", "youth_coordinator") == 0
    assert await staff_cli(cli_env, "municipalities", "amra", "gjakove", "Пећ") == 0
    capsys.readouterr()
    assert await staff_cli(cli_env, "list") == 0
    assert "amra\tyouth_coordinator\tgjakove,peje\tactive" in capsys.readouterr().out

    actor = f"cli:{getpass.getuser()}"
    assert await audit_log(homeward) == [
        (actor, action, "staff:amra")
        for action in (
            "staff.add",
            "staff.disable",
            "staff.enable",
            "staff.password",
            "staff.sessions_end",
            "staff.role",
            "staff.municipalities",
        )
    ]


async def test_the_command_line_refuses_weak_passphrases_unknown_names_and_municipalities(
    homeward: Homeward, cli_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for passphrase, said in (
        (" " * 10, "cannot be only spaces"),
        ("tiny", "at least 12 characters"),
        ("password1234", "most common passwords"),
    ):
        assert await staff_cli(cli_env, "add", "amra", "--role", "caseworker", stdin=passphrase + "\n") == 2
        assert said in capsys.readouterr().err
    assert (
        await staff_cli(cli_env, "add", "amra", "--role", "caseworker", "--municipality", "prishtne", stdin=PASSWORD)
        == 2
    )
    err = capsys.readouterr().err
    assert "prishtne" in err and "prishtine (Prishtinë / Priština)" in err
    assert await staff_cli(cli_env, "add", "vera", "--role", "viewer", "--municipality", "prizren", stdin=PASSWORD) == 2
    assert "Only caseworkers and youth coordinators" in capsys.readouterr().err
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(StaffUser))).first() is None

    assert await staff_cli(cli_env, "add", "ada", "--role", "admin", stdin=PASSWORD) == 0
    assert await staff_cli(cli_env, "password", "ada", stdin=" " * 12 + "\n") == 2
    assert await staff_cli(cli_env, "disable", "nobody") == 2
    assert "There is no account named nobody." in capsys.readouterr().err
    assert await staff_cli(cli_env, "disable", "ada") == 2  # the last active administrator
    assert await staff_cli(cli_env, "role", "ada", "viewer") == 2
    assert "last active administrator" in capsys.readouterr().err
    assert (await account(homeward, "ada")).active


# --- the staff page ---------------------------------------------------------------------------------

_GENERATED = re.compile(r'id="generated-passphrase">([^<]+)<')


async def test_an_admin_adds_disables_enables_and_resets_on_the_staff_page_audited(homeward: Homeward) -> None:
    await add_staff(homeward, "ada", "admin")
    async with client(homeward) as admin, client(homeward) as amra:
        await sign_in(admin, "ada")
        token = await csrf(admin)
        made = await admin.post(
            "/staff",
            data={"csrf": token, "name": "amra", "role": "caseworker", "municipality": ["prizren", "gjakove"]},
        )
        assert made.status_code == 200
        generated = _GENERATED.search(made.text)
        assert generated is not None, made.text[:500]
        passphrase = generated.group(1)
        assert passphrase not in (await admin.get("/staff")).text  # shown once
        user = await account(homeward, "amra")
        assert user.role == "caseworker" and user.municipalities == ["gjakove", "prizren"]

        assert (await sign_in(amra, "amra", passphrase)).status_code == 303
        assert (await admin.post(f"/staff/{user.id}/disable")).status_code == 403  # no CSRF token
        assert await signed_in_here(amra)
        disabled = await admin.post(f"/staff/{user.id}/disable", data={"csrf": token}, follow_redirects=True)
        assert shown(homeward, "{name} can no longer sign in.", name="amra") in disabled.text
        assert not await signed_in_here(amra)  # its open session stopped working at once
        assert (await sign_in(amra, "amra", passphrase)).status_code == 401

        await admin.post(f"/staff/{user.id}/enable", data={"csrf": token})
        assert (await sign_in(amra, "amra", passphrase)).status_code == 303
        await admin.post(f"/staff/{user.id}/password", data={"csrf": token, "passphrase": NEW_PASSPHRASE})
        assert not await signed_in_here(amra)
        assert (await sign_in(amra, "amra", NEW_PASSPHRASE)).status_code == 303
        ended = await admin.post(f"/staff/{user.id}/sessions/end", data={"csrf": token}, follow_redirects=True)
        said = homeward.translations("sq").ngettext("{n} session ended.", "{n} sessions ended.", 1)
        assert str(escape(said)) in ended.text
        assert not await signed_in_here(amra)

        await admin.post(f"/staff/{user.id}/municipalities", data={"csrf": token, "municipality": ["peje"]})
        await admin.post(f"/staff/{user.id}/role", data={"csrf": token, "role": "viewer"})
        user = await account(homeward, "amra")
        assert user.role == "viewer" and user.municipalities == []  # a viewer is never limited

        reset = await admin.post(f"/staff/{user.id}/password", data={"csrf": token})
        again = _GENERATED.search(reset.text)
        assert again is not None and again.group(1) != passphrase
        assert (await sign_in(amra, "amra", again.group(1))).status_code == 303

    assert [a[:2] for a in await audit_log(homeward)] == [
        ("staff:ada", action)
        for action in (
            "staff.add",
            "staff.disable",
            "staff.enable",
            "staff.password",
            "staff.sessions_end",
            "staff.municipalities",
            "staff.role",
            "staff.password",
        )
    ]
    async with homeward.db.sessions() as session:
        details = (await session.execute(select(AuditEntry.detail))).scalars().all()
    assert not any(passphrase in str(d) or NEW_PASSPHRASE in str(d) for d in details)


async def test_the_staff_page_refuses_weak_passphrases_mistyped_places_and_locking_oneself_out(
    homeward: Homeward,
) -> None:
    await add_staff(homeward, "ada", "admin")
    await add_staff(homeward, "amra", "caseworker")
    async with client(homeward) as admin:
        await sign_in(admin, "ada")
        await admin.post("/language", data={"csrf": await csrf(admin), "locale": "sq", "next": "/"})
        token = await csrf(admin)
        blank = await admin.post(
            "/staff", data={"csrf": token, "name": "besa", "role": "caseworker", "passphrase": " " * 10}
        )
        assert blank.status_code == 400
        assert shown(homeward, "A passphrase cannot be only spaces.") in blank.text
        common = await admin.post(
            "/staff", data={"csrf": token, "name": "besa", "role": "caseworker", "passphrase": "password1234"}
        )
        assert shown(homeward, passphrases.REASONS["common"]) in common.text
        forged = await admin.post(
            "/staff",
            data={
                "csrf": token,
                "name": "besa",
                "role": "caseworker",
                "municipality": "prishtne",
                "passphrase": NEW_PASSPHRASE,
            },
        )
        assert forged.status_code == 400 and "prishtine (Prishtinë / Priština)" in forged.text
        ada = await account(homeward, "ada")
        for action, data in (("disable", {}), ("role", {"role": "viewer"})):
            refused = await admin.post(f"/staff/{ada.id}/{action}", data={"csrf": token, **data})
            assert refused.status_code == 400, action
            assert shown(homeward, "You cannot disable your own account or change your own role.") in refused.text
        # Ending one's own sessions keeps the one in use.
        await admin.post(f"/staff/{ada.id}/sessions/end", data={"csrf": token})
        assert await signed_in_here(admin)
    async with homeward.db.sessions() as session:
        assert (await session.execute(select(StaffUser.name).order_by(StaffUser.name))).scalars().all() == [
            "ada",
            "amra",
        ]
    assert (await account(homeward, "ada")).active and (await account(homeward, "ada")).role == "admin"


# --- sign-in slowing ----------------------------------------------------------------------------------


async def test_wrong_passwords_slow_the_guesser_and_never_lock_out_the_person(
    clocked: tuple[Homeward, FixedClock],
) -> None:
    app, clock = clocked
    await add_staff(app, "amra", "caseworker")
    async with from_address(app, "10.0.0.7") as office:
        assert (await sign_in(office, "amra")).status_code == 303  # her usual address

    waits = []
    async with from_address(app, "10.0.0.66") as guesser:
        for _ in range(9):
            response = await sign_in(guesser, "amra", "wrong password")
            if response.status_code == 429:
                waits.append(int(response.headers["retry-after"]))
                clock.advance(timedelta(seconds=waits[-1]))
                response = await sign_in(guesser, "amra", "wrong password")
            assert response.status_code == 401
        assert waits == sorted(waits) and waits[-1] >= 4 * waits[0]  # each wait longer than the last
        assert (await sign_in(guesser, "amra")).status_code == 429  # even the right password must wait

    async with from_address(app, "10.0.0.7") as office:
        assert (await sign_in(office, "amra")).status_code == 303  # at once, from where she signs in
    async with from_address(app, "10.0.0.9") as elsewhere:
        first = await sign_in(elsewhere, "amra")
        if first.status_code == 429:  # a new address waits a little, never a quarter of an hour
            assert int(first.headers["retry-after"]) <= attempts.ACCOUNT.cap
            clock.advance(timedelta(seconds=int(first.headers["retry-after"])))
        assert (await sign_in(elsewhere, "amra")).status_code == 303


# --- municipalities ---------------------------------------------------------------------------------


async def test_a_conversation_is_never_assigned_to_a_caseworker_who_cannot_see_it(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="prizren", texts=["ndihmë"], needs_human=True)
    await add_staff(homeward, "ada", "admin")
    await add_staff(homeward, "amra", "caseworker", ("prizren",))
    await add_staff(homeward, "besa", "caseworker", ("gjakove",))
    besa, amra = await account(homeward, "besa"), await account(homeward, "amra")
    async with client(homeward) as admin:
        await sign_in(admin, "ada")
        await admin.post("/language", data={"csrf": await csrf(admin), "locale": "sr-Latn", "next": "/"})
        page = (await admin.get(f"/conversations/{cid}")).text
        assert f'value="{amra.id}"' in page and f'value="{besa.id}"' not in page  # not offered
        refused = await admin.post(
            f"/conversations/{cid}/assign",
            data={"csrf": await csrf(admin), "assignee": str(besa.id)},
            follow_redirects=True,
        )
        assert "assignee_place" in str(refused.url)
        assert (
            shown(
                homeward,
                "That caseworker works in other municipalities and could not see this conversation. "
                "Choose a caseworker of the person's municipality.",
                "sr-Latn",
            )
            in refused.text
        )
        async with homeward.db.sessions() as session:
            assert (await session.get(Conversation, cid)).assignee_id is None  # type: ignore[union-attr]
        await admin.post(f"/conversations/{cid}/assign", data={"csrf": await csrf(admin), "assignee": str(amra.id)})
        async with homeward.db.sessions() as session:
            assert (await session.get(Conversation, cid)).assignee_id == amra.id  # type: ignore[union-attr]

        # Moving Amra to Gjakova gives her Prizren conversation back to the queue instead of hiding it.
        token = await csrf(admin)
        moved = await admin.post(
            f"/staff/{amra.id}/municipalities", data={"csrf": token, "municipality": "gjakove"}, follow_redirects=True
        )
        assert moved.status_code == 200
    async with homeward.db.sessions() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None and conversation.assignee_id is None and conversation.needs_human


async def _sign_up_from(
    app: Homeward, municipality: str, programme: int, cohort: int | None, name: str, chat: str
) -> None:
    cid = await person_with_transcript(app, municipality=municipality, texts=["po"], name=name, chat_id=chat)
    enrolment_id = await add_sign_up(
        app, cid, programme, cohort, "confirmed" if cohort else "interested", full_name=name
    )
    async with app.db.transaction() as session:
        enrolment = await session.get(Enrolment, enrolment_id)
        assert enrolment is not None
        enrolment.municipality = municipality


async def test_a_youth_coordinator_limited_to_a_municipality_sees_and_exports_only_its_sign_ups(
    homeward: Homeward,
) -> None:
    programme, prizren = await add_cohort(homeward, municipality="prizren", name=("Prizreni", "Призрен"), capacity=5)
    _, gjakove = await add_cohort(homeward, municipality="gjakove", name=("Gjakova", "Ђаковица"), capacity=5)
    _, anywhere = await add_cohort(homeward, municipality=None, name=("Kudo", "Свуда"), capacity=5)
    await _sign_up_from(homeward, "prizren", programme, prizren, "Ardita Prizreni", "801")
    await _sign_up_from(homeward, "gjakove", programme, gjakove, "Blerta Gjakova", "802")
    await _sign_up_from(homeward, "prizren", programme, anywhere, "Dritan Kudo", "803")
    await _sign_up_from(homeward, "gjakove", programme, anywhere, "Edona Kudo", "804")
    await _sign_up_from(homeward, "gjakove", programme, None, "Fitore Pritje", "805")
    await add_staff(homeward, "mira", "youth_coordinator", ("prizren",))
    await add_staff(homeward, "yll", "youth_coordinator")
    async with client(homeward) as http:
        await sign_in(http, "mira")
        page = (await http.get("/youth")).text
        assert "Ardita Prizreni" in page and "Dritan Kudo" in page
        for hidden in ("Blerta Gjakova", "Edona Kudo", "Fitore Pritje", "Gjakova"):
            assert hidden not in page, hidden
        export = (await http.get("/youth/export?format=csv")).text
        assert "Ardita Prizreni" in export and "Dritan Kudo" in export
        assert "Blerta" not in export and "Edona" not in export and "Fitore" not in export
    async with client(homeward) as http:
        await sign_in(http, "yll")  # a coordinator without municipalities sees everyone
        export = (await http.get("/youth/export?format=csv")).text
        assert all(n in export for n in ("Ardita", "Blerta", "Dritan", "Edona", "Fitore"))


async def test_sign_in_attempts_are_kept_only_as_long_as_they_count(clocked: tuple[Homeward, FixedClock]) -> None:
    app, clock = clocked
    await add_staff(app, "amra", "caseworker")
    async with from_address(app, "10.0.0.66") as guesser:
        assert (await sign_in(guesser, "amra", "wrong password")).status_code == 401
    clock.advance(attempts.FAMILIAR + timedelta(days=1))
    async with from_address(app, "10.0.0.7") as office:
        assert (await sign_in(office, "amra")).status_code == 303
    async with app.db.sessions() as session:
        kept = (await session.execute(select(LoginAttempt.address, LoginAttempt.success))).all()
    assert [tuple(k) for k in kept] == [("10.0.0.7", True)]


async def test_a_burst_of_parallel_guesses_is_slowed_like_guesses_one_after_another(
    clocked: tuple[Homeward, FixedClock],
) -> None:
    app, _ = clocked
    await add_staff(app, "amra", "caseworker")
    async with from_address(app, "10.0.0.66") as guesser:
        form = await guesser.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        data = {"name": "amra", "password": "wrong password", "csrf": token.group(1), "next": "/"}
        answers = await asyncio.gather(*(guesser.post("/login", data=data) for _ in range(12)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [401] * attempts.PAIR.free + [429] * (12 - attempts.PAIR.free)
