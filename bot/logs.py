"""Structured logs: one JSON object per line, with the extra fields a call site adds.

Log records never carry message text, names, passwords or the bot token: call sites log ids and
error types, and the token is masked here in case a library puts a request URL in a message.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import IO, Any

from bot import tracebacks

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return _TOKEN.sub("<token>", json.dumps(entry, default=str, ensure_ascii=False))

    def formatException(self, ei: Any) -> str:
        return tracebacks.format_exception(ei)  # validation errors without the input they quote


# Libraries that log message content or SQL parameters below WARNING; even at DEBUG they stay quiet.
QUIET = (
    "aiogram",
    "aiosqlite",
    "asyncpg",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "httpx",
    "httpcore",
    "aiohttp.access",
    "uvicorn.access",
    "multipart",
)


def configure(level: str = "INFO", stream: IO[str] | None = None) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
