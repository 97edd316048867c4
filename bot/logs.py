"""Structured logs: one JSON object per line, with the extra fields a call site adds.

Log records never carry message text, names, passwords or the bot token: call sites log ids and
error types, and the token is masked here in case a library puts a request URL in a message or a
traceback. Every logger goes through this one formatter: Homeward's, the libraries' (uvicorn,
asyncio, aiogram, aiohttp…), Python's warnings, and uncaught exceptions in any thread. Handlers a
library attached to its own logger (plain text, on standard error) are taken off by `route_all`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any

from bot import tracebacks

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
log = logging.getLogger(__name__)


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
        elif record.exc_text:
            entry["error"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
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
    logging.captureWarnings(True)  # warnings.warn goes to the "py.warnings" logger, not to standard error
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread
    sys.unraisablehook = _unraisable
    route_all()


def route_all() -> None:
    """Every logger that exists now hands its records to the root's JSON handler, and only to it.

    Libraries that attach a handler of their own when imported (pyxform's plain-text one, for
    instance) lose it; run again once a process has imported everything it will use.
    """
    for logger in logging.Logger.manager.loggerDict.values():
        if not isinstance(logger, logging.Logger):
            continue  # a placeholder: no logger there yet
        logger.handlers[:] = [h for h in logger.handlers if isinstance(h, logging.NullHandler)]
        logger.propagate = True


def _uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    log.critical("uncaught exception", exc_info=(kind, error, trace))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    log.critical(
        "uncaught exception in a thread",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        extra={"thread": args.thread.name if args.thread else None},
    )


def _unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    error = unraisable.exc_value
    log.error(
        "exception that could not be raised",
        exc_info=(unraisable.exc_type, error, unraisable.exc_traceback) if error is not None else None,
        extra={"where": type(unraisable.object).__name__},
    )
