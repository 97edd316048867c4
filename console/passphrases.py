"""What a staff passphrase must be, and a passphrase made for someone who did not choose one.

The rules follow NIST SP 800-63B rather than composition rules: long enough (at least 12
characters), not only spaces, not one of the most common passwords (also with digits or signs
around it, or repeated), and not the account's own name or the service's. The common passwords
are the head of the list Django ships (`django/contrib/auth/common-passwords.txt.gz`, BSD
licence), compiled by Royce Williams from public breach corpora; see `common-passwords.txt`.
"""

from __future__ import annotations

import secrets
import string
from functools import cache
from pathlib import Path

from bot.i18n import N_

MIN_LENGTH = 12
MAX_LENGTH = 1024
COMMON_LIST = Path(__file__).resolve().parent / "common-passwords.txt"
SERVICE_WORDS = ("homeward",)
_AROUND = string.digits + string.punctuation
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or copied from a screen

REASONS = {
    "short": N_("A passphrase needs at least {count} characters."),
    "long": N_("A passphrase can have at most {count} characters."),
    "blank": N_("A passphrase cannot be only spaces."),
    "common": N_("This passphrase is one of the most common passwords. Choose a longer phrase of your own."),
    "personal": N_("A passphrase cannot contain the account name or the name of the service."),
}


@cache
def common_passwords() -> frozenset[str]:
    with COMMON_LIST.open(encoding="utf-8") as f:
        return frozenset(line.rstrip("\n") for line in f if line.strip() and not line.startswith("# "))


def _period(text: str) -> str:
    """The shortest piece that `text` is a repetition of ("abab" → "ab"; "abc" → "abc")."""
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return text[:size]
    return text


def weakness(passphrase: str, account: str = "") -> str | None:
    """Why a passphrase is refused (a key of REASONS), or None when it will do."""
    if not passphrase.strip():
        return "blank"
    if len(passphrase) < MIN_LENGTH:
        return "short"
    if len(passphrase) > MAX_LENGTH:
        return "long"
    compact = "".join(passphrase.lower().split())
    common = common_passwords()
    core = compact.strip(_AROUND)
    unit = _period(compact)
    if compact in common or (len(core) >= 4 and core in common) or len(unit) <= 4 or unit in common:
        return "common"
    words = [*SERVICE_WORDS, account.lower()] if len(account) >= 4 else list(SERVICE_WORDS)
    if any(word in compact for word in words):
        return "personal"
    return None


def limits() -> dict[str, int]:
    """The numbers a reason's message names."""
    return {"short": MIN_LENGTH, "long": MAX_LENGTH}


def generate() -> str:
    """Four groups of four letters and digits (about 79 bits), easy to read out and type once."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))
