"""Uploaded files, in SQL."""

from __future__ import annotations

from sqlalchemy import insert, select

from vidgate.records import FileRecord
from vidgate.store.sql.concern import SqlConcern
from vidgate.store.sql.rows import file_from, file_values
from vidgate.store.sql.tables import files

__all__ = ["SqlFiles"]


class SqlFiles(SqlConcern):
    async def insert_file(self, file: FileRecord) -> None:
        async with self.db.writing() as conn:
            await conn.execute(insert(files).values(**file_values(file)))

    async def file(self, file_id: str) -> FileRecord | None:
        async with self.db.reading() as conn:
            row = (
                (await conn.execute(select(files).where(files.c.id == file_id))).mappings().first()
            )
            return None if row is None else file_from(row)
