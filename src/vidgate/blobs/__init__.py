"""Blob storage (local disk or an S3-compatible bucket) and the signed URLs that serve it."""

from typing import TYPE_CHECKING, Any

from vidgate.blobs.base import BlobInfo, BlobStore, BlobsUnavailable, check_blob_id
from vidgate.blobs.local import LocalBlobStore
from vidgate.blobs.opening import open_blobs
from vidgate.blobs.signing import MEDIA_PREFIX, SignatureError, SignedUrl, UrlSigner, load_secret

if TYPE_CHECKING:
    from vidgate.blobs.s3 import S3BlobStore, S3Location

__all__ = [
    "MEDIA_PREFIX",
    "BlobInfo",
    "BlobStore",
    "BlobsUnavailable",
    "LocalBlobStore",
    "S3BlobStore",
    "S3Location",
    "SignatureError",
    "SignedUrl",
    "UrlSigner",
    "check_blob_id",
    "load_secret",
    "open_blobs",
]


def __getattr__(name: str) -> Any:
    """The S3 backend, imported on first use: its client library is large."""
    if name in ("S3BlobStore", "S3Location"):
        from vidgate.blobs import s3

        return getattr(s3, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
