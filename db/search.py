"""Full-text search structures that live beside the models rather than in them.

SQLite keeps an FTS5 index (`messages_fts`, external content over `messages.norm_text`, kept in
sync by triggers); PostgreSQL keeps a GIN index over a generated column `search_vector`, that is
`to_tsvector('simple', norm_text)` with punctuation read as space. Both come from migration 0002;
schema comparison leaves them alone (`include_name`).
"""

from __future__ import annotations

FTS_TABLE = "messages_fts"
PG_INDEX = "ix_messages_norm_fts"
PG_COLUMN = "search_vector"
# Punctuation becomes space first: PostgreSQL's parser would otherwise keep "document.title" or
# "a/b" as one token, where SQLite (and a reader) see two words. The vector is a stored generated
# column, so a scan that checks it row by row (the planner's choice for very common words) is cheap.
PG_VECTOR = "to_tsvector('simple', regexp_replace(coalesce(norm_text, ''), '[^[:alnum:]]+', ' ', 'g'))"
PG_DDL = (
    f"ALTER TABLE messages ADD COLUMN {PG_COLUMN} tsvector GENERATED ALWAYS AS ({PG_VECTOR}) STORED",
    f"CREATE INDEX {PG_INDEX} ON messages USING gin ({PG_COLUMN})",
)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic filter: the search index and FTS5's shadow tables are not described by the models."""
    if type_ == "table" and name is not None and name.startswith(FTS_TABLE):
        return False
    if type_ == "column" and name == PG_COLUMN:
        return False
    return not (type_ == "index" and name == PG_INDEX)
