"""Key rotation: re-encrypt every sensitive field and re-key pseudonyms with the current secret key.

Rotation, step by step (also in the README):
1. set `HOMEWARD_PREVIOUS_SECRET_KEYS` to the old key and `HOMEWARD_SECRET_KEY` to a new one;
2. restart, then run `homeward keys rotate`;
3. once it reports done, remove the old key from `HOMEWARD_PREVIOUS_SECRET_KEYS`.
Between 1 and 3 both keys decrypt, so nothing stops working during the rotation.
"""

from __future__ import annotations

from sqlalchemy import Column, Table, select, type_coerce, update

import db.integrations
import db.staff
import db.youth  # noqa: F401
from bot.engine import pseudonym
from db.encryption import PREFIX, EncryptedBytes, EncryptedJSON, EncryptedText, Keyring
from db.models import Base, Beneficiary
from db.session import Database


def encrypted_columns() -> list[tuple[Table, Column[object]]]:
    return [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedJSON | EncryptedText | EncryptedBytes)
    ]


async def rotate(db: Database, keyring: Keyring, current_secret: str) -> dict[str, int]:
    """Re-encrypt all encrypted values with the current key; re-key the pseudonyms that can be recomputed."""
    counts: dict[str, int] = {}
    for table, column in encrypted_columns():
        pk = next(iter(table.primary_key.columns))
        raw = column.type.impl  # type: ignore[attr-defined]
        stored = Column(column.name, raw)  # read and write the token itself, not the decrypted value
        done = 0
        if isinstance(column.type, EncryptedBytes):
            # Files run to megabytes each: one row at a time, each in its own transaction.
            async with db.sessions() as session:
                keys = list((await session.execute(select(pk).select_from(table).where(column.isnot(None)))).scalars())
            for key in keys:
                async with db.transaction() as session:
                    token = (await session.execute(select(stored).select_from(table).where(pk == key))).scalar()
                    if isinstance(token, str) and token.startswith(PREFIX):
                        fresh = type_coerce(keyring.rotate(token), raw)
                        await session.execute(update(table).where(pk == key).values({column.name: fresh}))
                        done += 1
            counts[f"{table.name}.{column.name}"] = done
            continue
        async with db.transaction() as session:
            rows = (await session.execute(select(pk, stored).select_from(table).where(column.isnot(None)))).all()
            for key, token in rows:
                if isinstance(token, str) and token.startswith(PREFIX):
                    fresh = type_coerce(keyring.rotate(token), raw)  # bypass the column's own encryption
                    await session.execute(update(table).where(pk == key).values({column.name: fresh}))
                    done += 1
        counts[f"{table.name}.{column.name}"] = done
    rekeyed = 0
    async with db.transaction() as session:
        people = (await session.execute(select(Beneficiary).where(Beneficiary.channel_user_id.isnot(None)))).scalars()
        for person in people:
            ref = pseudonym(current_secret.encode(), person.channel, person.channel_user_id or "")
            if ref != person.channel_ref:
                person.channel_ref = ref
                rekeyed += 1
    counts["beneficiaries.channel_ref"] = rekeyed
    return counts
