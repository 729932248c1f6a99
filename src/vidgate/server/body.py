"""Reading JSON request bodies within the size limit."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from vidgate.errors import InvalidRequest, PayloadTooLarge

__all__ = ["read_json"]


async def read_json(request: Request, limit: int) -> Any:
    """The parsed JSON body; 413 past `limit` bytes, 400 if it is not JSON."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None
