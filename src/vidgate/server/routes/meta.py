"""Health, the model catalogue and the caller's account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from vidgate.catalog import MODELS
from vidgate.server.auth import Caller, services_of
from vidgate.server.openapi import NATIVE, errors
from vidgate.service.audit import ledger_view

__all__ = ["router"]

router = APIRouter()


@router.get("/healthz", tags=["meta"], responses={503: {"description": "Starting."}})
async def healthz(request: Request) -> JSONResponse:
    """Liveness: 200 once the store is open and the engine (if any) is running; it checks no
    dependency, so an outage of the database does not get the process restarted."""
    ready = getattr(request.app.state, "ready", False)
    return JSONResponse(
        {"status": "ok" if ready else "starting"}, status_code=200 if ready else 503
    )


@router.get(
    "/readyz", tags=["meta"], responses={503: {"description": "Starting, or a check fails."}}
)
async def readyz(request: Request) -> JSONResponse:
    """200 while this process can serve: the store answers a query and the blob store takes a
    write; 503 naming what fails (a database outage, a full disk), so a balancer looks away."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None or not getattr(request.app.state, "ready", False):
        return JSONResponse({"status": "starting", "checks": {}}, status_code=503)
    checks = await runtime.ready()
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers=None if ready else {"Retry-After": "5"},
    )


@router.get("/v1/models", tags=["meta"], responses=errors(NATIVE, 401, 503))
async def list_models(request: Request, caller: Caller) -> JSONResponse:
    """Every model, with its modes, durations, sizes, typical time and suggested poll interval."""
    services = services_of(request)
    data = []
    for spec in MODELS.values():
        entry = spec.describe()
        entry["provider"] = services.tasks.route(spec.id)
        data.append(entry)
    return JSONResponse({"object": "list", "data": data})


@router.get("/v1/account", tags=["meta"], responses=errors(NATIVE, 401, 503))
async def account(request: Request, caller: Caller) -> JSONResponse:
    """The key's quota in credits (one credit is one second of output video unless the
    operator set prices): balance, reserved and used; and its limits."""
    services = services_of(request)
    found = await services.keys.account(caller.id)
    return JSONResponse(
        {
            "key_id": found.id,
            "name": found.name,
            "unit": "credits",
            "quota": found.quota_seconds,
            "balance": found.balance,
            "reserved": found.reserved_seconds,
            "used": found.used_seconds,
            "unlimited": found.quota_seconds is None,
            "limits": {
                "max_in_flight": found.max_in_flight,
                "max_submits_per_minute": found.max_submits_per_minute,
            },
            "webhook_secret": await services.keys.webhook_secret(caller.id),
        }
    )


@router.get("/v1/account/ledger", tags=["meta"], responses=errors(NATIVE, 400, 401, 503))
async def account_ledger(
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: Annotated[int | None, Query(ge=1)] = None,
) -> JSONResponse:
    """The key's own quota movements, newest first: a reserve per task at submit, then its
    settle (the credits charged) or refund. Pass `next_after` as `after` for older ones."""
    entries = await services_of(request).admin.ledger(caller.id)
    older = [entry for entry in reversed(entries) if after is None or entry.id < after]
    shown = older[:limit]
    has_more = len(older) > limit
    return JSONResponse(
        {
            "object": "list",
            "data": [{"id": entry.id, **ledger_view(entry)} for entry in shown],
            "has_more": has_more,
            "next_after": shown[-1].id if has_more and shown else None,
        }
    )
