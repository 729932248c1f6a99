"""The served OpenAPI document (`/openapi.json`): every dialect's routes, their request bodies,
bearer authentication, and the errors each route really answers, in its dialect's shape.

The models here describe the wire for the document only: the dialects' `parse_create`
functions still parse every body, so that errors keep each dialect's shape. FastAPI's default
422 is dropped everywhere: validation errors answer 400 (`server/errors.py`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from enum import Enum
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.models import Schema
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field, create_model

from vidgate.dialects import dashscope
from vidgate.dialects.native import EXTRA_FIELDS
from vidgate.models import VideoRequest
from vidgate.server.apidocs import install_docs
from vidgate.server.docstrings import docstring, restore_class_docstrings, stripped

__all__ = [
    "DASHSCOPE",
    "IDEMPOTENCY",
    "KIK",
    "NATIVE",
    "NEBULA",
    "OPENAI",
    "DashScopeCreate",
    "FileUpload",
    "NativeCreate",
    "NativeSyncCreate",
    "OpenAICharacterForm",
    "OpenAICreate",
    "OpenAICreateForm",
    "OpenAIDerive",
    "OpenAIDeriveForm",
    "OpenAIRemix",
    "binary",
    "document",
    "errors",
    "event_stream",
    "install_openapi",
    "json_body",
    "multipart_body",
    "plain_json_body",
]

SECURITY_SCHEME = "bearer"
DOCUMENTED = ConfigDict(defer_build=True)
"""The models here are built when the document is, not when the gateway starts."""


class NativeErrorBody(BaseModel):
    model_config = DOCUMENTED
    code: str
    message: str
    param: str | None = None


class NativeError(BaseModel):
    """The native error: `{"error": {"code", "message", "param"?}}`."""

    model_config = DOCUMENTED
    error: NativeErrorBody


class RelayErrorBody(BaseModel):
    model_config = DOCUMENTED
    code: str
    message: str


class RelayError(BaseModel):
    """kik's and nebula's error: `{"error": {"code", "message"}}`."""

    model_config = DOCUMENTED
    error: RelayErrorBody


class DashScopeError(BaseModel):
    """DashScope's error: `{"request_id", "code", "message"}`."""

    model_config = DOCUMENTED
    request_id: str
    code: str
    message: str


class OpenAIErrorBody(BaseModel):
    model_config = DOCUMENTED
    message: str
    type: str
    param: str | None
    code: str


class OpenAIError(BaseModel):
    """OpenAI's error: `{"error": {"message", "type", "param", "code"}}`."""

    model_config = DOCUMENTED
    error: OpenAIErrorBody


NATIVE = NativeError
KIK = NEBULA = RelayError
DASHSCOPE = DashScopeError
OPENAI = OpenAIError

DESCRIPTIONS = {
    400: "The request is invalid; the field at fault is named.",
    401: "No API key, or an unknown or revoked one.",
    402: "The key's quota does not cover the request.",
    403: "Refused: a bad media signature, (DashScope) a synchronous call or no quota left, or "
    "(admin API) a key that is not an admin key, or (console session) a missing CSRF token.",
    404: "No such task (or model) for this key; in the admin API, no such key or task.",
    409: "A conflict: the task's state forbids it, or the idempotency key was reused.",
    410: "The file is gone or the link has expired.",
    413: "The request body or upload is too large.",
    429: "The key's submit rate limit is reached; retry after Retry-After.",
    503: "The gateway's database is unavailable; retry after Retry-After.",
    507: "The gateway is out of storage space; retry after Retry-After.",
}


