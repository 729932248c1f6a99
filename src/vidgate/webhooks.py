"""Standard Webhooks signing: `webhook-id`, `webhook-timestamp` and `webhook-signature`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Collection

from vidgate.models import Status

__all__ = [
    "ALL_EVENTS",
    "SECRET_PREFIX",
    "TERMINAL_EVENTS",
    "event_type",
    "new_secret",
    "sign",
    "signature_headers",
    "wants_delivery",
]

SECRET_PREFIX = "whsec_"
TERMINAL_EVENTS = ("task.completed", "task.failed", "task.cancelled")
ALL_EVENTS = ("task.queued", "task.processing", "task.progress", *TERMINAL_EVENTS)


def event_type(status: Status, progress: int) -> str:
    """The event a change to ``status`` at ``progress`` announces."""
    return "task.progress" if status is Status.PROCESSING and progress else f"task.{status}"


def wants_delivery(subscribed: Collection[str] | None, kind: str) -> bool:
    """Whether a task subscribed to ``subscribed`` (default: terminal events) gets ``kind``."""
    return kind in (subscribed or TERMINAL_EVENTS)


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }
