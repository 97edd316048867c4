"""kill -9 and an immediate restart of `homeward bot`: how long until every answered reply is out.

What is measured. The scenario of tests/test_restart_e2e.py: twenty people write, a real
`homeward bot` process (default settings, the fake Bot API) answers and claims the twenty replies,
and is killed with SIGKILL while the sends hang. A second process is started at once; the time
runs from its start to the last of the twenty replies arriving at the fake Bot API. Each round
also measures, on the same machine at the same moment, two baselines that this code does not
change: a bare interpreter (`python -c pass`) and aiogram imported as it comes (every one of its
models built, which was the largest part of a start). The ratios against them stay comparable when
the machine is busy; the seconds do not.

`--against DIR` also runs, in every round, the bot from another source tree (for instance an
export of an earlier commit), so that before and after are measured side by side. With `--postgres
URL` each round creates its own database next to the given one and drops it afterwards.

Run: python -m bench.restart_delivery [--rounds 5] [--against DIR] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.migrate import upgrade_async
from db.session import create_engine
from tests.fakebot import FakeBotApi
from tests.test_restart_e2e import PEOPLE, ROOT, kill_and_restart


def _timed(code: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tempfile.gettempdir())
    return time.monotonic() - started


async def _admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(statement))
    await engine.dispose()


async def _one(tree: Path, postgres: str | None, work: Path) -> tuple[float, float]:
    if postgres:
        own = make_url(postgres).set(database=f"{make_url(postgres).database}_restart_{secrets.token_hex(3)}")
        url = own.render_as_string(hide_password=False)
        await _admin(postgres, f'CREATE DATABASE "{own.database}"')
    else:
        url = f"sqlite+aiosqlite:///{work / 'homeward.db'}"
    fake = await FakeBotApi().start()
    try:
        await upgrade_async(url)
        done = await kill_and_restart(url, fake, work, root=tree)
        if done.statuses != {"sent"} or sorted(done.sends.values()) != [1] * PEOPLE:
            raise SystemExit(f"{tree}: not every reply sent exactly once: {done.statuses} {done.sends}")
        return done.elapsed, done.running
    finally:
        await fake.stop()
        if postgres:
            await _admin(postgres, f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)')


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another source tree to run side by side")
    parser.add_argument("--postgres", help="a PostgreSQL URL (postgresql+asyncpg://...)")
    args = parser.parse_args()
    trees = {"this tree": ROOT, **({"against": args.against.resolve()} if args.against else {})}
    bare: list[float] = []
    eager: list[float] = []
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        bare.append(_timed("pass"))
        eager.append(_timed("import aiogram"))  # without Homeward's package: every model built at import
        for name, tree in trees.items():
            with tempfile.TemporaryDirectory() as work:
                figures[name].append(await _one(tree, args.postgres, Path(work)))
        print(
            f"round {round_ + 1}: load {os.getloadavg()[0]:.1f}; python -c pass {bare[-1]:.2f} s, "
            f"import aiogram {eager[-1]:.2f} s; "
            + "; ".join(
                f"{name}: all out {f[-1][0]:.2f} s (delivering at {f[-1][1]:.2f} s)" for name, f in figures.items()
            ),
            flush=True,
        )
    base, ref = statistics.median(bare), statistics.median(eager)
    print(f"\ndatabase: {'PostgreSQL' if args.postgres else 'SQLite'}; {args.rounds} rounds; medians")
    print(f"  python -c pass        {base:6.2f} s")
    print(f"  import aiogram        {ref:6.2f} s")
    for name, found in figures.items():
        out = statistics.median(e for e, _ in found)
        running = statistics.median(r for _, r in found)
        print(
            f"  {name:<12} all {PEOPLE} out {out:6.2f} s  = {out / base:5.1f} x bare python, "
            f"{out / ref:4.2f} x import aiogram  (delivering at {running:.2f} s)"
        )


if __name__ == "__main__":
    asyncio.run(main())
