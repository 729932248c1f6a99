"""Uploads: images and videos kept as blobs, answered with a URL that requests can use."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from vidgate.blobs import BlobStore
from vidgate.clock import utcnow
from vidgate.errors import InvalidRequest
from vidgate.ids import new_id
from vidgate.inputs import MediaTooLarge, probe_media
from vidgate.records import FileRecord
from vidgate.service.presenting import Presenter
from vidgate.store import Store

__all__ = ["Files"]


class Files:
    """Keeps uploaded files for their owner."""

    def __init__(self, store: Store, blobs: BlobStore, presenter: Presenter) -> None:
        self.store = store
        self.blobs = blobs
        self.presenter = presenter

    async def save_upload(
        self, owner_id: str, filename: str | None, content_type: str, data: bytes
    ) -> dict[str, Any]:
        """Keep an uploaded image or video; a 400 naming `file` when it is neither."""
        file_id = new_id("file")
        staged = self.blobs.staging(file_id)
        try:
            await asyncio.to_thread(staged.write_bytes, data)
            try:
                probed = await asyncio.to_thread(probe_media, staged)
            except MediaTooLarge as exc:
                raise InvalidRequest(f"file {exc}.", param="file") from None
            if probed is None:
                raise InvalidRequest("file is not a readable image or video.", param="file")
            kind, extension, _ = probed
            name = file_id + extension
            await self.blobs.commit(staged, name)
        finally:
            staged.unlink(missing_ok=True)
        record = FileRecord(
            id=name,
            owner_id=owner_id,
            purpose="input",
            filename=filename,
            content_type=content_type,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=utcnow(),
        )
        try:
            await self.store.insert_file(record)
        except BaseException:
            await self.blobs.delete(name)
            raise
        return self.presenter.upload(record, file_id, kind)
