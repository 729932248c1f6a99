"""Result downloads as object stores serve them: signed expiring links, Range, OSS errors."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Literal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "RESULTS_PATH",
    "byte_range",
    "check_link",
    "oss_error",
    "result_url",
    "serve_bytes",
    "sign",
]

RESULTS_PATH = "/results"
ACCESS_KEY_ID = "LTAIfakeupstream"


def sign(secret: bytes, task_id: str, expires: int) -> str:
    message = f"{task_id}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def result_url(base_url: str, secret: bytes, task_id: str, expires: int) -> str:
    """An OSS-style link: `{base}/results/{id}.mp4?Expires=…&OSSAccessKeyId=…&Signature=…`."""
    query = urlencode(
        {
            "Expires": expires,
            "OSSAccessKeyId": ACCESS_KEY_ID,
            "Signature": sign(secret, task_id, expires),
        }
    )
    return f"{base_url.rstrip('/')}{RESULTS_PATH}/{task_id}.mp4?{query}"


def check_link(
    secret: bytes, task_id: str, expires: str | None, signature: str | None, now: float
) -> tuple[str, str] | None:
    """Why a link is refused, as an OSS code and message; None when it is good."""
    if not expires or not expires.isdigit() or not signature:
        return "AccessDenied", "Anonymous access is forbidden for this operation."
    if not hmac.compare_digest(sign(secret, task_id, int(expires)), signature):
        return (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if int(expires) < now:
        return "AccessDenied", "Request has expired."
    return None


def oss_error(status: int, code: str, message: str) -> Response:
    """An error as Alibaba Cloud OSS answers it: XML with Code, Message and RequestId."""
    request_id = uuid.uuid4().hex[:24].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{code}</Code>\n  <Message>{message}</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n  <HostId>fake-upstream.local</HostId>\n"
        "</Error>\n"
    )
    return Response(
        body,
        status_code=status,
        media_type="application/xml",
        headers={"x-oss-request-id": request_id},
    )


def byte_range(header: str | None, size: int) -> tuple[int, int] | Literal[False] | None:
    """The inclusive byte range a Range header asks for.

    None means serve the whole body (no header, several ranges or a malformed one, all of which
    a server may ignore); False means the range cannot be satisfied (416).
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, dash, last = header[len("bytes=") :].strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if not first:
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    if start >= size:
        return False
    end = int(last) if last.isdigit() else size - 1
    if end < start:
        return None
    return start, min(end, size - 1)


def serve_bytes(
    request: Request, data: bytes, media_type: str, etag: str | None = None
) -> Response:
    """Serve `data` with Content-Length, Accept-Ranges and single-range 206 answers; HEAD too."""
    size = len(data)
    headers = {
        "accept-ranges": "bytes",
        "etag": f'"{etag or hashlib.md5(data, usedforsecurity=False).hexdigest()}"',
        "last-modified": formatdate(datetime.now(UTC).timestamp(), usegmt=True),
    }
    wanted = byte_range(request.headers.get("range"), size)
    if wanted is False:
        headers["content-range"] = f"bytes */{size}"
        return Response(b"", status_code=416, headers=headers, media_type=media_type)
    status = 200
    body = data
    if isinstance(wanted, tuple):
        start, end = wanted
        body = data[start : end + 1]
        status = 206
        headers["content-range"] = f"bytes {start}-{end}/{size}"
    headers["content-length"] = str(len(body))
    if request.method == "HEAD":
        body = b""
    return Response(body, status_code=status, headers=headers, media_type=media_type)
