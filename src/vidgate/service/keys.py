"""API keys and accounts: creating keys, authenticating callers, quota and webhook secrets.

A key's secret is returned once, at creation (and at rotation), and only its SHA-256 hash is
stored. Known keys are remembered for a few seconds; every hit first checks that no admin
action has happened since (`Store.last_audit_id`), so a revoked or rotated key is refused
at once on every process that shares the database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from vidgate.clock import utcnow
from vidgate.console.session import key_fingerprint
from vidgate.errors import InvalidRequest, NotFound, Unauthorized
from vidgate.ids import KEY_PREFIX, hash_key, new_api_key, new_id
from vidgate.records import KeyRecord
from vidgate.store import Store
from vidgate.webhooks import new_secret

__all__ = ["Keys", "NewKey", "create_key", "key_prefix"]

KEY_CACHE_SECONDS = 5.0
KEY_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class NewKey:
    """A key just created: the secret itself, shown this once, and its id."""

    key: str
    key_id: str


def key_prefix(key: str) -> str:
    """The first characters of a secret, kept to tell keys apart in listings."""
    return key[: len(KEY_PREFIX) + 4]


async def create_key(
    store: Store, name: str, quota_seconds: float | None = None, *, admin: bool = False
) -> NewKey:
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
            prefix=key_prefix(key),
            quota_seconds=quota_seconds,
            reserved_seconds=0.0,
            used_seconds=0.0,
            created_at=utcnow(),
            webhook_secret=new_secret(),
            admin=admin,
        )
    )
    return NewKey(key, key_id)


@dataclass(frozen=True)
class _Known:
    key: KeyRecord
    expires: float
    audit_id: int
    """The last admin action when the key was read; a later one makes it stale."""


class Keys:
    """Who is calling, and what their key may still spend."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[str, _Known] = {}

    async def authenticate(self, key: str | None) -> KeyRecord:
        """The caller's key, unrevoked as of now."""
        if not key:
            raise Unauthorized("Missing API key: send Authorization: Bearer KEY.")
        digest = hash_key(key)
        audit_id = await self.store.last_audit_id()
        remembered = self._known.get(digest)
        if (
            remembered is not None
            and remembered.expires > time.monotonic()
            and remembered.audit_id == audit_id
        ):
            return remembered.key
        found = await self.store.key_by_hash(digest)
        if found is None:
            self._known.pop(digest, None)
            raise Unauthorized("Invalid API key.")
        if len(self._known) >= KEY_CACHE_SIZE:
            self._known.clear()
        self._known[digest] = _Known(found, time.monotonic() + KEY_CACHE_SECONDS, audit_id)
        return found

    def recently_read(self, key: str) -> tuple[KeyRecord, int] | None:
        """The key as read a moment ago, and the last audit id it was read under: it is still
        current while no admin action has come since. None when it must be read again."""
        found = self._known.get(hash_key(key))
        if found is None or found.expires <= time.monotonic():
            return None
        return found.key, found.audit_id

    async def authenticate_session(self, key_id: str, fingerprint: str) -> KeyRecord:
        """The key a console session names, while it is unrevoked and not rotated since."""
        found = await self.store.key_by_id(key_id)
        if found is None or found.revoked_at is not None or key_fingerprint(found) != fingerprint:
            raise Unauthorized("The console session has ended: sign in again.")
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

    async def set_limits(
        self, key_id: str, *, max_in_flight: int | None, max_submits_per_minute: int | None
    ) -> KeyRecord:
        """Set both of a key's limits (None: no limit); the key as it is now."""
        for name, value in (
            ("max_in_flight", max_in_flight),
            ("max_submits_per_minute", max_submits_per_minute),
        ):
            if value is not None and value < 1:
                raise InvalidRequest(f"{name} must be 1 or more (or unset).", param=name)
        found = await self.store.set_key_limits(
            key_id, max_in_flight=max_in_flight, max_submits_per_minute=max_submits_per_minute
        )
        if found is None:
            raise NotFound("Unknown key.")
        return found
