"""A whole run of `homeward serve` logs JSON lines only, without the token, message text or names.

The run: a person onboards on Telegram, writes, sends a photo that cannot be downloaded; a visitor
writes on the web chat; a caseworker signs in, reads the conversation and opens the photo, whose
download fails with a traceback. Everything the process writes, standard output and standard error
together, uvicorn's and every library's loggers included, is one JSON object per line.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from console import auth
from db.encryption import Keyring
from db.models import Beneficiary, Conversation
from db.session import Database
from tests.console_support import PASSWORD, sign_in
from tests.fakebot import TOKEN, FakeBotApi, Person
from tests.processes import free_port, process_env
from tests.steps import onboard

NAME = "Zyrafete Kryeziu-Xhemajli"
TEXT = "ku ta gjej mjekun per vajzen time Blerina"
WEB_TEXT = "kam humbur pasaporten e Ardianit ne Ferizaj"


async def _add_caseworker(database_url: str) -> None:
    db = Database(database_url, keyring=Keyring(["k"]))
    try:
        async with db.transaction() as session:
            await auth.create_account(
                session, name="amra", password=PASSWORD, role="caseworker", municipalities=[], now=datetime.now(UTC)
            )
    finally:
        await db.dispose()


async def _conversation_of(database_url: str) -> int:
    db = Database(database_url, keyring=Keyring(["k"]))
    try:
        async with db.sessions() as session:
            found = await session.execute(
                select(Conversation.id)
                .join(Beneficiary, Beneficiary.id == Conversation.beneficiary_id)
                .where(Beneficiary.channel == "telegram")
            )
            return int(found.scalar_one())
    finally:
        await db.dispose()


def _serve(env: dict[str, str], output: Path) -> subprocess.Popen[bytes]:
    """`homeward serve`, its standard output and standard error together in `output`."""
    with output.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], env=env, cwd=output.parent, stdout=sink, stderr=subprocess.STDOUT
        )


def _tail(output: Path) -> str:
    return output.read_text(errors="replace")[-3000:]


async def _until_up(http: httpx.AsyncClient, process: subprocess.Popen[bytes], output: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, _tail(output)
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("homeward serve did not come up")


async def test_a_whole_run_logs_json_lines_only_without_the_token_text_or_names(
    database_url: str, fake: FakeBotApi, tmp_path: Path
) -> None:
    await _add_caseworker(database_url)
    port = free_port()
    env = process_env(
        database_url,
        fake,
        tmp_path / "data",
        port=port,
        HOMEWARD_LOG_LEVEL="DEBUG",  # the most talkative setting an operator can choose
        PYTHONWARNINGS="always",  # and every warning Python would otherwise print once
    )
    output = tmp_path / "serve.log"
    process = _serve(env, output)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await _until_up(http, process, output)
            person = Person(fake, 777009, NAME, "sq")
            sent = await onboard(fake, person, "sq")
            person.says(TEXT)
            await fake.wait_sent(sent + 1, person.id, timeout=30)
            person.sends(photo=[{"file_id": "gone-photo", "file_unique_id": "g1", "width": 10, "height": 10}])

            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as visitor:
                page = await visitor.get("/chat")
                token = page.text.split('name="chat-token" content="')[1].split('"')[0]
                for ref, text in (("w1", "/start"), ("w2", WEB_TEXT)):
                    answer = await visitor.post(
                        "/chat/messages", json={"id": ref, "text": text}, headers={"x-chat-token": token}
                    )
                    assert answer.status_code == 202

            assert (await sign_in(http, "amra")).status_code in (302, 303)
            cid = await _conversation_of(database_url)
            deadline = time.monotonic() + 30
            while not (
                photo := re.search(
                    r'id="m(\d+)"(?:(?!</li>).)*class="media"',
                    page := (await http.get(f"/conversations/{cid}")).text,
                    re.DOTALL,
                )
            ):
                assert time.monotonic() < deadline, "the photo never reached the transcript"
                await asyncio.sleep(0.2)
            assert NAME in page or "Zyrafete" in page  # the console shows the name; the logs must not
            failed = await http.get(f"/conversations/{cid}/messages/{photo.group(1)}/file")
            assert failed.status_code == 404  # the download failed (Telegram no longer has the file)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    lines = [line for line in output.read_text(errors="replace").splitlines() if line.strip()]
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a line that is not JSON: {line[:300]!r}") from None
    # The failed download (Telegram's file URL holds the token) is recorded as an expired file, not logged
    # with its message; nothing the server wrote holds the token or the file's address.
    assert entries and not any("/file/bot" in line for line in lines)
    assert [entry["event"] for entry in entries].count("homeward running") == 1
    logged = "\n".join(lines)
    for secret in (TOKEN, TOKEN.split(":")[1], NAME, "Zyrafete", "Kryeziu", TEXT, "Blerina", WEB_TEXT, "Ardianit"):
        assert secret not in logged, secret


async def test_a_port_in_use_is_said_plainly_and_never_reported_running(
    database_url: str, fake: FakeBotApi, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        output = tmp_path / "serve.log"
        process = _serve(process_env(database_url, fake, tmp_path / "data", port=port), output)
        try:
            code = await asyncio.to_thread(process.wait, 90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            raise AssertionError("homeward serve kept running without its port: " + _tail(output)) from None
    entries = [json.loads(line) for line in output.read_text(errors="replace").splitlines() if line.strip()]
    events = [entry["event"] for entry in entries]
    assert code != 0
    assert "homeward running" not in events
    said = [entry for entry in entries if entry["event"].startswith("the web server could not start")]
    assert said and said[0]["level"] == "error" and said[0]["address"] == f"127.0.0.1:{port}", events[-5:]
    assert "HOMEWARD_CONSOLE_PORT" in said[0]["event"]
