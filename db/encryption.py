"""Sensitive fields encrypted at rest (Fernet), with key rotation.

Health and psychosocial answers, community or ethnicity, guardian contacts and free text in
questionnaires are stored as Fernet tokens. The keys come from settings: the current secret key
encrypts, previous ones (kept during a rotation) still decrypt, and `homeward keys rotate`
re-encrypts every row with the current key. The keyring belongs to one engine (it is attached to
that engine's dialect), so two Homeward instances with different keys never mix them.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from db import jsontext

PREFIX = "fernet:"


class MissingKey(RuntimeError):
    """An encrypted column was written or read on an engine without a keyring."""


def field_key(secret: str) -> bytes:
    """A Fernet key derived from a settings secret, separate from every other use of that secret."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"homeward/fields/" + secret.encode()).digest())


class Keyring:
    def __init__(self, secrets: list[str]) -> None:
        if not secrets:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(field_key(s)) for s in secrets])

    def encrypt(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            raise InvalidToken("not an encrypted value")
        return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")

    def encrypt_bytes(self, plain: bytes) -> str:
        return PREFIX + self._fernet.encrypt(plain).decode("ascii")

    def decrypt_bytes(self, stored: str) -> bytes:
        if not stored.startswith(PREFIX):
            raise InvalidToken("not an encrypted value")
        return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii"))

    def rotate(self, stored: str) -> str:
        return PREFIX + self._fernet.rotate(stored[len(PREFIX) :].encode("ascii")).decode("ascii")


def keyring_of(dialect: Dialect) -> Keyring:
    keyring = getattr(dialect, "homeward_keyring", None)
    if keyring is None:
        raise MissingKey("this database engine has no encryption keys")
    return keyring  # type: ignore[no-any-return]


def attach(dialect: Dialect, keyring: Keyring) -> None:
    dialect.homeward_keyring = keyring  # type: ignore[attr-defined]


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value stored as a Fernet token in a text column."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_of(dialect).encrypt(jsontext.dumps(value, default=str))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return jsontext.loads(keyring_of(dialect).decrypt(value))


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring_of(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring_of(dialect).decrypt(value)


class EncryptedBytes(TypeDecorator[bytes]):
    """Bytes (a photo, a voice message) stored as a Fernet token in a text column."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring_of(dialect).encrypt_bytes(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else keyring_of(dialect).decrypt_bytes(value)
