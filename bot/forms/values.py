"""ODK value semantics: how answers convert to numbers, strings and booleans, and the pure functions.

Values inside an expression are Python ``str`` (text, choices, calculate results, as ODK keeps
them in the instance), ``float`` (arithmetic), ``bool``, ``datetime.date`` (date answers,
``today()``) and ``list`` (a field inside a repeat, read from outside it). An empty answer is ``''``
and becomes NaN in arithmetic, so ``${x} > 3`` is false rather than an error. A string that looks
like an ISO date counts as days since 1970-01-01, which is how ODK subtracts two dates.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

EPOCH = date(1970, 1, 1)
EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_ISO_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$")
_NUMBER = re.compile(r"^\s*-?(\d+(\.\d*)?|\.\d+)\s*$")


class EvaluationError(ValueError):
    """An expression that ODK would stop on (an impossible date); the runner records it and goes on."""


def to_datetime(value: Any) -> datetime | None:
    """A moment from a datetime, an ISO date-time string (offset kept), a date, or a number of days."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if math.isnan(value) or math.isinf(value) or abs(value) > 3e6:
            return None
        return EPOCH_UTC + timedelta(days=value)
    text = str(value).strip()
    match = _ISO_DATETIME.match(text)
    if match:
        try:
            return _moment(match)
        except ValueError:
            return None
    day = to_date(text)
    return datetime.combine(day, time()) if day else None


def _zone(text: str | None) -> Any:
    if not text:
        return None
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _moment(match: re.Match[str]) -> datetime:
    year, month, day, hour, minute = (int(match[i]) for i in range(1, 6))
    second = int(match[6] or 0)
    micro = int((match[7] or "0")[:6].ljust(6, "0"))
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=_zone(match[8]))


def days_since_epoch(moment: datetime) -> float:
    """Days since 1970-01-01 with the time of day as a fraction; a local time counts as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - EPOCH_UTC).total_seconds() / 86400.0


def iso_moment(moment: datetime) -> str:
    """A moment as ODK writes it: 2024-05-01T14:03:09.120+02:00."""
    text = moment.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") and moment.tzinfo is UTC else text


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
    if isinstance(value, datetime):
        return days_since_epoch(value)
    if isinstance(value, date):
        return float((value - EPOCH).days)
    text = str(value)
    if _NUMBER.match(text):
        return float(text)
    text = text.strip()
    if not text or text[0] not in "0123456789":
        return math.nan
    day = to_date(text)  # a date-time written as text counts the days of its date, as JavaRosa and Web Forms do
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
        text = repr(value)
        if "e" in text:
            text = f"{Decimal(text):f}"
        return text
    if isinstance(value, datetime):
        return iso_moment(value)
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
            a, b = to_num(left), to_num(right)
            equal = a == b or abs(a - b) < 1e-12  # 6.1 - 7.8 = -1.7 holds, as in JavaRosa
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
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    if b == 0 or math.isnan(a) or math.isnan(b) or math.isinf(a):
        return math.nan
    return math.fmod(a, b)


def _round(x: Any, digits: Any = 0.0) -> float:
    """Halves go up, towards +∞, on the decimal digits as written (2.15 → 2.2, -0.5 → -0), as in JavaRosa."""
    value = to_num(x)
    if math.isnan(value) and isinstance(x, str) and re.fullmatch(r"\s*-?\d+,\d+\s*", x):
        value = float(x.replace(",", "."))  # JavaRosa reads a decimal comma here
    places = to_num(digits)
    if math.isnan(value) or math.isinf(value) or math.isnan(places):
        return value if not math.isnan(places) else math.nan
    try:
        exponent = Decimal(1).scaleb(-int(places))
        mode = ROUND_HALF_UP if value >= 0 else ROUND_HALF_DOWN
        rounded = Decimal(repr(value)).quantize(exponent, rounding=mode)
    except InvalidOperation:
        return value
    return math.copysign(float(rounded), value) if float(rounded) == 0 else float(rounded)


def _int(x: Any) -> float:
    value = to_num(x)
    return value if math.isnan(value) or math.isinf(value) else float(math.trunc(value))


def _format_date(value: Any, pattern: Any) -> str:
    moment = to_datetime(value)
    if isinstance(value, str) and value.strip() and moment is None:
        match = _ISO_TIME.match(value.strip())  # a time answer alone: today's date does not matter
        moment = datetime(1970, 1, 1, int(match[1]), int(match[2]), int(match[3] or 0)) if match else None
    if moment is None:
        return ""
    parts = {
        "%Y": f"{moment.year:04d}", "%y": f"{moment.year % 100:02d}", "%m": f"{moment.month:02d}",
        "%n": str(moment.month), "%d": f"{moment.day:02d}", "%e": str(moment.day),
        "%b": moment.strftime("%b"), "%a": moment.strftime("%a"), "%H": f"{moment.hour:02d}",
        "%h": str(moment.hour), "%M": f"{moment.minute:02d}", "%S": f"{moment.second:02d}",
        "%3": f"{moment.microsecond // 1000:03d}",
    }  # fmt: skip
    return re.sub(r"%[YymndebaHhMS3]", lambda m: parts[m.group(0)], to_str(pattern))


def _date(value: Any) -> Any:
    """date(): a date from text or days; '' stays ''; anything else is an error, as in JavaRosa."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, bool):
        raise EvaluationError("date() of a true/false value")
    if isinstance(value, str) and not value.strip():
        return ""
    if isinstance(value, datetime):
        return value
    day = to_date(value)
    if day is None:
        moment = to_datetime(value)
        if moment is None:
            raise EvaluationError("date() of text that is not a date")
        return moment
    if isinstance(value, str) and _ISO_DATETIME.match(value.strip()):
        return to_datetime(value)
    return day


