"""The route upstreams call back on: one URL per provider and task, with its own token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from vidgate.engine.callbacks import CALLBACK_PATH, UpstreamCallbacks

__all__ = ["router"]

router = APIRouter(tags=["upstream callbacks"])


@router.post(f"{CALLBACK_PATH}/{{provider}}/{{task_id}}/{{token}}", include_in_schema=False)
async def upstream_callback(
    request: Request, provider: str, task_id: str, token: str
) -> JSONResponse:
    """A provider's word that a task ended: checked, then acted on by the engine. A MiniMax
    `{"challenge": …}` to a valid URL is echoed back as `{"challenge": …}`."""
    limit = request.app.state.runtime.settings.max_body_bytes
    body = await request.body()
    if len(body) > limit:
        return JSONResponse({"outcome": "too_large"}, status_code=413)
    callbacks: UpstreamCallbacks = request.app.state.runtime.engine.callbacks
    headers = {name.lower(): value for name, value in request.headers.items()}
    outcome = await callbacks.receive(provider, task_id, token, headers, body)
    if outcome.challenge is not None:
        return JSONResponse({"challenge": outcome.challenge}, status_code=outcome.status)
    return JSONResponse({"outcome": outcome.outcome}, status_code=outcome.status)
