"""How a failure is described where people's words must not appear: in logs and on stored rows.

An exception's own text often carries what a person sent: pydantic's validation errors quote the
input value, and a database error quotes the statement's parameters. What we keep and log instead
is the error's type, the field path of a validation error, and the place in our code where it
was raised — enough to find the cause, never a value.
"""

from __future__ import annotations

import traceback
from pathlib import PurePath

from pydantic import ValidationError

MOST_FIELDS = 5  # a validation error lists at most this many field paths


def field_paths(exc: ValidationError) -> str:
    """`loc (type)` of each failing field, e.g. `message.forward_origin (union_tag_invalid)`."""
    found = exc.errors(include_url=False, include_context=False, include_input=False)
    parts = [f"{'.'.join(str(step) for step in error['loc']) or '(update)'} ({error['type']})" for error in found]
    more = f" and {len(parts) - MOST_FIELDS} more" if len(parts) > MOST_FIELDS else ""
    return ", ".join(parts[:MOST_FIELDS]) + more


def describe(exc: BaseException) -> str:
    """The error's type and where it happened, without the values it carries."""
    if isinstance(exc, ValidationError):
        return f"ValidationError at {field_paths(exc)}"
    name = type(exc).__name__
    cause = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error
    if isinstance(cause, BaseException):
        name += f" ({type(cause).__name__})"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        name += f" in {PurePath(last.filename).name}:{last.lineno} {last.name}"
    return name[:500]
