"""Blob storage (local disk or an S3-compatible bucket) and the signed URLs that serve it."""

from vidgate.blobs.base import BlobInfo, BlobStore, BlobsUnavailable, check_blob_id
from vidgate.blobs.local import LocalBlobStore
from vidgate.blobs.opening import open_blobs
from vidgate.blobs.s3 import S3BlobStore, S3Location
from vidgate.blobs.signing import MEDIA_PREFIX, SignatureError, SignedUrl, UrlSigner, load_secret

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
