"""Files uploaded through DashScope's upload policy, and the `oss://` URLs that name them.

The file itself is kept by `Files` like any upload. Beside it goes a second file record, its
alias, whose id is derived from the uploading key and the object key (`alias_id`) and whose
`filename` holds the upload's record id: an `oss://` URL then resolves with one lookup, and
only for the key that uploaded it.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from vidgate.clock import utcnow
from vidgate.dialects.dashscope_uploads import UploadGrant, alias_id
from vidgate.errors import Conflict, InvalidRequest
from vidgate.records import FileRecord
from vidgate.service.files import Files

__all__ = ["ALIAS_PURPOSE", "OssUploads"]

ALIAS_PURPOSE = "oss-alias"


class OssUploads:
    """Keeps form uploads under their object key and resolves `oss://` URLs to them."""

    def __init__(self, files: Files) -> None:
        self.files = files

    async def save(
        self, grant: UploadGrant, key: str, filename: str, content_type: str, data: bytes
    ) -> None:
        """Keep ``data`` as ``key`` for the grant's owner; a 409 when the key is taken."""
        alias = alias_id(grant.owner_id, key)
        if await self.files.store.file(alias) is not None:
            raise Conflict(f"key {key} already holds a file and may not be overwritten.")
        saved = await self.files.save_upload(grant.owner_id, filename, content_type, data)
        record_id = urlsplit(str(saved["url"])).path.rsplit("/", 1)[-1]
        try:
            await self._insert_alias(alias, grant, record_id, content_type, data)
        except Exception:
            if await self.files.store.file(alias) is not None:
                raise Conflict(
                    f"key {key} already holds a file and may not be overwritten."
                ) from None
            raise

    async def _insert_alias(
        self, alias: str, grant: UploadGrant, record_id: str, content_type: str, data: bytes
    ) -> None:
        await self.files.store.insert_file(
            FileRecord(
                id=alias,
                owner_id=grant.owner_id,
                purpose=ALIAS_PURPOSE,
                filename=record_id,
                content_type=content_type,
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                created_at=utcnow(),
            )
        )

    async def resolve(self, owner_id: str, key: str, field: str) -> str:
        """A signed URL of the file ``owner_id`` uploaded as ``key``; a 400 naming ``field``
        for a key it did not upload (another key's included)."""
        alias = await self.files.store.file(alias_id(owner_id, key))
        if alias is None or alias.owner_id != owner_id or alias.purpose != ALIAS_PURPOSE:
            raise InvalidRequest(
                f"{field}: oss://{key} is not a file this API key uploaded; upload local files "
                "through GET /api/v1/uploads?action=getPolicy first.",
                param=field,
            )
        upload = await self.files.store.file(alias.filename or "")
        if upload is None:
            raise InvalidRequest(f"{field}: the file uploaded as oss://{key} is gone.", param=field)
        return self.files.presenter.sign(upload.id).url
