"""Blobs as objects in an S3-compatible bucket, through obstore.

Writes upload the staged file (in parts when it is large) and reads stream it back, so a
result is never held in memory whole. Files that must be read from disk (inputs for the
renderer, videos to cut previews from) are downloaded once into a local cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import mimetypes
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import S3Store

if TYPE_CHECKING:
    from obstore import GetResult

from vidgate.blobs.base import BlobInfo, BlobStore, BlobsUnavailable, check_blob_id
from vidgate.blobs.signing import UrlSigner

__all__ = ["S3BlobStore", "S3Location"]

CHUNK = 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
MISSING = (FileNotFoundError, NotFoundError)
DEFAULT_REGION = "us-east-1"
DEFAULT_CACHE_BYTES = 2 * 1024**3


@contextlib.contextmanager
def _unavailable(doing: str) -> Iterator[None]:
    """Turn the object store's own errors (a missing object aside) into BlobsUnavailable."""
    try:
        yield
    except MISSING:
        raise
    except BaseError as exc:
        raise BlobsUnavailable(f"the object store failed {doing}: {type(exc).__name__}") from exc


class BlobUrlError(ValueError):
    """A `VIDGATE_BLOB_URL` that is not `s3://bucket[/prefix]`."""


@dataclass(frozen=True)
class S3Location:
    """A bucket and key prefix, and how to reach and sign for the store that holds it."""

    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None

    @staticmethod
    def split_url(url: str) -> tuple[str, str]:
        """`s3://bucket/some/prefix` as ("bucket", "some/prefix")."""
        if not url.startswith("s3://"):
            raise BlobUrlError(f"VIDGATE_BLOB_URL must start with s3://, not {url!r}")
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise BlobUrlError(f"VIDGATE_BLOB_URL names no bucket: {url!r}")
        return bucket, prefix.strip("/")


