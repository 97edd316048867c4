"""Places in a cohort and the waiting list: who gets a place, who waits where, who is offered next.

Pure: these take counts and the queue as values. A place is *held* by a confirmed person, by one
waiting for their guardian's consent, and by one who has an open offer; people wait in the order
they joined the list, and nobody who arrives later jumps ahead of someone already waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

HOLDING = ("confirmed", "pending_guardian", "offered")  # statuses that hold a place
ACTIVE = (*HOLDING, "waiting", "interested")  # a sign-up that is still going


@dataclass(frozen=True, slots=True)
class Waiting:
    enrolment_id: int
    since: datetime


def free_places(capacity: int, holding: int) -> int:
    return max(capacity - holding, 0)


def gets_place(capacity: int, holding: int, waiting: int) -> bool:
    """A newcomer gets a place only when one is free beyond those owed to people already waiting."""
    return free_places(capacity, holding) > waiting


def queue(waiting: Sequence[Waiting]) -> list[int]:
    """Enrolment ids in waiting-list order: first come, first served (ties by id)."""
    return [w.enrolment_id for w in sorted(waiting, key=lambda w: (w.since, w.enrolment_id))]


def position(waiting: Sequence[Waiting], enrolment_id: int) -> int | None:
    """1 for the first in line; None when not on the list."""
    order = queue(waiting)
    return order.index(enrolment_id) + 1 if enrolment_id in order else None


def next_offers(capacity: int, holding: int, waiting: Sequence[Waiting]) -> list[int]:
    """Who is offered a place now: the first in line, as many as there are free places."""
    return queue(waiting)[: free_places(capacity, holding)]
