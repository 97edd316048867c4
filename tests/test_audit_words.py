"""The audit log in words: every action code has a label, and the page shows sentences, never JSON."""

from __future__ import annotations

import ast
import html
from pathlib import Path

from markupsafe import escape

from bot.app import Homeward
from console import audit
from tests.console_support import add_staff, client, csrf, person_with_transcript, shown, sign_in

ROOT = Path(__file__).resolve().parents[1]
# Action codes built from a variable: each f-string and the codes it makes.
BUILT = {"f'export.{what}'": ("export.transcripts", "export.followups", "export.signups")}


def _strings(node: ast.expr) -> list[str]:
    """The action codes an expression can be: a literal, either branch of `a if c else b`, a known f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.JoinedStr):
        source = ast.unparse(node)
        assert source in BUILT, f"an action code built as {source}: list the codes it makes in BUILT"
        return list(BUILT[source])
    return []


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def written_codes() -> dict[str, str]:
    """Every action code the code base writes to the audit log, with where it is written."""
    found: dict[str, str] = {}
    for folder in ("bot", "console", "db", "handlers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = str(path.relative_to(ROOT))
            # Helpers that pass one of their parameters on as `action=`: their callers name the code.
            passing: dict[str, tuple[int, str]] = {}
            for fn in ast.walk(tree):
                if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                params = [a.arg for a in fn.args.args]
                for call in ast.walk(fn):
                    for kw in getattr(call, "keywords", []) if isinstance(call, ast.Call) else []:
                        if kw.arg == "action" and isinstance(kw.value, ast.Name) and kw.value.id in params:
                            passing[fn.name] = (params.index(kw.value.id), kw.value.id)
            for call in ast.walk(tree):
                if not isinstance(call, ast.Call) or _name(call) == "add_argument":  # argparse's action= is no code
                    continue
                for kw in call.keywords:
                    if kw.arg == "action":
                        found.update(dict.fromkeys(_strings(kw.value), where))
                if _name(call) in passing:
                    index, param = passing[_name(call)]
                    values = [kw.value for kw in call.keywords if kw.arg == param]
                    if len(call.args) > index:
                        values.append(call.args[index])
                    for value in values:
                        found.update(dict.fromkeys(_strings(value), where))
    return found


def test_every_action_code_written_anywhere_has_a_label() -> None:
    codes = written_codes()
    # The collection itself works: literals, both branches of a choice, helpers and f-strings are all found.
    assert {"transcript.read", "login", "login.failed", "staff.role", "youth.announce", "export.signups"} <= set(codes)
    assert {"erase", "retention", "mydata", "export.followups", "api.read"} <= set(codes)
    assert "store_true" not in codes
    missing = {code: where for code, where in codes.items() if code not in audit.ACTIONS}
    assert not missing, f"action codes without a label in console/audit.py ACTIONS: {missing}"
    unused = set(audit.ACTIONS) - set(codes)
    assert not unused, f"labels for codes nothing writes: {unused}"


async def test_the_audit_page_shows_sentences_not_codes_or_json(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="prishtine", texts=["Ku është qendra shëndetësore?"])
    await add_staff(homeward, "amra", "caseworker")
    await add_staff(homeward, "dren", "admin")
    now = homeward.clock.now()
    async with homeward.db.transaction() as session:
        audit.record(
            session,
            actor="staff:amra",
            action="transcript.read",
            now=now,
            target=f"conversation:{cid}",
            detail={"messages": 2, "last": 7},
        )
        audit.record(
            session,
            actor="cli:ops",
            action="export.transcripts",
            now=now,
            detail={"format": "csv", "since": None, "records": 3, "redacted": True, "output": "file"},
        )
        audit.record(session, actor="api:kobo", action="api.read", now=now, target="people", detail={"records": 1})
        audit.record(session, actor="person", action="mydata.download", now=now, detail={"file": "data.json"})
        audit.record(session, actor="staff:dren", action="made.up", now=now, detail={"colour": "blue"})
    async with client(homeward) as http:
        await sign_in(http, "dren")
        for locale in ("sq", "sr-Cyrl", "sr-Latn", "en"):
            await http.post("/language", data={"csrf": await csrf(http), "locale": locale, "next": "/audit"})
            page = (await http.get("/audit")).text
            table = page[page.index("<tbody>") : page.index("</tbody>")]

            def says(message: str, loc: str = locale, **values: object) -> str:
                return shown(homeward, message, loc, **values)

            def counted(one: str, many: str, n: int, loc: str = locale) -> str:
                return str(escape(homeward.translations(loc).ngettext(one, many, n)))

            assert f"<strong>amra</strong>: {says('Reading a transcript')}" in table, locale
            assert f'<a href="/conversations/{cid}">{says("conversation {id}", id=cid)}</a>' in table, locale
            assert counted("{n} message", "{n} messages", 2) in table
            words = ", ".join(
                [counted("{n} record", "{n} records", 3), "CSV", says("redacted"), says("written to a file")]
            )
            assert f"<strong>{says('command line ({user})', user='ops')}</strong>" in table, locale
            assert f"({words})" in table, locale
            assert f"<strong>{says('integration {name}', name='kobo')}</strong>" in table
            assert f"<strong>{says('the person')}</strong>: {says('The person downloaded their data')}" in table
            assert f"{says('File')}: data.json" in table
            assert "<strong>dren</strong>: made.up" in table  # an unknown code falls back to itself
            for raw in ("transcript.read", "export.transcripts", "api.read", "mydata.download", "cli:", "api:kobo"):
                assert raw not in table, (locale, raw)
            assert "{" not in html.unescape(table) and '"records"' not in html.unescape(table)  # no JSON
        filtered = (await http.get("/audit?action=export")).text
        rows = filtered[filtered.index("<tbody>") : filtered.index("</tbody>")]
        assert shown(homeward, "Export of transcripts", "en") in rows
        assert shown(homeward, "Reading a transcript", "en") not in rows
        by_actor = (await http.get("/audit?actor=staff:amra")).text
        rows = by_actor[by_actor.index("<tbody>") : by_actor.index("</tbody>")]
        assert rows.count("<tr>") == 1 and "<strong>amra</strong>" in rows


def test_an_account_limited_to_no_municipality_reads_as_all_of_them(homeward: Homeward) -> None:
    """The staff list says "all municipalities" for such an account; the audit log must not say "none"."""
    for locale in ("sq", "sr-Cyrl", "sr-Latn", "en"):
        t = homeward.translations(locale)
        cleared = audit.details({"municipalities": []}, t, "staff.municipalities")
        assert cleared == f"{t.gettext('Municipalities')}: {t.gettext('all municipalities')}", locale
        assert t.gettext("none") not in cleared, locale
        limited = audit.details({"municipalities": ["prizren"]}, t, "staff.municipalities")
        assert limited == f"{t.gettext('Municipalities')}: prizren", locale
