"""Checking upstream callbacks: Replicate's Standard Webhooks signatures, fal's ED25519 ones,
and the unguessable per-task token of vidgate's own callback route."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

__all__ = [
    "TOLERANCE",
    "callback_token",
    "standard_signature",
    "verify_fal",
    "verify_standard",
]

TOLERANCE = 300
"""Seconds a signed callback's timestamp may differ from now; older ones are replays."""


def callback_token(secret: str, provider: str, task_id: str) -> str:
    """The token in a task's callback route: an HMAC of provider and task, never stored."""
    message = f"{provider}\n{task_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def standard_signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """The Standard Webhooks `v1` signature: base64 HMAC-SHA256 of `id.timestamp.body`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _fresh(timestamp: str | None, now: float) -> bool:
    return bool(timestamp and timestamp.isdigit() and abs(now - int(timestamp)) <= TOLERANCE)


def verify_standard(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    """Whether a Standard Webhooks callback (Replicate's) is signed with `secret` and fresh."""
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature", "")
    if not message_id or not _fresh(timestamp, now):
        return False
    assert timestamp is not None
    try:
        expected = standard_signature(secret, message_id, timestamp, body)
    except (binascii.Error, ValueError):
        return False
    for item in signatures.split():
        version, _, signature = item.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


def verify_fal(
    jwks: Mapping[str, Any], headers: Mapping[str, str], body: bytes, now: float
) -> bool:
    """Whether a fal callback carries an ED25519 signature, by a key of `jwks`, over its
    request id, user id, timestamp and body hash (one per line), and is fresh."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    request_id = headers.get("x-fal-webhook-request-id")
    user_id = headers.get("x-fal-webhook-user-id")
    timestamp = headers.get("x-fal-webhook-timestamp")
    signature = headers.get("x-fal-webhook-signature", "")
    if not request_id or not user_id or not _fresh(timestamp, now):
        return False
    try:
        signed = bytes.fromhex(signature)
    except ValueError:
        return False
    message = "\n".join([request_id, user_id, timestamp or "", hashlib.sha256(body).hexdigest()])
    for key in jwks.get("keys", []):
        if not isinstance(key, Mapping) or key.get("crv") != "Ed25519":
            continue
        raw = str(key.get("x", ""))
        try:
            public = Ed25519PublicKey.from_public_bytes(
                base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            )
            public.verify(signed, message.encode())
        except (InvalidSignature, ValueError, binascii.Error):
            continue
        return True
    return False
