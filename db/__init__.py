"""Storage: SQLAlchemy 2 models, sessions and migrations for SQLite (default) and PostgreSQL."""
