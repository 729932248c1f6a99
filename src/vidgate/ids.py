"""Identifiers: time-ordered task ids and random API keys."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid

__all__ = ["KEY_PREFIX", "hash_key", "new_api_key", "new_id", "new_task_id"]

KEY_PREFIX = "vg-"


def new_task_id() -> str:
    """A UUIDv7: it sorts by creation time, so ids double as list cursors."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
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
