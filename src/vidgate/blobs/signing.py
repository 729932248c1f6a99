"""Signed, expiring URLs for blobs, and the secret that signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from vidgate.errors import VidgateError

__all__ = ["MEDIA_PREFIX", "SignatureError", "SignedUrl", "UrlSigner", "load_secret"]

MEDIA_PREFIX = "/v1/media/"
MAX_EXPIRES_DIGITS = 20


class SignatureError(VidgateError):
    """A media URL whose signature is bad or altered (`expired` False) or out of date."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: int


def load_secret(data_dir: Path, configured: str | None) -> bytes:
    """The signing secret: the configured one, else one kept in the data dir (mode 0600)."""
    if configured:
        return configured.encode()
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


class UrlSigner:
    """Signs blob names into gateway URLs under ``base_url`` and checks them again."""

    def __init__(
        self, secret: bytes, base_url: str, clock: Callable[[], float] = time.time
    ) -> None:
        """``clock`` is the time signed URLs are made and checked by, in epoch seconds."""
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.clock = clock

    def _signature(self, name: str, expires: int) -> str:
        mac = hmac.new(
            self.secret, f"{name}:{expires}".encode("utf-8", "surrogatepass"), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def sign(self, name: str, ttl: int, now: float | None = None) -> SignedUrl:
        """An absolute URL for `name` (a blob id with extension) that expires after `ttl` s."""
        expires = int((now if now is not None else self.clock()) + ttl)
        query = urlencode({"expires": expires, "signature": self._signature(name, expires)})
        return SignedUrl(f"{self.base_url}{MEDIA_PREFIX}{name}?{query}", expires)

    def verify(self, name: str, expires: str | None, signature: str | None) -> None:
        """Raise SignatureError unless the signature matches and is still in date."""
        if not expires or not signature:
            raise SignatureError("The media URL is missing its expires or signature parameter.")
        # ASCII digits only, and no more than an epoch time needs: `int` refuses superscripts
        # that `isdigit` passes and numbers past 4300 digits.
        if not (len(expires) <= MAX_EXPIRES_DIGITS and expires.isascii() and expires.isdigit()):
            raise SignatureError("The media URL's expires parameter is not a time.")
        expected = self._signature(name, int(expires))
        # compare_digest refuses non-ASCII text; compare the bytes instead.
        given = signature.encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(expected.encode(), given):
            raise SignatureError("The media URL's signature does not match.")
        if int(expires) < self.clock():
            raise SignatureError(
                "The media URL has expired; fetch the task again for a fresh URL.", expired=True
            )

    def resolve_own_url(self, url: str) -> str | None:
        """The blob name behind one of this gateway's validly signed URLs, else None."""
        parts = urlsplit(url)
        if not parts.path.startswith(MEDIA_PREFIX):
            return None
        name = parts.path[len(MEDIA_PREFIX) :]
        query = parse_qs(parts.query)
        try:
            self.verify(name, query.get("expires", [None])[0], query.get("signature", [None])[0])
        except SignatureError:
            return None
        return name
