"""Blob storage in the data dir, and the signed, expiring URLs that serve it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from vidgate.errors import VidgateError

__all__ = ["BlobStore", "SignatureError", "SignedUrl", "load_secret"]

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


class BlobStore:
    """Files kept by id under one directory, written atomically."""

    def __init__(
        self,
        root: Path,
        secret: bytes,
        base_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` is the time signed URLs are made and checked by, in epoch seconds."""
        self.clock = clock
        self.root = root
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def path(self, blob_id: str) -> Path:
        if not blob_id or "/" in blob_id or blob_id.startswith("."):
            raise ValueError(f"bad blob id {blob_id!r}")
        return self.root / hashlib.sha256(blob_id.encode()).hexdigest()[:2] / blob_id

    def staging(self, blob_id: str, suffix: str = "") -> Path:
        """A fresh scratch path on the same filesystem, to write before `commit`."""
        return self.root / "tmp" / f"{blob_id}.{secrets.token_hex(4)}{suffix}"

    def commit(self, staged: Path, blob_id: str) -> Path:
        """Move a fully written file into place; readers never see a partial blob."""
        target = self.path(blob_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        return target

    def put_bytes(self, blob_id: str, data: bytes) -> Path:
        staged = self.staging(blob_id)
        try:
            staged.write_bytes(data)
            return self.commit(staged, blob_id)
        finally:
            # Gone after a commit; after a failed write (a full disk) it must not stay behind.
            staged.unlink(missing_ok=True)

    def duplicate(self, blob_id: str, staged: Path) -> None:
        """Put a copy of a blob at a staging path: a hard link where the disk allows one, so
        no bytes move; else a plain copy. It blocks: call it off the event loop."""
        source = self.path(blob_id)
        try:
            os.link(source, staged)
        except OSError:
            if not source.is_file():
                raise
            shutil.copyfile(source, staged)

    def exists(self, blob_id: str) -> bool:
        return self.path(blob_id).is_file()

    def delete(self, blob_id: str) -> None:
        self.path(blob_id).unlink(missing_ok=True)

    def clear_staging(self, older_than: float | None = None) -> int:
        """Remove scratch files, or only those last written over ``older_than`` seconds ago
        (other processes sharing the dir may be writing the newer ones); returns how many."""
        scratch = self.root / "tmp"
        if older_than is None:
            count = sum(1 for _ in scratch.iterdir()) if scratch.is_dir() else 0
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True, exist_ok=True)
            return count
        cutoff = time.time() - older_than
        count = 0
        for path in scratch.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    count += 1
            except FileNotFoundError:
                continue
        return count

    def probe(self) -> None:
        """Write and delete a small scratch file; raises OSError when the disk cannot take it."""
        staged = self.staging(".probe")
        try:
            with staged.open("wb") as handle:
                handle.write(b"\0" * 4096)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            staged.unlink(missing_ok=True)

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
