"""Sending a broadcast: how long the coordinator's request takes, against queuing everyone in it.

What is measured. N people (Telegram, consent given, Albanian and Serbian) in a fresh database. The
baseline is the whole queuing in one transaction (`bot.broadcasts.send`: what the request used to
do). Then a second broadcast to the same people the way the console sends one now: the request
records it (`start`), and a `Queue` adds the lines in batches in the background. The ratios of the
request and of the background queuing to the baseline are what to compare across machines and loads.

With `--postgres URL` the run creates its own database next to the given one and drops it afterwards.

Run: python -m bench.broadcast_queue [--people 20000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time

from sqlalchemy.engine import make_url

from bench.delivery_scale import _admin
from bot import broadcasts
from bot.broadcasts import Queue, Segment
from bot.clock import Clock
from db.encryption import Keyring
from db.migrate import upgrade
from db.models import Beneficiary, Conversation
from db.session import Database

TEXTS = {"text_sq": "Nesër zyra është e mbyllur.", "text_sr": "Сутра је канцеларија затворена."}


async def _people(db: Database, n: int) -> None:
    now = Clock().now()
    for first in range(0, n, 1000):
        async with db.transaction() as session:
            people = [
                Beneficiary(
                    channel="telegram",
                    channel_ref=f"ref-{i}",
                    channel_user_id=str(10_000 + i),
                    chat_id=str(10_000 + i),
                    locale=("sq", "sr-Cyrl", "sr-Latn")[i % 3],
                    consent="given",
                    opted_out=False,
                    blocked=False,
                    created_at=now,
                )
                for i in range(first, min(n, first + 1000))
            ]
            session.add_all(people)
            await session.flush()
            session.add_all(Conversation.opened(p.id, now) for p in people)


async def run(url: str, n: int) -> None:
    db = Database(url, keyring=Keyring(["bench"]))
    clock = Clock()
    try:
        await _people(db, n)
        started = time.perf_counter()
        async with db.transaction() as session:
            _, found = await broadcasts.send(
                session, {}, author="bench", token="a" * 32, segment=Segment(), scope=None, now=clock.now(), **TEXTS
            )
        whole = time.perf_counter() - started
        started = time.perf_counter()
        async with db.transaction() as session:
            broadcast = await broadcasts.start(
                session, author="bench", token="b" * 32, segment=Segment(), scope=None, now=clock.now(), **TEXTS
            )
        request = time.perf_counter() - started
        started = time.perf_counter()
        await Queue(db, clock, {}).run(broadcast.id)
        background = time.perf_counter() - started
        async with db.sessions() as session:
            done = await broadcasts.progress(session, broadcast)
    finally:
        await db.dispose()
    print(f"people: {n}, reached: {found.reached}, handled in the background: {done.handled}")
    print(f"baseline, everyone queued in one transaction: {whole:.2f} s")
    print(f"the request now (records the broadcast): {request:.3f} s = {request / whole:.4f} x baseline")
    print(f"queuing in the background, batches of {broadcasts.BATCH}: {background:.2f} s = {background / whole:.2f} x")
    print(f"load: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--postgres", help="postgresql+asyncpg://… (default: a SQLite file)")
    args = parser.parse_args()
    if args.postgres:
        base = make_url(args.postgres)
        own = base.set(database=f"{base.database}_bench_{secrets.token_hex(3)}")
        url = own.render_as_string(hide_password=False)
        asyncio.run(_admin(args.postgres, f'CREATE DATABASE "{own.database}"'))
        try:
            upgrade(url)
            asyncio.run(run(url, args.people))
        finally:
            asyncio.run(_admin(args.postgres, f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)'))
        return
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/bench.db"
        upgrade(url)
        asyncio.run(run(url, args.people))


if __name__ == "__main__":
    main()