def errors(shape: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses` for these error statuses, each with the dialect's body.

    The body is a reference to the model's schema among the document's components rather
    than a response `model`, for which FastAPI would build a serializer per route and status
    that no response uses."""
    ERROR_MODELS[shape.__name__] = shape
    return {
        status: {
            "description": DESCRIPTIONS[status],
            "content": {"application/json": {"schema": _ref(shape)}},
        }
        for status in statuses
    }


def binary(*media_types: str, description: str = "The file.") -> dict[int | str, dict[str, Any]]:
    """A 200 whose body is a file of one of these media types."""
    schema = {"type": "string", "format": "binary"}
    content = {media: {"schema": schema} for media in media_types}
    return {200: {"description": description, "content": content}}


SSE_EVENT = {
    "type": "object",
    "description": "One server-sent event: `data` is the event JSON (with `task` once final).",
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "data": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


def event_stream(description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 that is a stream of server-sent events."""
    return {
        200: {"description": description, "content": {"text/event-stream": {"schema": SSE_EVENT}}}
    }


WIRE_MODELS: dict[str, type[BaseModel]] = {}
"""Every model a request body refers to, put in the document's components."""
ERROR_MODELS: dict[str, type[BaseModel]] = {}
"""Every model an error body refers to, put in the document's components."""


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _schema_ref(model: type[BaseModel]) -> dict[str, str]:
    WIRE_MODELS[model.__name__] = model
    return _ref(model)


IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "A retry with the same key and body returns the same task; another body 409.",
}


def json_body(model: type[BaseModel], **media: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a create route: its JSON body (and other media types), and the
    Idempotency-Key header every create route honours."""
    content = {"application/json": {"schema": _schema_ref(model)}}
    content.update({kind: {"schema": _schema_ref(other)} for kind, other in media.items()})
    return {
        "requestBody": {"required": True, "content": content},
        "parameters": [IDEMPOTENCY],
    }


def plain_json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route whose body is JSON and takes no Idempotency-Key."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(model)}},
        }
    }


def multipart_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for an upload route."""
    content = {"multipart/form-data": {"schema": _schema_ref(model)}}
    return {"requestBody": {"required": True, "content": content}}


def _fields(names: Iterable[str]) -> dict[str, Any]:
    """`VideoRequest`'s fields of these names, each optional, for a wire model."""
    found = VideoRequest.model_fields
    return {name: (found[name].annotation, None) for name in sorted(names) if name in found}


def _open(names: Iterable[str]) -> dict[str, Any]:
    """Fields of any JSON value: extras kept with the task and passed on as they are."""
    return {name: (Any, None) for name in sorted(names)}


FORBID = ConfigDict(extra="forbid", defer_build=True)
_flat = set(VideoRequest.model_fields) - {"vace"} - EXTRA_FIELDS
NativeCreate: type[BaseModel] = create_model(
    "NativeCreate", __config__=FORBID, **_fields(_flat), **_open(EXTRA_FIELDS)
)
"""The flat create body of the native, kik and nebula dialects."""
NativeSyncCreate: type[BaseModel] = create_model(
    "NativeSyncCreate",
    __config__=FORBID,
    **_fields(_flat),
    **_open(EXTRA_FIELDS),
    timeout=(float, Field(60.0, ge=0, le=300)),
)
"""The sync create body: the flat one and how long to wait (seconds)."""
_aliases: dict[str, Any] = {
    "head_frame": (str | None, None),
    "tail_frame": (str | None, None),
    "reference_video_urls": (list[str] | None, None),
}
DashScopeInput: type[BaseModel] = create_model(
    "DashScopeInput",
    __config__=FORBID,
    **_fields(dashscope.INPUT_FIELDS),
    **_open(dashscope.INPUT_EXTRAS),
    **_aliases,
)
DashScopeParameters: type[BaseModel] = create_model(
    "DashScopeParameters",
    __config__=FORBID,
    **_fields(dashscope.PARAMETER_FIELDS),
    **_open(dashscope.PARAMETER_EXTRAS),
)


class DashScopeCreate(BaseModel):
    """`{model, input{…}, parameters{…}}` and vidgate's push fields."""

    model_config = FORBID
    model: str | None = None
    input: DashScopeInput | None = None
    parameters: DashScopeParameters | None = None
    callback_url: str | None = None
    webhook_events: list[str] | str | None = None


class ImageReference(BaseModel):
    model_config = FORBID
    image_url: str


class OpenAICreate(BaseModel):
    """The JSON create body of `/v1/videos`."""

    model_config = FORBID
    model: str | None = None
    prompt: str | None = None
    seconds: str | int | None = None
    size: str | None = None
    input_reference: str | ImageReference | None = None
    callback_url: str | None = None
    webhook_events: list[str] | str | None = None


class OpenAICreateForm(BaseModel):
    """The multipart create body of `/v1/videos` (what the openai SDK sends)."""

    model_config = DOCUMENTED
    model: str | None = None
    prompt: str | None = None
    seconds: str | None = None
    size: str | None = None
    input_reference: bytes | None = Field(None, description="An image file; makes the task i2v.")
    callback_url: str | None = None
    webhook_events: str | None = Field(None, description="Comma-separated event types.")


class OpenAIRemix(BaseModel):
    """The body of `/v1/videos/{video_id}/remix`."""

    model_config = FORBID
    prompt: str


class VideoReference(BaseModel):
    model_config = FORBID
    id: str


class OpenAIDerive(BaseModel):
    """The JSON body of `/v1/videos/edits` and `/v1/videos/extensions` (`seconds`: only
    extensions)."""

    model_config = FORBID
    prompt: str
    video: VideoReference
    seconds: str | int | None = None


class OpenAIDeriveForm(BaseModel):
    """The multipart body of `/v1/videos/edits` and `/v1/videos/extensions`."""

    model_config = DOCUMENTED
    prompt: str
    video: bytes | None = Field(None, description="The source video file.")
    video_id: str | None = Field(None, alias="video[id]", description="Or a completed video.")
    seconds: str | None = Field(None, description="Extensions: the new segment's length.")


class OpenAICharacterForm(BaseModel):
    """The multipart body of `/v1/videos/characters`."""

    model_config = DOCUMENTED
    name: str
    video: bytes = Field(description="The character's reference video (or image).")


class FileUpload(BaseModel):
    """The multipart body of `/v1/files`."""

    model_config = DOCUMENTED
    file: bytes = Field(description="The image or video to keep.")


class DashScopeUploadForm(BaseModel):
    """The multipart body of `/api/v1/uploads/form`, as an upload policy asks for it."""

    model_config = ConfigDict(populate_by_name=True, defer_build=True)
    OSSAccessKeyId: str
    Signature: str
    policy: str = Field(description="The policy from `GET /api/v1/uploads?action=getPolicy`.")
    key: str = Field(description="`{upload_dir}/{file name}`; the file is then `oss://{key}`.")
    success_action_status: str | None = None
    x_oss_content_type: str | None = Field(None, alias="x-oss-content-type")
    x_oss_object_acl: str | None = Field(None, alias="x-oss-object-acl")
    x_oss_forbid_overwrite: str | None = Field(None, alias="x-oss-forbid-overwrite")
    file: bytes = Field(description="The image or video to keep.")


def _task_route(doc: dict[str, Any]) -> None:
    """`GET /v1/tasks/{task_id}`, a plain Starlette route FastAPI does not document."""
    doc["paths"]["/v1/tasks/{task_id}"] = {
        "get": {
            "tags": ["tasks"],
            "summary": "Get Task",
            "description": "The task, held up to `wait` seconds until it changes or ends.",
            "operationId": "get_task_v1_tasks__task_id__get",
            "parameters": [
                {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "wait",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "number", "minimum": 0, "maximum": 120},
                },
            ],
            "responses": {
                "200": {"description": "The task.", "content": {"application/json": {}}},
                **{
                    str(status): {
                        "description": DESCRIPTIONS[status],
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/NativeError"}
                            }
                        },
                    }
                    for status in (400, 401, 404, 503)
                },
            },
            "security": [{SECURITY_SCHEME: []}],
        }
    }


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app``."""
    restore_class_docstrings((BaseModel, Enum))  # the schemas' descriptions, under `-OO`
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    _describe_from_source(app, doc)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    # The error bodies as FastAPI documents a response model: sorted, no null values.
    shown: dict[str, Any] = {}
    for model in ERROR_MODELS.values():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        shown.update(schema.pop("$defs", {}))
        shown[model.__name__] = schema
    for name in sorted(shown):
        schemas[name] = jsonable_encoder(
            Schema.model_validate(shown[name]), by_alias=True, exclude_none=True
        )
    for name, model in WIRE_MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key as `Authorization: Bearer KEY` (DashScope's SDK too).",
        }
    }
    for path in doc["paths"].values():
        for operation in path.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            # Every route that can answer 401 takes the key, and only those.
            if "401" in responses:
                operation["security"] = [{SECURITY_SCHEME: []}]
    _task_route(doc)
    return doc


def _describe_from_source(app: FastAPI, doc: dict[str, Any]) -> None:
    """Where this process runs without docstrings, put in ``doc`` the operations' descriptions
    FastAPI takes from them, read back from vidgate's source (as FastAPI cuts them)."""
    if not stripped():
        return
    for context in iter_route_contexts(app.routes):
        endpoint, path = context.endpoint, context.path_format
        if not isinstance(context.original_route, APIRoute) or endpoint is None:
            continue
        if path not in doc["paths"]:
            continue
        text = inspect.cleandoc(docstring(endpoint) or "").split("\f")[0].strip()
        for method in context.methods or ():
            operation = doc["paths"][path].get(method.lower())
            if text and operation is not None and "description" not in operation:
                operation["description"] = text


def install_openapi(app: FastAPI) -> None:
    """Serve `document(app)` as the app's OpenAPI document (built once, on first request),
    and the pages that show it (`/docs`, `/redoc`)."""
    install_docs(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
