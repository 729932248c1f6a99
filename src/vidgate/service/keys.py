"""API keys and accounts: creating keys, authenticating callers, quota and webhook secrets.

A key's secret is returned once, at creation, and only its SHA-256 hash is stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from vidgate.clock import utcnow
from vidgate.errors import NotFound, Unauthorized
from vidgate.ids import KEY_PREFIX, hash_key, new_api_key, new_id
from vidgate.records import KeyRecord
from vidgate.store import Store
from vidgate.webhooks import new_secret

__all__ = ["Keys", "NewKey", "create_key"]

KEY_CACHE_SECONDS = 5.0
KEY_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class NewKey:
    """A key just created: the secret itself, shown this once, and its id."""

    key: str
    key_id: str


async def create_key(store: Store, name: str, quota_seconds: float | None) -> NewKey:
    """Create a key; the secret is returned once and never stored."""
    if quota_seconds is not None and quota_seconds < 0:
        raise ValueError("quota must be zero or more seconds")
    key = new_api_key()
    key_id = new_id("key")
    await store.insert_key(
        KeyRecord(
            id=key_id,
            name=name,
            key_hash=hash_key(key),
            prefix=key[: len(KEY_PREFIX) + 4],
            quota_seconds=quota_seconds,
            reserved_seconds=0.0,
            used_seconds=0.0,
            created_at=utcnow(),
            webhook_secret=new_secret(),
        )
    )
    return NewKey(key, key_id)


class Keys:
    """Who is calling, and what their key may still spend."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[str, tuple[KeyRecord, float]] = {}

    async def authenticate(self, key: str | None) -> KeyRecord:
        """The caller's key; known keys are remembered for a few seconds."""
        if not key:
            raise Unauthorized("Missing API key: send Authorization: Bearer KEY.")
        digest = hash_key(key)
        remembered = self._known.get(digest)
        if remembered is not None and remembered[1] > time.monotonic():
            return remembered[0]
        found = await self.store.key_by_hash(digest)
        if found is None:
            raise Unauthorized("Invalid API key.")
        if len(self._known) >= KEY_CACHE_SIZE:
            self._known.clear()
        self._known[digest] = (found, time.monotonic() + KEY_CACHE_SECONDS)
        return found

    async def account(self, key_id: str) -> KeyRecord:
        """The key as stored now, with its current quota counters."""
        found = await self.store.key_by_id(key_id)
        if found is None:
            raise NotFound("Unknown key.")
        return found

    async def webhook_secret(self, key_id: str) -> str:
        """The secret webhooks of this key are signed with; made on first use if missing."""
        found = await self.account(key_id)
        if found.webhook_secret:
            return found.webhook_secret
        return await self.store.set_webhook_secret(key_id, new_secret())
