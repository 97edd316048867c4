"""`homeward whatsapp check` says plainly what is wrong with the WhatsApp settings, or that Meta accepts them."""

from __future__ import annotations

from bot.channels.commands import check
from bot.cli import main
from bot.config import Settings
from tests import fakegraph
from tests.chats import with_whatsapp
from tests.fakegraph import FakeGraphApi


async def test_check_reports_a_working_setup_and_missing_templates(settings: Settings) -> None:
    graph = await FakeGraphApi().start()
    try:
        ready = with_whatsapp(settings, graph).model_copy(
            update={
                "whatsapp_templates": {f"followup:{loc}": "homeward_followup" for loc in ("sq", "sr-Cyrl", "sr-Latn")}
            }
        )
        code, lines = await check(ready)
        assert code == 0 and "+383 44 000 000" in lines[0]
        assert not any("`followup`" in line for line in lines)
        assert any("no `caseworker` template for sq, sr-Cyrl, sr-Latn" in line for line in lines)

        code, lines = await check(ready.model_copy(update={"whatsapp_token": "expired"}))
        assert code == 1 and "refuses the token" in lines[0] and "expired" not in lines[0].split(":")[0]
        code, lines = await check(ready.model_copy(update={"whatsapp_phone_number_id": "999"}))
        assert code == 1 and "999" in lines[0] and "HOMEWARD_WHATSAPP_PHONE_NUMBER_ID" in lines[0]
    finally:
        await graph.stop()
    code, lines = await check(ready)  # the fake is gone: nothing answers at that address
    assert code == 1 and lines[0].startswith("cannot reach")


def test_check_names_the_missing_settings(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOMEWARD_WHATSAPP_TOKEN", fakegraph.TOKEN)
    for name in ("PHONE_NUMBER_ID", "APP_SECRET", "VERIFY_TOKEN"):
        monkeypatch.delenv(f"HOMEWARD_WHATSAPP_{name}", raising=False)
    monkeypatch.chdir("/")  # no .env file of a developer's working folder
    assert main(["whatsapp", "check"]) == 2
    out = capsys.readouterr().out
    assert "not set: HOMEWARD_WHATSAPP_PHONE_NUMBER_ID" in out and "HOMEWARD_WHATSAPP_TOKEN" not in out