class S3BlobStore(BlobStore):
    """Objects under ``location.prefix``; scratch files and the read cache under ``local``."""

    def __init__(
        self,
        location: S3Location,
        local: Path,
        signer: UrlSigner,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        """``cache_bytes`` bounds the local copies kept for reading from disk."""
        super().__init__(local / "tmp", signer)
        self.target = location
        self.cache = local / "cache"
        self.cache_bytes = cache_bytes
        options: dict[str, str | bool | timedelta] = {
            "allow_http": True,
            "connect_timeout": timedelta(seconds=5),
        }
        extra: dict[str, str | bool] = {}
        if location.endpoint_url:
            extra = {"endpoint": location.endpoint_url, "virtual_hosted_style_request": False}
        if location.access_key_id and location.secret_access_key:
            extra |= {
                "access_key_id": location.access_key_id,
                "secret_access_key": location.secret_access_key,
            }
        self.store = S3Store(
            location.bucket,
            region=location.region,
            client_options=options,  # type: ignore[arg-type]
            retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=15)},
            **extra,  # type: ignore[arg-type]
        )

    @property
    def location(self) -> str:
        prefix = f"/{self.target.prefix}" if self.target.prefix else ""
        return f"s3://{self.target.bucket}{prefix}"

    def key(self, blob_id: str) -> str:
        check_blob_id(blob_id)
        return f"{self.target.prefix}/{blob_id}" if self.target.prefix else blob_id

    async def open(self) -> None:
        """Create the bucket unless it is there (obstore has no bucket calls: presigned ones)."""
        self.cache.mkdir(parents=True, exist_ok=True)
        try:
            made = await self._create_bucket()
        except (BaseError, httpx.HTTPError) as exc:
            where = self.target.endpoint_url or "AWS S3"
            raise BlobsUnavailable(
                f"cannot reach the object store at {where} for VIDGATE_BLOB_URL={self.location} "
                f"({type(exc).__name__}); check AWS_ENDPOINT_URL (or VIDGATE_S3_ENDPOINT_URL) "
                "and the S3 credentials"
            ) from exc
        if made not in (200, 409):
            raise BlobsUnavailable(
                f"bucket {self.target.bucket!r} is missing and could not be created "
                f"(HTTP {made}); check VIDGATE_BLOB_URL and the S3 credentials"
            )

    async def _create_bucket(self) -> int:
        """HEAD the bucket, and PUT it when missing; the HTTP status that settled it."""
        minute = timedelta(seconds=60)
        async with httpx.AsyncClient(timeout=30) as client:
            head = await client.head(await obstore.sign_async(self.store, "HEAD", "", minute))
            if head.status_code == 200:
                return 200
            body = b""
            if self.target.region != DEFAULT_REGION:
                body = (
                    b"<CreateBucketConfiguration><LocationConstraint>"
                    + self.target.region.encode()
                    + b"</LocationConstraint></CreateBucketConfiguration>"
                )
            url = await obstore.sign_async(self.store, "PUT", "", minute)
            return (await client.put(url, content=body)).status_code

    async def commit(self, staged: Path, blob_id: str) -> int:
        key = self.key(blob_id)
        size = staged.stat().st_size
        content_type = mimetypes.guess_type(blob_id)[0] or "application/octet-stream"
        with _unavailable("to store a blob"):
            await obstore.put_async(
                self.store,
                key,
                staged,
                attributes={"Content-Type": content_type},
                use_multipart=size > PART_SIZE,
                chunk_size=PART_SIZE,
                max_concurrency=4,
            )
        staged.unlink(missing_ok=True)
        return size

    async def read_bytes(self, blob_id: str) -> bytes:
        try:
            with _unavailable("to read a blob"):
                found = await obstore.get_async(self.store, self.key(blob_id))
                return bytes(await found.bytes_async())
        except MISSING:
            raise FileNotFoundError(f"no blob {blob_id!r}") from None

    async def stat(self, blob_id: str) -> BlobInfo | None:
        try:
            with _unavailable("to look a blob up"):
                meta = await obstore.head_async(self.store, self.key(blob_id))
        except MISSING:
            return None
        return BlobInfo(meta["size"], meta["e_tag"], meta["last_modified"])

    def _cached(self, blob_id: str) -> Path:
        return self.cache / hashlib.sha256(blob_id.encode()).hexdigest()[:2] / blob_id

    async def delete(self, blob_id: str) -> None:
        with _unavailable("to delete a blob"):
            await obstore.delete_async(self.store, self.key(blob_id))
        self._cached(blob_id).unlink(missing_ok=True)

    async def _download(self, blob_id: str, target: Path) -> None:
        try:
            with _unavailable("to read a blob"):
                found = await obstore.get_async(self.store, self.key(blob_id))
        except MISSING:
            raise FileNotFoundError(f"no blob {blob_id!r}") from None
        with target.open("wb") as handle, _unavailable("to read a blob"):
            async for chunk in found.stream(min_chunk_size=CHUNK):
                await asyncio.to_thread(handle.write, chunk)

    async def duplicate(self, blob_id: str, staged: Path) -> None:
        await self._download(blob_id, staged)

    async def local_copy(self, blob_id: str) -> Path:
        """The cached download, checked against the store's size; fetched when missing."""
        info = await self.stat(blob_id)
        if info is None:
            raise FileNotFoundError(f"no blob {blob_id!r}")
        cached = self._cached(blob_id)
        try:
            if cached.stat().st_size == info.size:
                os.utime(cached)  # recently used: the last to be trimmed
                return cached
        except FileNotFoundError:
            pass
        staged = self.staging(blob_id)
        try:
            await self._download(blob_id, staged)
            cached.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, cached)
        finally:
            staged.unlink(missing_ok=True)
        await asyncio.to_thread(self._trim_cache, cached)
        return cached

    def _trim_cache(self, keep: Path) -> None:
        """Delete the least recently used copies while the cache is over its size."""
        entries = []
        for path in self.cache.glob("*/*"):
            try:
                found = path.stat()
            except FileNotFoundError:
                continue
            entries.append((found.st_mtime, found.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.cache_bytes:
                return
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size

    async def open_range(self, blob_id: str, start: int, end: int) -> AsyncIterator[bytes]:
        if end <= start:
            return _no_bytes()
        try:
            with _unavailable("to read a blob"):
                found = await obstore.get_async(
                    self.store, self.key(blob_id), options={"range": (start, end)}
                )
        except MISSING:
            raise FileNotFoundError(f"no blob {blob_id!r}") from None
        return _chunks(found)

    async def presign(self, blob_id: str, ttl: int) -> str:
        with _unavailable("to sign a URL"):
            return await obstore.sign_async(
                self.store, "GET", self.key(blob_id), timedelta(seconds=ttl)
            )

    async def probe(self) -> None:
        """Put and delete a small object: an unreachable store or a refused write fails here."""
        probe = self.key(f"probe-{os.getpid()}")
        try:
            await obstore.put_async(self.store, probe, b"\0" * 16)
            await obstore.delete_async(self.store, probe)
        except BaseError as exc:
            raise OSError(errno.EIO, f"the object store refused: {type(exc).__name__}") from exc
        except OSError as exc:
            raise OSError(errno.EIO, f"the object store is unreachable: {exc}") from exc


async def _no_bytes() -> AsyncIterator[bytes]:
    return
    yield


async def _chunks(found: GetResult) -> AsyncIterator[bytes]:
    with _unavailable("to read a blob"):
        async for chunk in found.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)
