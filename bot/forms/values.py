"""ODK value semantics: how answers convert to numbers, strings and booleans, and the pure functions.

Values inside an expression are Python ``str`` (text, choices, calculate results, as ODK keeps
them in the instance), ``float`` (arithmetic), ``bool``, ``datetime.date`` (date answers,
``today()``) and ``list`` (a field inside a repeat, read from outside it). An empty answer is ``''``
and becomes NaN in arithmetic, so ``${x} > 3`` is false rather than an error. A string that looks
like an ISO date counts as days since 1970-01-01, which is how ODK subtracts two dates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

EPOCH = date(1970, 1, 1)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")


def to_date(value: Any) -> date | None:
    """A date from a date, an ISO string, or a number of days since 1970-01-01."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return None if math.isnan(value) or math.isinf(value) else EPOCH + timedelta(days=math.floor(value))
    match = _ISO_DATE.match(str(value).strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def to_num(value: Any) -> float:
    """XPath number(): NaN for empty or unreadable text; dates count days since 1970-01-01."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, date):
        return float((value - EPOCH).days)
    text = str(value).strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        day = to_date(text)
        return float((day - EPOCH).days) if day else math.nan


def to_str(value: Any) -> str:
    """XPath string(), with ODK's spelling of numbers: 3.0 is "3", NaN is "NaN"."""
    if isinstance(value, list):
        return to_str(value[0]) if value else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_bool(value: Any) -> bool:
    """XPath boolean()."""
    if isinstance(value, list):
        return any(to_bool(item) for item in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return not (value == 0 or math.isnan(value))
    return bool(to_str(value))


def compare(symbol: str, left: Any, right: Any) -> bool:
    """XPath 1.0 comparison; a list (repeat values) compares true if any item does."""
    if isinstance(left, list):
        return any(compare(symbol, item, right) for item in left)
    if isinstance(right, list):
        return any(compare(symbol, left, item) for item in right)
    if symbol in ("=", "!="):
        if isinstance(left, bool) or isinstance(right, bool):
            equal = to_bool(left) == to_bool(right)
        elif isinstance(left, float) or isinstance(right, float):
            equal = to_num(left) == to_num(right)
        else:
            equal = to_str(left) == to_str(right)
        return equal if symbol == "=" else not equal
    a, b = to_num(left), to_num(right)
    if symbol == "<":
        return a < b
    if symbol == "<=":
        return a <= b
    if symbol == ">":
        return a > b
    return a >= b


def arithmetic(symbol: str, left: Any, right: Any) -> float:
    a, b = to_num(left), to_num(right)
    if symbol == "+":
        return a + b
    if symbol == "-":
        return a - b
    if symbol == "*":
        return a * b
    if symbol == "div":
        if b == 0:
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
        return a / b
    if b == 0 or math.isnan(a) or math.isnan(b) or math.isinf(a):
        return math.nan
    return math.fmod(a, b)


def _round(x: Any, digits: Any = 0.0) -> float:
    value, places = to_num(x), int(to_num(digits) or 0)
    if math.isnan(value) or math.isinf(value):
        return value
    factor = 10.0**places
    return math.floor(value * factor + 0.5) / factor


def _int(x: Any) -> float:
    value = to_num(x)
    return value if math.isnan(value) or math.isinf(value) else float(math.trunc(value))


def _format_date(value: Any, pattern: Any) -> str:
    day = to_date(value)
    if day is None:
        return ""
    parts = {
        "%Y": f"{day.year:04d}", "%y": f"{day.year % 100:02d}", "%m": f"{day.month:02d}",
        "%n": str(day.month), "%d": f"{day.day:02d}", "%e": str(day.day), "%b": day.strftime("%b"),
        "%a": day.strftime("%a"), "%H": "00", "%M": "00", "%S": "00",
    }  # fmt: skip
    return re.sub(r"%[YymndebaHMS]", lambda m: parts[m.group(0)], to_str(pattern))


def _items(args: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for arg in args:
        out.extend(arg if isinstance(arg, list) else [arg])
    return out


def _extreme(pick: Callable[[list[float]], float]) -> Callable[..., float]:
    def run(*args: Any) -> float:
        numbers = [to_num(item) for item in _items(args) if to_str(item) != ""]
        if not numbers or any(math.isnan(n) for n in numbers):
            return math.nan
        return pick(numbers)

    return run


def _substr(text: Any, start: Any, end: Any = None) -> str:
    s = to_str(text)
    begin = max(0, int(to_num(start)))
    return s[begin:] if end is None else s[begin : max(begin, int(to_num(end)))]


def _substring(text: Any, start: Any, length: Any = None) -> str:
    s, first = to_str(text), round(to_num(start))
    last = len(s) + 1 if length is None else first + round(to_num(length))
    return "".join(ch for i, ch in enumerate(s, start=1) if first <= i < last)


def _math(fn: Callable[..., float]) -> Callable[..., float]:
    def run(*args: Any) -> float:
        try:
            return float(fn(*(to_num(a) for a in args)))
        except (ValueError, OverflowError):
            return math.nan

    return run


PURE: dict[str, Callable[..., Any]] = {
    "selected": lambda a, b: to_str(b).strip() in to_str(a).split(),
    "count-selected": lambda a: float(len(to_str(a).split())),
    "selected-at": lambda a, i: (lambda parts, k: parts[k] if 0 <= k < len(parts) else "")(
        to_str(a).split(), int(to_num(i)) if not math.isnan(to_num(i)) else -1
    ),
    "not": lambda a: not to_bool(a),
    "true": lambda: True,
    "false": lambda: False,
    "boolean": to_bool,
    "boolean-from-string": lambda a: to_str(a).strip().lower() in ("true", "1"),
    "concat": lambda *args: "".join(to_str(item) for item in _items(args)),
    "join": lambda sep, *args: to_str(sep).join(to_str(item) for item in _items(args)),
    "regex": lambda a, pattern: re.search(to_str(pattern), to_str(a)) is not None,
    "int": _int,
    "coalesce": lambda a, b: a if to_str(a) != "" else b,
    "date": lambda a: to_date(a) or "",
    "date-time": lambda a: to_date(a) or "",
    "decimal-date-time": lambda a: to_num(to_date(a) or math.nan),
    "decimal-date": lambda a: to_num(to_date(a) or math.nan),
    "format-date": _format_date,
    "format-date-time": _format_date,
    "round": _round,
    "floor": _math(math.floor),
    "ceiling": _math(math.ceil),
    "abs": _math(abs),
    "pow": _math(math.pow),
    "sqrt": _math(math.sqrt),
    "exp": _math(math.exp),
    "log": _math(math.log),
    "log10": _math(math.log10),
    "sin": _math(math.sin),
    "cos": _math(math.cos),
    "tan": _math(math.tan),
    "asin": _math(math.asin),
    "acos": _math(math.acos),
    "atan": _math(math.atan),
    "atan2": _math(math.atan2),
    "pi": lambda: math.pi,
    "sum": lambda a: float(sum(to_num(item) for item in _items((a,)) if to_str(item) != "")),
    "count": lambda a: float(len(a)) if isinstance(a, list) else 1.0,
    "min": _extreme(min),
    "max": _extreme(max),
    "contains": lambda a, b: to_str(b) in to_str(a),
    "starts-with": lambda a, b: to_str(a).startswith(to_str(b)),
    "ends-with": lambda a, b: to_str(a).endswith(to_str(b)),
    "substr": _substr,
    "substring": _substring,
    "substring-before": lambda a, b: to_str(a).partition(to_str(b))[0] if to_str(b) in to_str(a) else "",
    "substring-after": lambda a, b: to_str(a).partition(to_str(b))[2] if to_str(b) in to_str(a) else "",
    "translate": lambda a, b, c: to_str(a).translate(
        {ord(x): (to_str(c)[i] if i < len(to_str(c)) else None) for i, x in enumerate(to_str(b))}
    ),
}
