"""The store on SQL databases: SQLAlchemy Core tables, Alembic migrations, one module a concern."""

from vidgate.store.sql.store import SqlStore

__all__ = ["SqlStore"]
