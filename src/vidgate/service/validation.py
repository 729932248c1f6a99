"""The checks a request passes before anything is stored, and the values derived from it."""

from __future__ import annotations

import hashlib
import json

from vidgate.catalog import VACE_FUNCTIONS, VACE_INPUTS
from vidgate.dialects.common import check_json
from vidgate.errors import InvalidRequest
from vidgate.models import Mode, VideoRequest
from vidgate.webhooks import ALL_EVENTS

__all__ = [
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "MAX_PROMPT",
    "MAX_SEED",
    "check_request",
    "derive_seed",
    "request_fingerprint",
]

MAX_SEED = 2_147_483_647
MAX_PROMPT = 4000
MAX_METADATA_BYTES = 16 * 1024
"""`metadata` as compact UTF-8 JSON may take this many bytes."""
MAX_METADATA_DEPTH = 32
"""`metadata` may nest this many levels of objects and lists (the object itself is one)."""


def request_fingerprint(body: object) -> str:
    """A stable hash of a request body, to tell an idempotent retry from a new request."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def derive_seed(request: VideoRequest) -> int:
    """A seed fixed by the request itself, so the same request renders the same video."""
    digest = hashlib.sha256(request.model_dump_json(exclude={"metadata"}).encode()).digest()
    return int.from_bytes(digest[:4], "big") % (MAX_SEED + 1)


def _check_inputs(request: VideoRequest, mode: Mode) -> None:
    if mode is Mode.I2V and not request.img_url:
        raise InvalidRequest("img_url is required for image-to-video (i2v).", param="img_url")
    if mode is Mode.KF2V and not request.first_frame_url:
        raise InvalidRequest(
            "first_frame_url is required for keyframe-to-video (kf2v).", param="first_frame_url"
        )
    if mode is Mode.R2V and not 1 <= len(request.reference_urls or []) <= 5:
        raise InvalidRequest(
            "reference_urls needs 1 to 5 images or videos for r2v.", param="reference_urls"
        )
    if mode is Mode.VACE:
        if request.function not in VACE_FUNCTIONS:
            raise InvalidRequest(
                f"function must be one of {', '.join(VACE_FUNCTIONS)}.", param="function"
            )
        needed = VACE_INPUTS[request.function]
        if not any(getattr(request, name) for name in needed):
            raise InvalidRequest(
                f"{needed[0]} is required for vace function {request.function}.",
                param=needed[0],
            )


def _depth(value: object, limit: int) -> int:
    """How deep ``value`` nests, counting no further than ``limit`` + 1."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(item, limit - 1) for item in items), default=0)


def _check_metadata(metadata: dict[str, object]) -> None:
    if _depth(metadata, MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH:
        raise InvalidRequest(
            f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels.", param="metadata"
        )
    try:
        size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode())
    except (TypeError, ValueError, UnicodeEncodeError):
        raise InvalidRequest("metadata must be a JSON object of text.", param="metadata") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidRequest(
            f"metadata is {size} bytes as JSON; at most {MAX_METADATA_BYTES} are kept.",
            param="metadata",
        )


def check_request(request: VideoRequest, mode: Mode) -> None:
    """Raise InvalidRequest, naming the field, for anything the request cannot be run with.

    It runs before any side effect, so it also refuses what could be accepted but not
    stored or sent back: text that is not valid Unicode, and oversized metadata.
    """
    check_json(request.model_dump(exclude={"metadata"}))
    if request.metadata is not None:
        check_json(request.metadata, ("metadata",))
        _check_metadata(request.metadata)
    if not request.prompt.strip() and mode is Mode.T2V:
        raise InvalidRequest("prompt is required for text-to-video.", param="prompt")
    if len(request.prompt) > MAX_PROMPT:
        raise InvalidRequest(f"prompt is longer than {MAX_PROMPT} characters.", param="prompt")
    if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
        raise InvalidRequest(f"seed must be within 0-{MAX_SEED}.", param="seed")
    _check_inputs(request, mode)
    if request.callback_url is not None and not request.callback_url.startswith(
        ("http://", "https://")
    ):
        raise InvalidRequest("callback_url must be an http(s) URL.", param="callback_url")
    for name in request.webhook_events or []:
        if name not in ALL_EVENTS:
            raise InvalidRequest(
                f"webhook_events: unknown event {name!r}; choose from {', '.join(ALL_EVENTS)}.",
                param="webhook_events",
            )
