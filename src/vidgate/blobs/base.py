"""What every blob backend offers: blobs kept by id, scratch files, and signed URLs."""

from __future__ import annotations

import abc
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vidgate.blobs.signing import SignedUrl, UrlSigner
from vidgate.errors import VidgateError

__all__ = ["BlobInfo", "BlobStore", "BlobsUnavailable", "check_blob_id"]


class BlobsUnavailable(VidgateError):
    """The blob store cannot be reached or refused a request; a later try may succeed."""


def check_blob_id(blob_id: str) -> str:
    """The id itself, or ValueError for one that could name a path outside the store."""
    if not blob_id or "/" in blob_id or "\\" in blob_id or blob_id.startswith("."):
        raise ValueError(f"bad blob id {blob_id!r}")
    return blob_id


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob's size in bytes, and what HTTP caches validate it by."""

    size: int
    etag: str | None = None
    modified: datetime | None = None


class BlobStore(abc.ABC):
    """Blobs kept by id, written whole or not at all, and the URLs that serve them.

    Writers fill a scratch file from `staging` (always on this machine's disk) and `commit`
    it. Readers that need a file (the renderer, probes) ask for `local_copy`.
    """

    def __init__(self, scratch: Path, signer: UrlSigner) -> None:
        self.scratch = scratch
        self.signer = signer
        scratch.mkdir(parents=True, exist_ok=True)

    # signed URLs

    @property
    def clock(self) -> Callable[[], float]:
        """The time signed URLs are made and checked by, in epoch seconds."""
        return self.signer.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.signer.clock = clock

    def sign(self, name: str, ttl: int, now: float | None = None) -> SignedUrl:
        return self.signer.sign(name, ttl, now)

    def verify(self, name: str, expires: str | None, signature: str | None) -> None:
        self.signer.verify(name, expires, signature)

    def resolve_own_url(self, url: str) -> str | None:
        return self.signer.resolve_own_url(url)

    # scratch files

    def staging(self, blob_id: str, suffix: str = "") -> Path:
        """A fresh scratch path on this machine, to write before `commit`."""
        return self.scratch / f"{blob_id}.{secrets.token_hex(4)}{suffix}"

    def clear_staging(self, older_than: float | None = None) -> int:
        """Remove scratch files, or only those last written over ``older_than`` seconds ago
        (other processes sharing the dir may be writing the newer ones); returns how many."""
        if older_than is None:
            count = sum(1 for _ in self.scratch.iterdir()) if self.scratch.is_dir() else 0
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch.mkdir(parents=True, exist_ok=True)
            return count
        cutoff = time.time() - older_than
        count = 0
        for path in self.scratch.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    count += 1
            except FileNotFoundError:
                continue
        return count

    # the backend

    @abc.abstractmethod
    async def open(self) -> None:
        """Make the store ready for use (an object store creates a missing bucket)."""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the blobs are, for logs and error messages."""

    @abc.abstractmethod
    async def commit(self, staged: Path, blob_id: str) -> int:
        """Store a fully written scratch file as ``blob_id`` and return its size; readers never
        see a partial blob. The scratch file is gone afterwards."""

    async def put_bytes(self, blob_id: str, data: bytes) -> None:
        staged = self.staging(check_blob_id(blob_id))
        try:
            staged.write_bytes(data)
            await self.commit(staged, blob_id)
        finally:
            # Gone after a commit; after a failed write (a full disk) it must not stay behind.
            staged.unlink(missing_ok=True)

    @abc.abstractmethod
    async def read_bytes(self, blob_id: str) -> bytes:
        """The whole blob, for small ones; FileNotFoundError when there is none."""

    @abc.abstractmethod
    async def stat(self, blob_id: str) -> BlobInfo | None:
        """Size and validators of a blob, or None when there is none."""

    async def exists(self, blob_id: str) -> bool:
        return await self.stat(blob_id) is not None

    async def size(self, blob_id: str) -> int | None:
        info = await self.stat(blob_id)
        return None if info is None else info.size

    @abc.abstractmethod
    async def delete(self, blob_id: str) -> None:
        """Remove a blob; one that is already gone is fine."""

    @abc.abstractmethod
    async def duplicate(self, blob_id: str, staged: Path) -> None:
        """Put a copy of a blob at a staging path; FileNotFoundError when there is none."""

    @abc.abstractmethod
    async def local_copy(self, blob_id: str) -> Path:
        """A file on this machine with the blob's bytes, to read and not to change;
        FileNotFoundError when there is none."""

    @abc.abstractmethod
    async def open_range(self, blob_id: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` up to ``end`` (exclusive) of a blob, in chunks, from a read begun
        before this returns: a blob deleted afterwards still reads whole. FileNotFoundError
        when there is none."""

    async def presign(self, blob_id: str, ttl: int) -> str | None:
        """A URL of the object store itself that reads the blob for ``ttl`` s; None where the
        backend has none."""
        return None

    @abc.abstractmethod
    async def probe(self) -> None:
        """Write and remove a small blob; raises OSError when the store cannot take it."""
