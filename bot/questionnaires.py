"""The questionnaires this deployment plays in chat: XLSForms from `content/forms/`, loaded once.

Each form is kept with the hash of its file, so every submission records exactly which version
of the questions it answered (`form_versions`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.forms import Form, Runner, load_form
from db.models import FormVersion


@dataclass(frozen=True)
class Questionnaire:
    form_id: str
    form: Form
    runner: Runner
    sha256: str
    path: Path

    async def version_id(self, session: AsyncSession, now: datetime) -> int:
        """The `form_versions` row of this exact file, created the first time it is used."""
        found = (
            await session.execute(
                select(FormVersion.id).where(FormVersion.form_id == self.form_id, FormVersion.sha256 == self.sha256)
            )
        ).scalar_one_or_none()
        if found is not None:
            return found
        row = FormVersion(
            form_id=self.form_id,
            version=self.form.settings.get("version"),
            sha256=self.sha256,
            title=self.form.settings.get("form_title") or self.form_id,
            created_at=now,
        )
        try:
            async with session.begin_nested():  # another chat may be creating the same row right now
                session.add(row)
        except IntegrityError:
            return (
                await session.execute(
                    select(FormVersion.id).where(FormVersion.form_id == self.form_id, FormVersion.sha256 == self.sha256)
                )
            ).scalar_one()
        return row.id


class Questionnaires:
    def __init__(self, items: dict[str, Questionnaire]) -> None:
        self.items = items

    @classmethod
    def load(cls, folder: Path) -> Questionnaires:
        """Every `*.md` and `*.xlsx` form in `folder`; a form that cannot be played stops the start."""
        items = {}
        for path in sorted([*folder.glob("*.md"), *folder.glob("*.xlsx")]):
            form = load_form(path)
            items[path.stem] = Questionnaire(
                path.stem, form, Runner(form), hashlib.sha256(path.read_bytes()).hexdigest(), path
            )
        return cls(items)

    def get(self, form_id: str) -> Questionnaire | None:
        return self.items.get(form_id)
