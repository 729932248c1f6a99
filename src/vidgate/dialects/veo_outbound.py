"""The calling side of Veo in the Gemini API: `models/{model}:predictLongRunning`, then the
long-running operation it names, then the sample's video URI, fetched with the same key.

The key travels in `x-goog-api-key`; errors are Google's `{"error": {code, message, status}}`,
where `status` (`RESOURCE_EXHAUSTED`, `INVALID_ARGUMENT` …) is the code vidgate keeps.
"""

from __future__ import annotations

import re
from typing import Any

from vidgate.catalog import Shape
from vidgate.dialects.common import StatusWords
from vidgate.dialects.outbound import Call, ErrorFields, ErrorKind, Outbound, text
from vidgate.errors import InvalidRequest
from vidgate.models import Mode, Result, Status, Task, TaskError, VideoRequest, detect_mode

__all__ = [
    "API_KEY_HEADER",
    "FILTERED",
    "KEY_INVALID",
    "OPERATION",
    "OUTBOUND",
    "RPC_CODES",
    "STATUS",
    "VeoOutbound",
    "parse_data_url",
]

API_KEY_HEADER = "x-goog-api-key"
OPERATION = re.compile(r"^models/[A-Za-z0-9._-]+/operations/[A-Za-z0-9._-]+$")
"""An operation name as the Gemini API hands it out: `models/{model}/operations/{id}`."""
FILTERED = "RAI_MEDIA_FILTERED"
"""The code of a task whose samples the safety filters removed (`raiMediaFilteredCount`)."""
STATUS = StatusWords(
    {
        Status.PROCESSING: "running",
        Status.COMPLETED: "done",
        Status.FAILED: "error",
        Status.QUEUED: "pending",
    }
)
"""Operations have no status word, only `done`; these words are vidgate's reading of one."""
RESOLUTIONS = {"720P": "720p", "1080P": "1080p"}
RPC_CODES = {"INVALID_ARGUMENT": 3, "RESOURCE_EXHAUSTED": 8, "INTERNAL": 13, "UNAVAILABLE": 14}
"""`google.rpc.Code` numbers, which an operation's `error.code` carries, by name."""
RPC_NAMES = {number: name for name, number in RPC_CODES.items()}
KEY_INVALID = "API_KEY_INVALID"
"""The reason of a wrong key, which the Gemini API answers as a 400 `INVALID_ARGUMENT`."""
REFUSED = frozenset({"PERMISSION_DENIED", "UNAUTHENTICATED", KEY_INVALID})
TRANSIENT = frozenset({"INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED"})


def parse_data_url(value: str) -> tuple[str, str] | None:
    """(mime type, base64 data) of a base64 `data:` URL, else None."""
    head, sep, data = value.partition(",")
    if not (sep and head.startswith("data:") and head.endswith(";base64")):
        return None
    return head[5 : -len(";base64")] or "application/octet-stream", data


class VeoOutbound(Outbound):
    """Veo: text- or image-to-video; the image goes inline as base64 (the Gemini API does not
    fetch URLs). The Gemini API offers no cancel of a video operation."""

    name = "veo"
    status = STATUS
    inline_inputs = ("img_url", "first_frame_url")

    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        model = request.model or "veo-3.0-generate-001"
        resolution = shape.resolution if shape else (request.resolution or "720P").upper()
        if resolution not in RESOLUTIONS:
            raise InvalidRequest(
                f"Veo renders 720P or 1080P, not {resolution}.", param="resolution"
            )
        instance: dict[str, Any] = {"prompt": request.prompt}
        mode = detect_mode(request)
        image = request.first_frame_url or request.img_url
        if mode in (Mode.I2V, Mode.KF2V) and image:
            inline = parse_data_url(image)
            if inline is None:
                raise InvalidRequest("Veo takes its image inline.", param="img_url")
            instance["image"] = {"bytesBase64Encoded": inline[1], "mimeType": inline[0]}
        elif mode is not Mode.T2V:
            raise InvalidRequest(f"Veo has no {mode.value} mode.", param="mode")
        parameters: dict[str, Any] = {
            "aspectRatio": shape.ratio if shape else (request.ratio or "16:9"),
            "resolution": RESOLUTIONS[resolution],
            "durationSeconds": shape.duration if shape else (request.duration or 8),
        }
        if request.negative_prompt:
            parameters["negativePrompt"] = request.negative_prompt
        body = {"instances": [instance], "parameters": parameters}
        return Call("POST", f"/v1beta/models/{model}:predictLongRunning", body)

    def submitted_id(self, data: object) -> str | None:
        name = text(data.get("name")) if isinstance(data, dict) else None
        return name if name and OPERATION.match(name) else None

    def retrieve(self, task_id: str) -> Call:
        return Call("GET", f"/v1beta/{task_id}")

    def parse(self, data: object) -> Task:
        body: dict[str, Any] = data if isinstance(data, dict) else {}
        name = str(body.get("name") or "")
        if body.get("done") is not True:
            return Task(task_id=name, status=Status.PROCESSING, raw_status="running")
        failure = body.get("error")
        if isinstance(failure, dict):
            number = failure.get("code")
            named = RPC_NAMES.get(number) if isinstance(number, int) else None
            error = TaskError(
                code=text(failure.get("status")) or named or text(number) or "error",
                message=text(failure.get("message")) or "The Veo operation failed.",
            )
            return Task(task_id=name, status=Status.FAILED, error=error, raw_status="error")
        answer = (body.get("response") or {}).get("generateVideoResponse") or {}
        samples = answer.get("generatedSamples") or []
        video = samples[0].get("video") if samples and isinstance(samples[0], dict) else None
        uri = text(video.get("uri")) if isinstance(video, dict) else None
        if uri is None:
            reasons = answer.get("raiMediaFilteredReasons") or []
            message = "; ".join(str(r) for r in reasons) or "Veo returned no video."
            code = FILTERED if answer.get("raiMediaFilteredCount") else "no_video"
            error = TaskError(code=code, message=message)
            return Task(task_id=name, status=Status.FAILED, error=error, raw_status="done")
        return Task(
            task_id=name,
            status=Status.COMPLETED,
            progress=100,
            result=Result(video_url=uri),
            raw_status="done",
        )

    def error(self, body: object) -> ErrorFields:
        failure = body.get("error") if isinstance(body, dict) else None
        if isinstance(failure, dict):
            code = text(failure.get("status")) or text(failure.get("code"))
            details = failure.get("details")
            reasons = (
                [d.get("reason") for d in details if isinstance(d, dict)]
                if isinstance(details, list)
                else []
            )
            if KEY_INVALID in reasons:
                code = KEY_INVALID
            return ErrorFields(code, text(failure.get("message")), None)
        return super().error(body)

    def error_kind(self, status: int, code: str) -> ErrorKind | None:
        if code == "RESOURCE_EXHAUSTED":
            return "throttled"
        if code in TRANSIENT:
            return "transient"
        if code in REFUSED:
            return "refused"
        return None

    def auth_headers(self, key: str) -> dict[str, str]:
        return {API_KEY_HEADER: key}


OUTBOUND = VeoOutbound()
