"""The admin API's key routes (`/admin/v1/keys`), for admin keys only; the task, provider
and audit routes are in `admin_tasks`, included here.

A key that is not an admin key gets 403 on every route; no key, or a revoked one, 401.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse

from vidgate.errors import InvalidRequest
from vidgate.records import KeyRecord
from vidgate.server.auth import AdminCaller, services_of
from vidgate.server.body import read_json
from vidgate.server.openapi import NATIVE, errors, plain_json_body
from vidgate.server.routes import admin_tasks
from vidgate.service.audit import key_view, ledger_view

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1", tags=["admin"], responses=errors(NATIVE, 401, 403, 503))
KEY_ERRORS = errors(NATIVE, 404)
CHANGE_ERRORS = errors(NATIVE, 400, 404, 409)
Body = TypeVar("Body", bound=BaseModel)
FORBID = ConfigDict(extra="forbid")


class KeyCreate(BaseModel):
    """A new key: its label, its quota in seconds (absent or null: unlimited), its role."""

    model_config = FORBID
    name: str = Field(min_length=1, max_length=200)
    quota: float | None = Field(None, ge=0)
    admin: bool = False


class KeyRename(BaseModel):
    model_config = FORBID
    name: str = Field(min_length=1, max_length=200)


class KeyQuota(BaseModel):
    """Exactly one of `quota` (seconds; null for unlimited) and `top_up` (seconds to add)."""

    model_config = FORBID
    quota: float | None = Field(None, ge=0)
    top_up: float | None = Field(None, gt=0)


class KeyLimits(BaseModel):
    """Tasks in flight at once, and submits a minute; null (or absent) for no limit."""

    model_config = FORBID
    max_in_flight: int | None = Field(None, ge=1)
    max_submits_per_minute: int | None = Field(None, ge=1)


async def parse(request: Request, model: type[Body]) -> Body:
    """The JSON body as ``model``, or a 400 naming the first field at fault."""
    body = await read_json(request, services_of(request).settings.max_body_bytes)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        return model.model_validate(body, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidRequest(f"{field}: {first['msg']}.", param=field) from None


def _actor(caller: KeyRecord) -> str:
    return f"key:{caller.id}"


@router.post(
    "/keys",
    status_code=201,
    responses=errors(NATIVE, 400),
    openapi_extra=plain_json_body(KeyCreate),
)
async def create_key(request: Request, caller: AdminCaller) -> JSONResponse:
    """Create a key; its secret (`key`) is in this answer only."""
    wanted = await parse(request, KeyCreate)
    made, key = await services_of(request).admin.create_key(
        _actor(caller), wanted.name, wanted.quota, admin=wanted.admin
    )
    return JSONResponse({"key": made.key, **key_view(key)}, status_code=201)


@router.get("/keys")
async def list_keys(request: Request, caller: AdminCaller) -> JSONResponse:
    """Every key, oldest first, revoked ones included; never a secret."""
    keys = await services_of(request).admin.keys()
    return JSONResponse({"object": "list", "data": [key_view(key) for key in keys]})


@router.get("/keys/{key_id}", responses=KEY_ERRORS)
async def show_key(request: Request, caller: AdminCaller, key_id: str) -> JSONResponse:
    """One key: quota, use, limits, role, and when it was created or revoked."""
    return JSONResponse(key_view(await services_of(request).admin.key(key_id)))


@router.patch("/keys/{key_id}", responses=CHANGE_ERRORS, openapi_extra=plain_json_body(KeyRename))
async def rename_key(request: Request, caller: AdminCaller, key_id: str) -> JSONResponse:
    """Rename a key."""
    wanted = await parse(request, KeyRename)
    key = await services_of(request).admin.rename(_actor(caller), key_id, wanted.name)
    return JSONResponse(key_view(key))


@router.post("/keys/{key_id}/revoke", responses=errors(NATIVE, 404, 409))
async def revoke_key(request: Request, caller: AdminCaller, key_id: str) -> JSONResponse:
    """Revoke a key: from this answer on, every gateway answers it 401."""
    key = await services_of(request).admin.revoke(_actor(caller), key_id)
    return JSONResponse(key_view(key))


@router.post("/keys/{key_id}/rotate", responses=errors(NATIVE, 404, 409))
async def rotate_key(request: Request, caller: AdminCaller, key_id: str) -> JSONResponse:
    """Give a key a new secret (`key`, in this answer only); the old one stops working."""
    made, key = await services_of(request).admin.rotate(_actor(caller), key_id)
    return JSONResponse({"key": made.key, **key_view(key)})


@router.post(
    "/keys/{key_id}/quota", responses=CHANGE_ERRORS, openapi_extra=plain_json_body(KeyQuota)
)
async def set_quota(request: Request, caller: AdminCaller, key_id: str) -> JSONResponse:
    """Set a key's quota (`quota`, null for unlimited) or top it up (`top_up`)."""
    wanted = await parse(request, KeyQuota)
    given = wanted.model_fields_set
    key = await services_of(request).admin.set_quota(
        _actor(caller),
        key_id,
        quota_seconds=wanted.quota,
        unlimited="quota" in given and wanted.quota is None,
        top_up_seconds=wanted.top_up,
    )
    return JSONResponse(key_view(key))


@router.post(
    "/keys/{key_id}/limits", responses=CHANGE_ERRORS, openapi_extra=plain_json_body(KeyLimits)
)
async def set_limits(request: Request, caller: AdminCaller, key_id: str) -> JSONResponse:
    """Set a key's limits; both are set, an absent one to no limit."""
    wanted = await parse(request, KeyLimits)
    key = await services_of(request).admin.set_limits(
        _actor(caller), key_id, wanted.max_in_flight, wanted.max_submits_per_minute
    )
    return JSONResponse(key_view(key))


@router.get("/keys/{key_id}/ledger", responses=KEY_ERRORS)
async def key_ledger(request: Request, caller: AdminCaller, key_id: str) -> JSONResponse:
    """A key's quota movements, oldest first: a reserve per task, then its settle or refund."""
    entries = await services_of(request).admin.ledger(key_id)
    return JSONResponse(
        {"object": "list", "key_id": key_id, "data": [ledger_view(e) for e in entries]}
    )


router.include_router(admin_tasks.router)
