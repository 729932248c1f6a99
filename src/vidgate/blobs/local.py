"""Blobs as files under one directory on this machine, written atomically."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from vidgate.blobs.base import BlobInfo, BlobStore, check_blob_id
from vidgate.blobs.signing import UrlSigner

__all__ = ["LocalBlobStore"]

CHUNK = 256 * 1024


class LocalBlobStore(BlobStore):
    """Files kept by id under ``root``, in subdirectories by hash; scratch files in `root/tmp`."""

    def __init__(
        self,
        root: Path,
        secret: bytes,
        base_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` is the time signed URLs are made and checked by, in epoch seconds."""
        super().__init__(root / "tmp", UrlSigner(secret, base_url, clock))
        self.root = root

    @property
    def location(self) -> str:
        return str(self.root)

    async def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, blob_id: str) -> Path:
        check_blob_id(blob_id)
        return self.root / hashlib.sha256(blob_id.encode()).hexdigest()[:2] / blob_id

    def _commit(self, staged: Path, blob_id: str) -> int:
        target = self.path(blob_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        size = staged.stat().st_size
        os.replace(staged, target)
        return size

    async def commit(self, staged: Path, blob_id: str) -> int:
        return self._commit(staged, blob_id)

    async def read_bytes(self, blob_id: str) -> bytes:
        return await asyncio.to_thread(self.path(blob_id).read_bytes)

    async def stat(self, blob_id: str) -> BlobInfo | None:
        try:
            found = self.path(blob_id).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        modified = datetime.fromtimestamp(found.st_mtime, UTC)
        return BlobInfo(found.st_size, f'"{found.st_mtime_ns:x}-{found.st_size:x}"', modified)

    async def delete(self, blob_id: str) -> None:
        self.path(blob_id).unlink(missing_ok=True)

    def _duplicate(self, blob_id: str, staged: Path) -> None:
        source = self.path(blob_id)
        try:
            os.link(source, staged)
        except OSError:
            if not source.is_file():
                raise FileNotFoundError(f"no blob {blob_id!r}") from None
            shutil.copyfile(source, staged)

    async def duplicate(self, blob_id: str, staged: Path) -> None:
        """A hard link where the disk allows one, so no bytes move; else a plain copy."""
        await asyncio.to_thread(self._duplicate, blob_id, staged)

    async def local_copy(self, blob_id: str) -> Path:
        path = self.path(blob_id)
        if not path.is_file():
            raise FileNotFoundError(f"no blob {blob_id!r}")
        return path

    async def open_range(self, blob_id: str, start: int, end: int) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.path(blob_id).open, "rb")
        return self._read_range(handle, start, end)

    @staticmethod
    async def _read_range(handle: BinaryIO, start: int, end: int) -> AsyncIterator[bytes]:
        try:
            handle.seek(start)
            left = end - start
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
        finally:
            handle.close()

    def _probe(self) -> None:
        staged = self.staging(".probe")
        try:
            with staged.open("wb") as handle:
                handle.write(b"\0" * 4096)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            staged.unlink(missing_ok=True)

    async def probe(self) -> None:
        """Write, sync and delete a small scratch file: a full disk fails here."""
        await asyncio.to_thread(self._probe)
