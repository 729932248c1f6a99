"""Remixes, edits and extensions of OpenAI's videos API, as canonical requests.

A video that an OpenAI upstream made is derived there: the request keeps the source's model
and shape and carries the upstream's video id (`openai.SOURCE`), which `openai.OUTBOUND`
sends to the API's own remix, edit or extension route. Any other video is derived here:

- a remix renders the source's request again, inputs included, with the new prompt;
- an extension is the VACE function `video_extension` of the source video;
- an edit is the VACE function `video_edit` of the source video, over the whole frame.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from vidgate.catalog import DEFAULT_MODELS, SIZES
from vidgate.dialects import openai
from vidgate.dialects.common import whole_number
from vidgate.errors import InvalidRequest, PayloadTooLarge
from vidgate.inputs import INPUT_FIELDS
from vidgate.models import Mode, Status, VideoRequest
from vidgate.records import KeyRecord, TaskRecord
from vidgate.server.auth import services_of
from vidgate.server.body import read_json
from vidgate.service import Services

__all__ = ["EXTENSION_SECONDS", "VACE_FUNCTIONS", "derived_request", "read_derivation"]

EXTENSION_SECONDS = (4, 8, 12, 16, 20)
"""The extension lengths OpenAI's API accepts."""
VACE_FUNCTIONS = {"edit": "video_edit", "extend": "video_extension"}
VERBS = {"remix": "remixed", "edit": "edited", "extend": "extended"}


FULL_FRAME = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAAAAAA6mKC9AAAAEUlEQVR4nGP8z4AKmBhGtAAAIBABH5AWUzYAAAAASUVORK5CYII="
)
"""A white 16x16 PNG as a data URL: an edit's mask that selects the whole frame."""


async def read_derivation(
    request: Request, caller: KeyRecord, kind: openai.DerivationKind
) -> tuple[openai.Derivation, dict[str, Any], str | None]:
    """An edit or extension body, JSON or multipart (what the openai SDK sends): the
    derivation, its fields (for `Idempotency-Key`), and the URL of an uploaded `video` file,
    kept as an upload once the fields have passed their checks."""
    services = services_of(request)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        body = await read_json(request, services.settings.max_body_bytes)
        return openai.parse_derivation(kind, body), body, None
    limit = services.settings.max_upload_bytes
    size = whole_number(request.headers.get("content-length", ""))
    if size is not None and size > limit + 64 * 1024:
        raise PayloadTooLarge(f"The upload is larger than {limit} bytes.", param="video")
    async with request.form(max_files=1, max_fields=10) as form:
        fields: dict[str, Any] = {}
        upload: UploadFile | None = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "video":
                    raise InvalidRequest(f"{name}: unexpected file part.", param=name)
                upload = value
            elif name == "video[id]":
                fields["video"] = {"id": value}
            else:
                fields[name] = value
        if upload is not None and "video" in fields:
            raise InvalidRequest("Give video as a file or as {id}, not both.", param="video")
        derivation = openai.parse_derivation(kind, fields, uploaded=upload is not None)
        if upload is None:
            return derivation, fields, None
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"The upload is larger than {limit} bytes.", param="video")
        content_type = upload.content_type or "application/octet-stream"
        saved = await services.files.save_upload(caller.id, upload.filename, content_type, data)
    fields["video"] = {"sha256": hashlib.sha256(data).hexdigest()}
    return derivation, fields, str(saved["url"])


def _upstream_dialect(services: Services, provider: str) -> str | None:
    upstream = services.tasks.providers.upstream.get(provider)
    return upstream.dialect.name if upstream is not None else None


