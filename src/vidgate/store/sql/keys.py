"""API keys and the quota ledger, in SQL."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select, update

from vidgate.records import KeyRecord, LedgerEntry
from vidgate.store.sql.concern import SqlConcern
from vidgate.store.sql.rows import key_from, key_values, ledger_from
from vidgate.store.sql.tables import api_keys, ledger

__all__ = ["SqlKeys"]

KEY_BY_HASH = select(api_keys).where(
    api_keys.c.key_hash == bindparam("key_hash"), api_keys.c.revoked_at.is_(None)
)


class SqlKeys(SqlConcern):
    async def insert_key(self, key: KeyRecord) -> None:
        async with self.db.writing() as conn:
            await conn.execute(insert(api_keys).values(**key_values(key)))

    async def key_by_hash(self, key_hash: str) -> KeyRecord | None:
        async with self.db.reading() as conn:
            row = (await conn.execute(KEY_BY_HASH, {"key_hash": key_hash})).mappings().first()
            return None if row is None else key_from(row)

    async def key_by_id(self, key_id: str) -> KeyRecord | None:
        async with self.db.reading() as conn:
            result = await conn.execute(select(api_keys).where(api_keys.c.id == key_id))
            row = result.mappings().first()
            return None if row is None else key_from(row)

    async def list_keys(self) -> list[KeyRecord]:
        async with self.db.reading() as conn:
            result = await conn.execute(select(api_keys).order_by(api_keys.c.created_at))
            return [key_from(row) for row in result.mappings()]

    async def ledger_for(self, key_id: str) -> list[LedgerEntry]:
        async with self.db.reading() as conn:
            result = await conn.execute(
                select(ledger).where(ledger.c.key_id == key_id).order_by(ledger.c.id)
            )
            return [ledger_from(row) for row in result.mappings()]

    async def set_webhook_secret(self, key_id: str, secret: str) -> str:
        async with self.db.writing() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.webhook_secret.is_(None))
                .values(webhook_secret=secret)
            )
            result = await conn.execute(
                select(api_keys.c.webhook_secret).where(api_keys.c.id == key_id)
            )
            return str(result.scalar_one())

    async def set_key_limits(
        self, key_id: str, max_in_flight: int | None, max_submits_per_minute: int | None
    ) -> KeyRecord | None:
        async with self.db.writing() as conn:
            changed = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(max_in_flight=max_in_flight, max_submits_per_minute=max_submits_per_minute)
            )
            if changed.rowcount != 1:
                return None
            result = await conn.execute(select(api_keys).where(api_keys.c.id == key_id))
            return key_from(result.mappings().one())
