"""Health, the model catalogue and the caller's account."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from vidgate.catalog import MODELS
from vidgate.server.auth import Caller, services_of

__all__ = ["router"]

router = APIRouter()


@router.get("/healthz", tags=["meta"])
async def healthz(request: Request) -> JSONResponse:
    """200 once the store is open and the engine (if any) is running."""
    ready = getattr(request.app.state, "ready", False)
    return JSONResponse(
        {"status": "ok" if ready else "starting"}, status_code=200 if ready else 503
    )


@router.get("/v1/models", tags=["meta"])
async def list_models(request: Request, caller: Caller) -> JSONResponse:
    """Every model, with its modes, durations, sizes, typical time and suggested poll interval."""
    services = services_of(request)
    data = []
    for spec in MODELS.values():
        entry = spec.describe()
        entry["provider"] = services.tasks.route(spec.id)
        data.append(entry)
    return JSONResponse({"object": "list", "data": data})


@router.get("/v1/account", tags=["meta"])
async def account(request: Request, caller: Caller) -> JSONResponse:
    """The key's quota in seconds of output video: balance, reserved and used."""
    services = services_of(request)
    found = await services.keys.account(caller.id)
    return JSONResponse(
        {
            "key_id": found.id,
            "name": found.name,
            "unit": "seconds",
            "quota": found.quota_seconds,
            "balance": found.balance,
            "reserved": found.reserved_seconds,
            "used": found.used_seconds,
            "unlimited": found.quota_seconds is None,
            "webhook_secret": await services.keys.webhook_secret(caller.id),
        }
    )