def _forwarded(
    services: Services, source: TaskRecord, derivation: openai.Derivation
) -> VideoRequest:
    """A derivation of a video that an OpenAI upstream holds, to be made there."""
    first = services.tasks.route(source.model)
    if first != source.provider:
        raise InvalidRequest(
            f"Video {source.id} was made by provider {source.provider}, which no longer "
            f"serves {source.model}; it cannot be {VERBS[derivation.kind]}.",
            param="video_id" if derivation.kind == "remix" else "video",
        )
    seconds = derivation.seconds if derivation.kind == "extend" else source.shape.duration
    fields: dict[str, Any] = {
        "prompt": derivation.prompt,
        "model": source.model,
        "duration": seconds,
        "size": f"{source.shape.width}x{source.shape.height}",
        "vace": {openai.SOURCE[0]: derivation.kind, openai.SOURCE[1]: source.upstream_id},
    }
    if derivation.kind == "remix":
        fields["metadata"] = {openai.REMIXED_FROM: source.id}
    return VideoRequest.model_validate(fields)


def _remix(services: Services, source: TaskRecord, prompt: str) -> VideoRequest:
    """The source's request again, with the new prompt; inputs are the source's own copies."""
    request = source.request
    changes: dict[str, Any] = {
        "prompt": prompt,
        "seed": source.seed,
        "callback_url": None,
        "webhook_events": None,
        "metadata": {**(request.metadata or {}), openai.REMIXED_FROM: source.id},
        "vace": {k: v for k, v in request.vace.items() if k not in openai.SOURCE},
    }
    for name in INPUT_FIELDS:
        stored = [services.presenter.public_url(item.blob) for item in source.inputs_of(name)]
        if stored:
            changes[name] = stored if isinstance(getattr(request, name), list) else stored[0]
    return request.model_copy(update=changes)


def _vace(derivation: openai.Derivation, video_url: str, source: TaskRecord | None) -> VideoRequest:
    """An edit or extension rendered by the VACE model."""
    fields: dict[str, Any] = {
        "prompt": derivation.prompt,
        "model": DEFAULT_MODELS[Mode.VACE],
        "function": VACE_FUNCTIONS[derivation.kind],
        "video_url": video_url,
    }
    if derivation.kind == "edit":
        fields["mask_image_url"] = FULL_FRAME
    if source is not None and source.shape.ratio in SIZES["720P"]:
        fields["ratio"] = source.shape.ratio
    return VideoRequest.model_validate(fields)


def _completed(source: TaskRecord, derivation: openai.Derivation) -> None:
    if source.status is not Status.COMPLETED or source.result is None:
        raise InvalidRequest(
            f"Video {source.id} is {openai.STATUS.wire(source.status)}; only completed videos "
            f"can be {VERBS[derivation.kind]}.",
            param="video_id" if derivation.kind == "remix" else "video",
        )


async def derived_request(
    services: Services,
    owner_id: str,
    derivation: openai.Derivation,
    uploaded_url: str | None = None,
) -> VideoRequest:
    """The request that makes ``derivation``: of the owner's video it names, or of the video
    uploaded as ``uploaded_url``. A 400 that says why where no provider can make it."""
    if derivation.kind == "extend" and derivation.seconds not in EXTENSION_SECONDS:
        allowed = ", ".join(map(str, EXTENSION_SECONDS))
        raise InvalidRequest(f"seconds must be one of {allowed}.", param="seconds")
    source: TaskRecord | None = None
    if derivation.video_id is not None:
        source = await services.tasks.record(owner_id, derivation.video_id)
        _completed(source, derivation)
        if source.upstream_id and _upstream_dialect(services, source.provider) == "openai":
            return _forwarded(services, source, derivation)
        if derivation.kind == "remix":
            return _remix(services, source, derivation.prompt)
        assert source.result is not None
        uploaded_url = services.presenter.public_url(source.result.blob)
    assert uploaded_url is not None
    vace_model = DEFAULT_MODELS[Mode.VACE]
    provider = services.tasks.route(vace_model)
    if _upstream_dialect(services, provider) == "openai":
        raise InvalidRequest(
            f"The provider {provider} (OpenAI's videos API) can only {derivation.kind} videos "
            f"it made itself, and {vace_model} is routed to it; this video was not made there.",
            param="video",
            code="unsupported_operation",
        )
    return _vace(derivation, uploaded_url, source)
