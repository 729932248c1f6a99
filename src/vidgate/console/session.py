"""The console's sign-in: a signed, expiring cookie that names a key but never holds it.

The cookie carries the key's id, a fingerprint of its stored hash (so rotating or revoking the
key ends every session made with it), a CSRF token and an expiry, signed with HMAC-SHA256
under a key derived from the gateway's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from vidgate.records import KeyRecord

__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "ConsoleSession",
    "SessionSigner",
    "key_fingerprint",
    "same_token",
]

COOKIE_NAME = "vidgate_console"
CSRF_HEADER = "x-csrf-token"


def key_fingerprint(key: KeyRecord) -> str:
    """A short digest of the key's stored hash: it changes when the key is rotated."""
    return hashlib.sha256(key.key_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ConsoleSession:
    """Who a console cookie signs in, until when, and the token its forms must send back."""

    key_id: str
    fingerprint: str
    csrf: str
    expires: int


class SessionSigner:
    """Issues and checks console cookies."""

    def __init__(self, secret: bytes, ttl: int, clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(secret, b"vidgate console session", hashlib.sha256).digest()
        self.ttl = ttl
        self.clock = clock

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, key: KeyRecord) -> tuple[str, ConsoleSession]:
        """A cookie value for ``key``, and the session it stands for."""
        session = ConsoleSession(
            key_id=key.id,
            fingerprint=key_fingerprint(key),
            csrf=secrets.token_urlsafe(24),
            expires=int(self.clock()) + self.ttl,
        )
        fields = [session.key_id, session.fingerprint, session.csrf, session.expires]
        payload = base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=")
        return f"{payload.decode()}.{self._sign(payload)}", session

    def read(self, cookie: str | None) -> ConsoleSession | None:
        """The session a cookie stands for; None when it is absent, tampered with or expired."""
        if not cookie or "." not in cookie:
            return None
        payload, _, signature = cookie.rpartition(".")
        expected = self._sign(payload.encode())
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        try:
            padded = payload + "=" * (-len(payload) % 4)
            key_id, fingerprint, csrf, expires = json.loads(base64.urlsafe_b64decode(padded))
        except (ValueError, TypeError):
            return None
        if not isinstance(expires, int) or expires <= self.clock():
            return None
        return ConsoleSession(str(key_id), str(fingerprint), str(csrf), expires)


def same_token(sent: str | None, expected: str) -> bool:
    """Whether ``sent`` is the session's CSRF token, compared in constant time."""
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())
