"""Choosing the blob backend from the settings: local disk, or an S3 bucket."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vidgate.blobs.base import BlobStore
from vidgate.blobs.local import LocalBlobStore
from vidgate.blobs.signing import UrlSigner, load_secret
from vidgate.settings import Settings

if TYPE_CHECKING:
    from vidgate.blobs.s3 import S3Location

__all__ = ["open_blobs", "s3_location"]


def s3_location(settings: Settings, blob_url: str) -> S3Location:
    """Where `s3://bucket/prefix` lives: the `VIDGATE_S3_*` settings, else the standard
    `AWS_*` variables. The S3 client library loads only when a bucket is configured."""
    from vidgate.blobs.s3 import DEFAULT_REGION, S3Location

    bucket, prefix = S3Location.split_url(blob_url)
    env = os.environ
    return S3Location(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=settings.s3_endpoint_url or env.get("AWS_ENDPOINT_URL") or None,
        region=settings.s3_region
        or env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or DEFAULT_REGION,
        access_key_id=settings.s3_access_key_id or env.get("AWS_ACCESS_KEY_ID") or None,
        secret_access_key=settings.s3_secret_access_key or env.get("AWS_SECRET_ACCESS_KEY") or None,
    )


async def open_blobs(settings: Settings) -> BlobStore:
    """The blob store `VIDGATE_BLOB_URL` names, opened: unset is the data dir's `blobs/`."""
    secret = load_secret(settings.data_dir, settings.secret_key)
    if not settings.blob_url:
        blobs: BlobStore = LocalBlobStore(settings.blob_dir, secret, settings.base_url)
    else:
        from vidgate.blobs.s3 import S3BlobStore

        location = s3_location(settings, settings.blob_url)
        signer = UrlSigner(secret, settings.base_url)
        blobs = S3BlobStore(location, settings.blob_dir, signer, settings.blob_cache_bytes)
    await blobs.open()
    return blobs
