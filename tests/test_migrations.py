"""The migrations build exactly the schema the models describe, on the database under test."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from db.models import Base
from db.search import include_name
from db.session import create_engine


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": False, "include_name": include_name})
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    await engine.dispose()
    assert differences == []
