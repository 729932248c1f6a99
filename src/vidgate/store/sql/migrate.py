"""Alembic migrations, run in-process on an open connection.

Alembic is imported only when a migration has to run: a process that opens an
up-to-date database checks the current revision with a plain query instead.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["alembic_config", "head_revisions", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
_ASSIGNMENT = re.compile(r'^(revision|down_revision)\s*=\s*(?:"([^"]*)"|None)\s*$', re.MULTILINE)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, pointed at vidgate's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revisions() -> frozenset[str]:
    """The revisions no other migration revises, read from the migration files' source."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for name, value in _ASSIGNMENT.findall(script.read_text(encoding="utf-8")):
            if value:
                (revisions if name == "revision" else revised).add(value)
    return frozenset(revisions - revised)


def current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions the database is at; empty for a database never migrated."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return frozenset(str(row[0]) for row in rows)


def upgrade(connection: Connection) -> None:
    """Apply every migration not yet applied."""
    heads = head_revisions()
    if heads and current_revisions(connection) == heads:
        return
    from alembic import command

    command.upgrade(alembic_config(connection), "head")
