"""Characters (OpenAI's videos API): a named reference video, kept for its owner.

A character is stored as a file record of purpose `character`, whose `filename` is the
character's display name, and whose blob is the reference video. The local renderer does not
draw characters into videos; they are kept so that create and get answer as the API does.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from pathlib import Path

from vidgate.blobs import BlobStore
from vidgate.clock import utcnow
from vidgate.errors import InvalidRequest, NotFound
from vidgate.ids import new_id
from vidgate.inputs import MediaTooLarge, probe_media
from vidgate.records import FileRecord
from vidgate.store import Store

__all__ = ["CHARACTER_PURPOSE", "MAX_NAME", "Characters"]

CHARACTER_PURPOSE = "character"
MAX_NAME = 200


def _probe(data: bytes) -> str | None:
    """The kind of media ``data`` is, or None when it does not decode."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "character"
        path.write_bytes(data)
        try:
            probed = probe_media(path)
        except MediaTooLarge as exc:
            raise InvalidRequest(f"video {exc}.", param="video") from None
    return probed[0] if probed is not None else None


class Characters:
    """Keeps characters for their owner and reads them back."""

    def __init__(self, store: Store, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    async def create(self, owner_id: str, name: str, content_type: str, data: bytes) -> FileRecord:
        """Keep a character: ``name`` and its reference video (or image); a 400 naming the
        field at fault."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise InvalidRequest(f"name must be 1-{MAX_NAME} characters.", param="name")
        if await asyncio.to_thread(_probe, data) is None:
            raise InvalidRequest("video is not a readable video or image.", param="video")
        record = FileRecord(
            id=new_id("char"),
            owner_id=owner_id,
            purpose=CHARACTER_PURPOSE,
            filename=name,
            content_type=content_type,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=utcnow(),
        )
        await self.blobs.put_bytes(record.id, data)
        try:
            await self.store.insert_file(record)
        except BaseException:
            await self.blobs.delete(record.id)
            raise
        return record

    async def get(self, owner_id: str, character_id: str) -> FileRecord:
        """The owner's character; a 404 naming `character_id` otherwise."""
        found = await self.store.file(character_id)
        if found is None or found.owner_id != owner_id or found.purpose != CHARACTER_PURPOSE:
            raise NotFound(f"No character {character_id!r} for this key.", param="character_id")
        return found