def _decimal_date_time(value: Any) -> float:
    moment = to_datetime(value)
    return math.nan if moment is None else days_since_epoch(moment)


def _decimal_time(value: Any) -> float:
    match = _ISO_TIME.match(to_str(value).strip())
    if not match:
        return math.nan
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    millis = int((match[4] or "0")[:3].ljust(3, "0"))
    if hour > 23 or minute > 59 or second > 59:
        return math.nan
    local = (hour * 3600 + minute * 60 + second + millis / 1000) / 86400.0
    offset = _zone(match[5])
    if offset is not None:
        local -= offset.utcoffset(None).total_seconds() / 86400.0
        local %= 1.0
    return local


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


def _index(value: Any, size: int, default: int) -> int:
    number = to_num(value)
    if math.isnan(number):
        return default
    if math.isinf(number):
        return size if number > 0 else -size
    return int(number)


def _substr(text: Any, start: Any, end: Any = None) -> str:
    """substr(s, start, end): zero-based, a negative index counts from the end (JavaRosa)."""
    s = to_str(text)
    size = len(s)
    begin = _index(start, size, 0)
    stop = size if end is None or to_str(end) == "" else _index(end, size, size)
    begin = max(0, begin + size if begin < 0 else begin)
    stop = max(0, stop + size if stop < 0 else stop)
    return s[min(begin, size) : min(stop, size)] if stop > begin else ""


def _xpath_round(number: float) -> float:
    return math.floor(number + 0.5) if math.isfinite(number) else number


def _substring(text: Any, start: Any, length: Any = None) -> str:
    """XPath 1.0 substring(): one-based, rounded, and empty when NaN is involved."""
    s = to_str(text)
    first = _xpath_round(to_num(start))
    if length is None:
        last = math.inf
    else:
        last = first + _xpath_round(to_num(length))
    if math.isnan(first) or math.isnan(last):
        return ""
    return "".join(ch for i, ch in enumerate(s, start=1) if first <= i < last)


def _math(fn: Callable[..., float]) -> Callable[..., float]:
    def run(*args: Any) -> float:
        try:
            return float(fn(*(to_num(a) for a in args)))
        except (ValueError, OverflowError):
            return math.nan

    return run


