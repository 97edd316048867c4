"""Full-text search structures that live beside the models rather than in them.

SQLite keeps an FTS5 index (`messages_fts`, external content over `messages.norm_text`, kept in
sync by triggers); PostgreSQL keeps a GIN index over `to_tsvector('simple', norm_text)`. Both are
created by migration 0002. Schema comparison must leave them alone, hence `include_name`.
"""

from __future__ import annotations

FTS_TABLE = "messages_fts"
PG_INDEX = "ix_messages_norm_fts"
PG_VECTOR = "to_tsvector('simple', coalesce(norm_text, ''))"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic filter: the search index and FTS5's shadow tables are not described by the models."""
    if type_ == "table" and name is not None and name.startswith(FTS_TABLE):
        return False
    return not (type_ == "index" and name == PG_INDEX)
