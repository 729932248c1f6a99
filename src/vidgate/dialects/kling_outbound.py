"""The calling side of Kling's API: `text2video` / `image2video`, polled at the same path.

Kling authenticates each call with a short-lived JWT (HS256) signed with the account's secret
key, naming its access key as the issuer; a credential is written `ACCESS_KEY:SECRET_KEY`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from vidgate.catalog import Shape
from vidgate.dialects.common import StatusWords
from vidgate.dialects.outbound import Call, ErrorKind, Outbound, text
from vidgate.errors import InvalidRequest
from vidgate.models import Mode, Result, Status, Task, TaskError, VideoRequest, detect_mode

__all__ = [
    "ERRORS",
    "KINDS",
    "OUTBOUND",
    "STATUS",
    "TOKEN_SECONDS",
    "KlingOutbound",
    "b64url",
    "mint_token",
    "split_credential",
]

STATUS = StatusWords(
    {
        Status.QUEUED: "submitted",
        Status.PROCESSING: "processing",
        Status.COMPLETED: "succeed",
        Status.FAILED: "failed",
    }
)
KINDS = ("text2video", "image2video")
TOKEN_SECONDS = 1800
"""How long a minted token is valid; Kling's own examples use 30 minutes."""
MODES = {"720P": "std", "1080P": "pro"}
"""Kling's `mode` by resolution tier: standard renders 720p, professional 1080p."""
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
ERRORS: Mapping[int, tuple[int, ErrorKind, str]] = {
    1000: (401, "refused", "Authentication failed"),
    1001: (401, "refused", "Authorization is empty"),
    1002: (401, "refused", "Authorization is invalid"),
    1003: (401, "refused", "Authorization is not yet valid"),
    1004: (401, "refused", "Authorization has expired"),
    1100: (429, "refused", "Account exception"),
    1101: (429, "refused", "Account in arrears"),
    1102: (429, "refused", "Resource pack depleted or expired"),
    1103: (403, "refused", "Unauthorized access to the resource"),
    1200: (400, "invalid", "Invalid request parameters"),
    1201: (400, "invalid", "Invalid parameters"),
    1202: (404, "invalid", "Invalid request method"),
    1203: (404, "invalid", "Requested resource does not exist"),
    1300: (400, "invalid", "Trigger platform strategy"),
    1301: (400, "invalid", "Trigger the content security policy of the platform"),
    1302: (429, "throttled", "The API request is too fast, exceeding the rate limit"),
    1303: (429, "throttled", "Concurrency or QPS exceeds the prepaid resource package limit"),
    1304: (429, "refused", "Trigger the IP whitelisting policy of the platform"),
    5000: (500, "transient", "Server internal error"),
    5001: (503, "transient", "Server temporarily unavailable, usually due to maintenance"),
    5002: (504, "transient", "Server internal timeout, usually due to a backlog"),
}
"""Kling's error codes: (HTTP status, how vidgate treats it, Kling's message)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def split_credential(credential: str) -> tuple[str, str]:
    """(access key, secret key) of a `ACCESS:SECRET` credential."""
    access, sep, secret = credential.partition(":")
    if not sep or not access or not secret:
        raise ValueError("a Kling credential is ACCESS_KEY:SECRET_KEY")
    return access, secret


def mint_token(access_key: str, secret_key: str, now: float | None = None) -> str:
    """The JWT Kling takes as a bearer: HS256, issuer the access key, valid 30 minutes."""
    moment = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"iss": access_key, "exp": moment + TOKEN_SECONDS, "nbf": moment - 5}
    signing = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
    )
    signature = hmac.new(secret_key.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{b64url(signature)}"


def _image(value: str) -> str:
    """Kling takes an image URL, or its bare base64 (no `data:` prefix)."""
    if value.startswith("data:"):
        return value.partition(",")[2]
    return value


class KlingOutbound(Outbound):
    """Kling: text2video with an aspect ratio, image2video from the image (and an end frame);
    720P is the `std` mode and 1080P `pro`. Kling has no cancel. Its `callback_url` receives
    the task's data object, unsigned, when the task's status changes."""

    name = "kling"
    status = STATUS
    base_path = ""
    callback_field = "callback_url"

    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        mode = detect_mode(request)
        resolution = shape.resolution if shape else (request.resolution or "720P").upper()
        duration = shape.duration if shape else (request.duration or 5)
        if resolution not in MODES:
            raise InvalidRequest(
                f"Kling renders 720P (std) or 1080P (pro), not {resolution}.", param="resolution"
            )
        body: dict[str, Any] = {
            "model_name": request.model or "kling-v2-1-master",
            "prompt": request.prompt,
            "mode": MODES[resolution],
            "duration": str(duration),
        }
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.callback_url:
            body["callback_url"] = request.callback_url
        if mode is Mode.T2V:
            ratio = shape.ratio if shape else (request.ratio or "16:9")
            if ratio not in ASPECT_RATIOS:
                raise InvalidRequest(
                    f"Kling's aspect ratios are {', '.join(ASPECT_RATIOS)}, not {ratio}.",
                    param="ratio",
                )
            body["aspect_ratio"] = ratio
            return Call("POST", "/v1/videos/text2video", body)
        image = request.first_frame_url or request.img_url
        if mode not in (Mode.I2V, Mode.KF2V) or not image:
            raise InvalidRequest(f"Kling has no {mode.value} mode.", param="mode")
        body["image"] = _image(image)
        if request.last_frame_url:
            body["image_tail"] = _image(request.last_frame_url)
        return Call("POST", "/v1/videos/image2video", body)

    def submitted_id(self, data: object) -> str | None:
        inner = data.get("data") if isinstance(data, dict) else None
        return text(inner.get("task_id")) if isinstance(inner, dict) else None

    def accepted_id(self, data: object, call: Call) -> str | None:
        """`text2video/{id}` or `image2video/{id}`: a task is read at its create path."""
        task_id = self.submitted_id(data)
        return f"{call.path.rsplit('/', 1)[-1]}/{task_id}" if task_id else None

    def retrieve(self, task_id: str) -> Call:
        kind, _, bare = task_id.partition("/")
        if kind not in KINDS or not bare:
            kind, bare = KINDS[0], task_id
        return Call("GET", f"/v1/videos/{kind}/{bare}")

    def parse(self, data: object) -> Task:
        inner = data.get("data") if isinstance(data, dict) else None
        body: dict[str, Any] = inner if isinstance(inner, dict) else {}
        word = body.get("task_status")
        status = STATUS.canonical(word) or Status.PROCESSING
        result = error = None
        if status is Status.COMPLETED:
            videos = (body.get("task_result") or {}).get("videos") or []
            url = text(videos[0].get("url")) if videos and isinstance(videos[0], dict) else None
            if url is None:
                status = Status.PROCESSING
            else:
                result = Result(video_url=url)
        elif status is Status.FAILED:
            message = text(body.get("task_status_msg")) or "The Kling task failed."
            error = TaskError(code="task_failed", message=message)
        return Task(
            task_id=str(body.get("task_id") or ""),
            status=status,
            progress=100 if status is Status.COMPLETED else 0,
            result=result,
            error=error,
            raw_status=word if isinstance(word, str) else None,
        )

    def error_kind(self, status: int, code: str) -> ErrorKind | None:
        known = ERRORS.get(int(code)) if code.isdigit() else None
        return known[1] if known else None

    def auth_headers(self, key: str) -> dict[str, str]:
        access, secret = split_credential(key)
        return {"Authorization": f"Bearer {mint_token(access, secret)}"}


OUTBOUND = KlingOutbound()
