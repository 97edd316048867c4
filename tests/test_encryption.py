"""Sensitive answers are encrypted at rest, and keys can be rotated without losing anything."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import InvalidToken
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from bot.engine import pseudonym
from bot.keys import rotate
from db.encryption import Keyring, MissingKey
from db.models import Beneficiary, FormVersion, Submission
from db.session import Database

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
SECRET_ANSWER = "ndihem vetem dhe i trishtuar çdo ditë"


async def _seed(db: Database) -> int:
    async with db.transaction() as session:
        person = Beneficiary(
            channel="telegram",
            channel_ref=pseudonym(b"old-key", "telegram", "42"),
            channel_user_id="42",
            consent="given",
            created_at=NOW,
        )
        version = FormVersion(form_id="reintegration_followup", sha256="x" * 64, created_at=NOW)
        session.add_all([person, version])
        await session.flush()
        submission = Submission(
            beneficiary_id=person.id,
            form_version_id=version.id,
            form_id=version.form_id,
            state={"values": {"p_feel": SECRET_ANSWER}},
            scores={"score_psychosocial": 0.25},
            status="completed",
            started_at=NOW,
            updated_at=NOW,
        )
        session.add(submission)
        await session.flush()
        return submission.id


async def _raw(db: Database, column: str) -> str:
    async with db.sessions() as session:
        return str((await session.execute(text(f"SELECT {column} FROM submissions"))).scalar_one())


async def test_answers_are_stored_as_ciphertext_and_read_back(database_url: str) -> None:
    db = Database(database_url, keyring=Keyring(["old-key"]))
    try:
        submission_id = await _seed(db)
        raw = await _raw(db, "state")
        assert raw.startswith("fernet:") and SECRET_ANSWER not in raw and "p_feel" not in raw
        async with db.sessions() as session:
            assert (await session.get(Submission, submission_id)).state["values"]["p_feel"] == SECRET_ANSWER
        if database_url.startswith("sqlite"):
            path = Path(database_url.split("///", 1)[1])
            async with db.engine.begin() as conn:
                await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            files = [path, *path.parent.glob(path.name + "-*")]
            assert all(SECRET_ANSWER.encode() not in f.read_bytes() for f in files)
    finally:
        await db.dispose()


async def test_no_key_means_no_plain_text_is_ever_written(database_url: str) -> None:
    db = Database(database_url)  # an engine without keys must refuse, not fall back to plain text
    try:
        with pytest.raises(StatementError, match="no encryption keys") as raised:
            await _seed(db)
        assert isinstance(raised.value.orig, MissingKey)
        assert SECRET_ANSWER not in str(raised.value)  # errors never carry the parameters
    finally:
        await db.dispose()


def test_rotation_knows_every_encrypted_column() -> None:
    from bot.keys import encrypted_columns

    names = {f"{table.name}.{column.name}" for table, column in encrypted_columns()}
    assert {
        "submissions.state",
        "submissions.scores",
        "enrolments.full_name",
        "enrolments.guardian_name",
        "enrolments.guardian_contact",
        "media.content",
    } <= names


async def test_rotation_re_encrypts_and_re_keys_pseudonyms(database_url: str) -> None:
    old = Database(database_url, keyring=Keyring(["old-key"]))
    submission_id = await _seed(old)
    before = await _raw(old, "state")
    await old.dispose()

    rotating = Database(database_url, keyring=Keyring(["new-key", "old-key"]))
    counts = await rotate(rotating, Keyring(["new-key", "old-key"]), "new-key")
    assert counts["submissions.state"] == 1 and counts["submissions.scores"] == 1
    assert counts["beneficiaries.channel_ref"] == 1
    assert await _raw(rotating, "state") != before
    await rotating.dispose()

    new_only = Database(database_url, keyring=Keyring(["new-key"]))
    try:
        async with new_only.sessions() as session:
            assert (await session.get(Submission, submission_id)).scores == {"score_psychosocial": 0.25}
            ref = (await session.execute(select(Beneficiary.channel_ref))).scalar_one()
            assert ref == pseudonym(b"new-key", "telegram", "42")
    finally:
        await new_only.dispose()
    stale = Database(database_url, keyring=Keyring(["old-key"]))
    try:
        async with stale.sessions() as session:
            with pytest.raises(InvalidToken):
                await session.get(Submission, submission_id)
    finally:
        await stale.dispose()
