"""How long a sign-in must wait after failed tries: slowing, never a lock somebody else can set off.

Three counts of recent failures are kept apart, each with its own slowing:

- one address guessing one account (`PAIR`) is slowed hard: after 3 failures the wait doubles
  from 2 s up to a quarter of an hour;
- one address trying many names (`ADDRESS`) likewise, after 10;
- one account tried from many addresses (`ACCOUNT`) only gently, capped at a minute, and not at
  all for an address where that account signed in successfully before (`FAMILIAR`). This is what
  keeps the real person able to sign in while someone elsewhere types wrong passwords for their
  name, which a lock after five failures did not.

A try refused for waiting is not a failure: it neither checks the password nor adds to a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(hours=1)  # failures older than this no longer count
FAMILIAR = timedelta(days=90)  # a successful sign-in from an address this recent makes it familiar


@dataclass(frozen=True)
class Slowing:
    free: int  # failures allowed before any wait
    first: float  # seconds of the first wait
    cap: float  # the longest wait, in seconds

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap, self.first * 2 ** (failures - self.free))

    def wait(self, failures: int, last: datetime | None, now: datetime) -> float:
        """Seconds until the next try may be checked, after `failures`, the latest at `last`."""
        if last is None:
            return 0.0
        return max(0.0, (last + timedelta(seconds=self.delay(failures)) - now).total_seconds())


PAIR = Slowing(free=3, first=2.0, cap=900.0)
ADDRESS = Slowing(free=10, first=2.0, cap=900.0)
ACCOUNT = Slowing(free=5, first=1.0, cap=60.0)


@dataclass(frozen=True)
class Recent:
    """Failures counted for one sign-in: their numbers and the latest of each, and the address's standing."""

    pair: int
    pair_last: datetime | None
    address: int
    address_last: datetime | None
    account: int
    account_last: datetime | None
    familiar: bool


def wait(recent: Recent, now: datetime) -> float:
    """Seconds the try must wait (0: check the password now)."""
    waits = [
        PAIR.wait(recent.pair, recent.pair_last, now),
        ADDRESS.wait(recent.address, recent.address_last, now),
    ]
    if not recent.familiar:
        waits.append(ACCOUNT.wait(recent.account, recent.account_last, now))
    return max(waits)