def _digest(text: Any, algorithm: Any, encoding: Any = "base64") -> str:
    names = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
    name = names.get(to_str(algorithm).strip().upper())
    if name is None:
        raise EvaluationError("digest() of an algorithm ODK does not know")
    raw = hashlib.new(name, to_str(text).encode("utf-8")).digest()
    if to_str(encoding).strip().lower() == "hex":
        return raw.hex()
    return base64.b64encode(raw).decode("ascii")


def _uuid(size: Any = None, source: random.Random | None = None) -> str:
    """uuid(): a version 4 UUID; uuid(n): n random letters and digits, as ODK gives."""
    draw = source or random.SystemRandom()
    if size is None:
        return str(uuid.UUID(int=draw.getrandbits(128), version=4))
    wanted = to_num(size)
    if math.isnan(wanted) or wanted < 1 or wanted > 1000:
        raise EvaluationError("uuid() of a length that is not a positive number")
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(draw.choice(alphabet) for _ in range(int(wanted)))


def _bounded(count: float, low: Any, high: Any) -> bool:
    least, most = to_num(low), to_num(high)
    return (math.isnan(least) or least < 0 or count >= least) and (math.isnan(most) or most < 0 or count <= most)


def _checklist(low: Any, high: Any, args: tuple[Any, ...]) -> bool:
    return _bounded(float(sum(1 for item in _items(args) if to_bool(item))), low, high)


def _weighted(low: Any, high: Any, args: tuple[Any, ...]) -> bool:
    items = _items(args)
    pairs = zip(items[0::2], items[1::2], strict=False)
    return _bounded(sum(to_num(weight) for value, weight in pairs if to_bool(value)), low, high)


def _translation(source: str, target: str) -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for i, char in enumerate(source):
        table.setdefault(ord(char), target[i] if i < len(target) else None)  # the first mapping wins
    return table


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
    "boolean-from-string": lambda a: to_str(a).strip() in ("true", "1"),
    "concat": lambda *args: "".join(to_str(item) for item in _items(args)),
    "join": lambda sep, *args: to_str(sep).join(to_str(item) for item in _items(args)),
    "regex": lambda a, pattern: re.search(to_str(pattern), to_str(a)) is not None,
    "int": _int,
    "coalesce": lambda a, b: a if to_str(a) not in ("", "NaN") else b,
    "date": _date,
    "date-time": _date,
    "decimal-date-time": _decimal_date_time,
    "decimal-date": _decimal_date_time,
    "decimal-time": _decimal_time,
    "format-date": _format_date,
    "format-date-time": _format_date,
    "round": _round,
    "floor": _math(math.floor),
    "ceiling": _math(math.ceil),
    "abs": _math(abs),
    "pow": _math(math.pow),
    "sqrt": _math(math.sqrt),
    "exp": _math(math.exp),
    "exp10": _math(lambda x: math.pow(10, x)),
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
    "count-non-empty": lambda a: float(sum(1 for item in _items((a,)) if to_str(item) != "")),
    "uuid": _uuid,
    "digest": _digest,
    "checklist": lambda low, high, *args: _checklist(low, high, args),
    "weighted-checklist": lambda low, high, *args: _weighted(low, high, args),
    "min": _extreme(min),
    "max": _extreme(max),
    "contains": lambda a, b: to_str(b) in to_str(a),
    "starts-with": lambda a, b: to_str(a).startswith(to_str(b)),
    "ends-with": lambda a, b: to_str(a).endswith(to_str(b)),
    "substr": _substr,
    "substring": _substring,
    "substring-before": lambda a, b: to_str(a).partition(to_str(b))[0] if to_str(b) and to_str(b) in to_str(a) else "",
    "substring-after": lambda a, b: (
        to_str(a) if not to_str(b) else to_str(a).partition(to_str(b))[2] if to_str(b) in to_str(a) else ""
    ),
    "translate": lambda a, b, c: to_str(a).translate(_translation(to_str(b), to_str(c))),
}
