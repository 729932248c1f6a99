"""API key administration: create and list keys, whose secrets are only ever stored hashed."""

from __future__ import annotations

from dataclasses import dataclass

from vidgate.clock import utcnow
from vidgate.ids import KEY_PREFIX, hash_key, new_api_key, new_id
from vidgate.store import Store
from vidgate.store.store import Row
from vidgate.webhooks import new_secret

__all__ = ["NewKey", "create_key", "list_keys"]


@dataclass(frozen=True)
class NewKey:
    key: str
    key_id: str


async def create_key(store: Store, name: str, quota_seconds: float | None) -> NewKey:
    """Create a key; the secret is returned once and never stored."""
    if quota_seconds is not None and quota_seconds < 0:
        raise ValueError("quota must be zero or more seconds")
    key = new_api_key()
    key_id = new_id("key")
    await store.insert_key(
        {
            "id": key_id,
            "name": name,
            "key_hash": hash_key(key),
            "prefix": key[: len(KEY_PREFIX) + 4],
            "quota_seconds": quota_seconds,
            "reserved_seconds": 0.0,
            "used_seconds": 0.0,
            "created_at": utcnow(),
            "webhook_secret": new_secret(),
        }
    )
    return NewKey(key, key_id)


async def list_keys(store: Store) -> list[Row]:
    return await store.list_keys()
