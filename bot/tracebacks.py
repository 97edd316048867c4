"""Tracebacks for the log that never quote input.

A validation error's message repeats the value that failed: pydantic writes `input_value=…`
(the text of a malformed update, a name), and FastAPI's request validation errors carry the
request's fields. In a logged traceback such an exception is described by where it failed and
why (location and error type) only. Every other exception keeps its message; call sites never
put what a person wrote in one.
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType

from pydantic import ValidationError

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def _where(loc: object) -> str:
    return ".".join(str(part) for part in loc) if isinstance(loc, (tuple, list)) else str(loc)


def describe(exc: BaseException) -> str:
    """The last line of a traceback for `exc`: its type, and its message unless that could quote input."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        found = "; ".join(f"{_where(e['loc'])}: {e['type']}" for e in errors)
        return f"{name}: {len(errors)} validation errors for {exc.title} ({found})"
    # FastAPI's, when it is loaded at all (a process without the console never imports it).
    fastapi = sys.modules.get("fastapi.exceptions")
    if fastapi is not None and isinstance(exc, fastapi.ValidationException):
        found = "; ".join(f"{_where(e.get('loc'))}: {e.get('type')}" for e in exc.errors() if isinstance(e, dict))
        return f"{name}: {len(exc.errors())} validation errors ({found})"
    message = str(exc)
    return f"{name}: {message}" if message else name


def format_exception(exc_info: ExcInfo) -> str:
    """Like `traceback.format_exception`, causes and contexts included, with `describe` for each exception."""
    _, exc, _ = exc_info
    if exc is None:
        return ""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of the following exception:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "During handling of the above exception, another exception occurred:"
        else:
            current = None
    parts: list[str] = []
    oldest_first = list(reversed(chain))
    for position, (item, _) in enumerate(oldest_first):
        if position:
            parts.append(f"\n{oldest_first[position - 1][1]}\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(item.__traceback__))
        parts.append(describe(item) + "\n")
    return "".join(parts).rstrip("\n")
