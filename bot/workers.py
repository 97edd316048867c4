"""Which delivery worker this process is: an id that survives a restart on the same machine and data.

A claim on an outbox row carries the id of the worker that made it. A process restarted under the
id it had returns its own claims to the queue at once, instead of waiting a whole lease for them.
Unless `HOMEWARD_WORKER_ID` is set, the id is made of the host name, a digest of the database URL,
and a slot: the first `worker-<n>.lock` in the data folder that no running process holds. A slot
is held with an exclusive `flock`, which the kernel lets go of when its process ends however it
ends (kill -9 included): two live processes on one machine and database never share an id, and a
restarted one takes its old slot, and with it its old claims, back.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)
SLOTS = 64  # more delivering processes than this on one machine and database is a mistake


class WorkerSlot:
    """A slot in the data folder, held by this process for as long as it delivers."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.data_dir = data_dir
        self.database = hashlib.sha256(database_url.encode()).hexdigest()[:8]
        self._held: IO[str] | None = None
        self.worker_id: str | None = None

    def acquire(self) -> str:
        """This process's worker id; the same id after a restart, unless another live process holds it."""
        if self.worker_id is not None:
            return self.worker_id
        host = socket.gethostname()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            for slot in range(SLOTS):
                worker_id = f"{host}:{self.database}:{slot}"
                held = (self.data_dir / f"worker-{slot}.lock").open("a+")
                try:
                    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    held.close()  # a live process is this worker
                    continue
                held.seek(0)
                held.truncate()
                held.write(worker_id + "\n")  # for whoever looks: which id this slot stands for
                held.flush()
                self._held, self.worker_id = held, worker_id
                return worker_id
            log.warning("every worker slot in the data folder is held; this process's id will not survive a restart")
        except OSError as exc:
            log.warning(
                "no worker slot in the data folder; this process's id will not survive a restart",
                extra={"error": type(exc).__name__},
            )
        self.worker_id = f"{host}:{os.getpid()}"
        return self.worker_id

    def release(self) -> None:
        if self._held is not None:
            self._held.close()  # closing the file lets the lock go
            self._held = None
        self.worker_id = None
