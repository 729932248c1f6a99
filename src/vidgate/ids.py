"""Identifiers: time-ordered task ids and random API keys."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid

__all__ = ["KEY_PREFIX", "hash_key", "new_api_key", "new_id", "new_task_id"]

KEY_PREFIX = "vg-"


_RANDOM_BITS = 74
_last_id = (0, 0)
_id_lock = threading.Lock()


def new_task_id() -> str:
    """A UUIDv7: it sorts by creation time, so ids double as list cursors.

    Ids made by one process always rise, even within one millisecond: an id that would not
    sort above the previous one takes the previous one's time and random part plus a random
    step instead (RFC 9562, method 3).
    """
    global _last_id
    millis = time.time_ns() // 1_000_000
    random_part = secrets.randbits(_RANDOM_BITS)
    with _id_lock:
        if (millis, random_part) <= _last_id:
            millis, random_part = _last_id
            random_part += 1 + secrets.randbits(16)
            if random_part >> _RANDOM_BITS:
                millis, random_part = millis + 1, random_part & ((1 << _RANDOM_BITS) - 1)
        _last_id = (millis, random_part)
    rand_a, rand_b = random_part >> 62, random_part & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0x2 << 62 | rand_b
    return str(uuid.UUID(int=value))


def new_id(prefix: str) -> str:
    """A short random id such as `file_3f9a…`."""
    return f"{prefix}_{secrets.token_hex(12)}"


def new_api_key() -> str:
    """A fresh secret API key; only its hash is ever stored."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256, enough for 256-bit random secrets."""
    return hashlib.sha256(key.encode()).hexdigest()
