"""What a test needs to run Homeward as its own process: a free port and the environment."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tests.fakebot import TOKEN, FakeBotApi

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_env(
    database_url: str, fake: FakeBotApi, data_dir: Path, *, port: int | None = None, root: Path = ROOT, **more: str
) -> dict[str, str]:
    """A `homeward` process's environment: none of this machine's HOMEWARD_ settings, this test's
    database, fake Bot API, data folder and console port (a free one unless given), then `more`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEWARD_")}
    env.update(
        {
            "PYTHONPATH": str(root),
            "HOMEWARD_DATABASE_URL": database_url,
            "HOMEWARD_TELEGRAM_TOKEN": TOKEN,
            "HOMEWARD_TELEGRAM_API_BASE": fake.base,
            "HOMEWARD_SECRET_KEY": "test-secret-key",
            "HOMEWARD_DATA_DIR": str(data_dir),
            "HOMEWARD_CONSOLE_PORT": str(free_port() if port is None else port),
            **more,
        }
    )
    return env
