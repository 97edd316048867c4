"""kill -9 and an immediate restart with the default settings: the replies go out at once.

The restarted process has the worker id it had (its slot in the data folder), so it returns the
claims the killed process held to the queue when it starts, instead of waiting for the 120-second
lease; on SQLite every claim found at start-up is a dead process's anyway.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.config import Settings
from db.encryption import Keyring
from db.models import OutboxItem
from db.session import Database
from tests.fakebot import FakeBotApi, Fault, Person
from tests.processes import ROOT, process_env

PEOPLE = 20
LEASE = Settings(_env_file=None).delivery_lease_seconds  # type: ignore[call-arg]


def _default_env(database_url: str, fake: FakeBotApi, data_dir: Path, root: Path = ROOT) -> dict[str, str]:
    """What `homeward bot` needs to run here, and nothing else: worker id and lease stay the defaults."""
    return process_env(database_url, fake, data_dir, root=root)


@contextmanager
def _bot(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "bot"], env=env, cwd=log_path.parent, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


async def _until(condition: Callable[[], Any], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {seconds:.0f} s: {what}")
        await asyncio.sleep(0.05)


class Hold:
    """While on, every send hangs and its connection is then dropped: claims stay held, nothing arrives."""

    def __init__(self) -> None:
        self.on = True
        self.held = 0

    def __call__(self, method: str, params: dict[str, Any]) -> Fault | None:
        if method != "sendMessage" or not self.on:
            return None
        self.held += 1
        return Fault(stall=15.0, reset=True)


def _log(log_path: Path) -> list[dict[str, Any]]:
    entries = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def _started(log_path: Path) -> dict[str, Any] | None:
    return next((entry for entry in _log(log_path) if entry.get("event") == "delivery started"), None)


@dataclass
class Restart:
    """What one kill -9 and restart did: timings, the worker ids, and the outbox afterwards."""

    elapsed: float  # from the restart to the last of the replies arriving
    running: float  # from the restart to the new process's "delivery started"
    holders: set[str | None]  # who held the claims when the first process was killed
    started: dict[str, Any] | None  # the new process's "delivery started" log entry
    statuses: set[str]  # the outbox rows' statuses afterwards
    sends: dict[str, int]  # chat id -> how many replies it received


async def kill_and_restart(
    database_url: str, fake: FakeBotApi, tmp_path: Path, root: Path = ROOT, base_id: int = 9300
) -> Restart:
    """Twenty people's replies claimed by a `homeward bot` process (run from `root`), which is killed
    with SIGKILL before sending them; a second process starts at once under the default settings."""
    db = Database(database_url, keyring=Keyring(["k"]))
    hold = Hold()
    fake.injector = hold
    env = _default_env(database_url, fake, tmp_path / "data", root)
    people = [Person(fake, base_id + i, f"P{i}", "sq") for i in range(PEOPLE)]

    async def claims() -> list[tuple[str, str | None]]:
        async with db.sessions() as session:
            rows = await session.execute(
                select(OutboxItem.status, OutboxItem.claimed_by).where(OutboxItem.method == "sendMessage")
            )
            return [(status, by) for status, by in rows.all()]

    try:
        with _bot(env, tmp_path / "first.log") as first:
            for person in people:
                person.says("/start")

            async def all_claimed() -> bool:
                held = await claims()
                return len(held) == PEOPLE and all(status == "sending" for status, _ in held)

            await _until(lambda: all_claimed() if first.poll() is None else True, 60, "every reply claimed")
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            await _until(lambda: hold.held >= 1, 30, "sends in flight")
            first.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.wait, 10)
        holders = {by for _, by in await claims()}
        assert fake.texts() == []
        hold.on = False

        restarted = time.monotonic()
        restarted_wall = time.time()
        with _bot(env, tmp_path / "second.log") as second:
            await _until(
                lambda: (
                    len({c.params["chat_id"] for c in fake.calls if c.method == "sendMessage"}) == PEOPLE
                    or second.poll() is not None
                ),
                LEASE / 2,  # a restart that waited for the lease would not get here
                "every reply sent after the restart",
            )
            elapsed = time.monotonic() - restarted
            assert second.poll() is None, (tmp_path / "second.log").read_text()[-3000:]
            started = _started(tmp_path / "second.log")
            await asyncio.sleep(0.5)  # a second send of any of them would have arrived by now
            sends = Counter(str(c.params["chat_id"]) for c in fake.calls if c.method == "sendMessage")
        running = datetime.fromisoformat(started["at"]).timestamp() - restarted_wall if started else float("nan")
        return Restart(elapsed, running, holders, started, {status for status, _ in await claims()}, dict(sends))
    finally:
        await db.dispose()


async def test_after_kill_9_a_restarted_bot_takes_its_claims_back_at_once(
    database_url: str, fake: FakeBotApi, tmp_path: Path
) -> None:
    done = await kill_and_restart(database_url, fake, tmp_path)
    assert len(done.holders) == 1 and None not in done.holders  # the dead process's claims, all still held
    # The restarted process is the same worker, and took the dead one's claims back when it started.
    assert done.started is not None and done.started["worker"] in done.holders
    assert done.started["claims_returned"] == PEOPLE
    assert done.statuses == {"sent"}
    assert sorted(done.sends.values()) == [1] * PEOPLE  # every person's reply, once
    # How much of it was the new process starting (Python's imports, migrations) and how much delivery.
    print(
        f"\nkill -9 and restart: all {PEOPLE} replies out {done.elapsed:.2f} s after the restart "
        f"(the process was delivering after {done.running:.2f} s; lease {LEASE:.0f} s)"
    )
