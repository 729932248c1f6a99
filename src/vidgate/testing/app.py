"""The ASGI app of a fake upstream: one dialect's routes plus signed result downloads."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from vidgate.testing import (
    dashscope,
    fal,
    kik,
    kling,
    luma,
    minimax,
    native,
    nebula,
    openai,
    replicate,
    runway,
    veo,
)
from vidgate.testing.endpoint import route
from vidgate.testing.results import RESULTS_PATH, check_link, oss_error, serve_bytes
from vidgate.testing.state import FakeState

__all__ = ["API_BASES", "COUNTERS_PATH", "DIALECTS", "create_app"]

ROUTES: Mapping[str, Callable[[FakeState], list[BaseRoute]]] = {
    "dashscope": dashscope.routes,
    "openai": openai.routes,
    "native": native.routes,
    "kik": kik.routes,
    "nebula": nebula.routes,
    "runway": runway.routes,
    "luma": luma.routes,
    "fal": fal.routes,
    "replicate": replicate.routes,
    "kling": kling.routes,
    "minimax": minimax.routes,
    "veo": veo.routes,
}
DIALECTS = tuple(ROUTES)
API_BASES: Mapping[str, str] = {
    "dashscope": dashscope.API_BASE,
    "openai": openai.API_BASE,
    "native": "",
    "kik": "",
    "nebula": "",
    "runway": runway.API_BASE,
    "luma": luma.API_BASE,
    "fal": fal.API_BASE,
    "replicate": replicate.API_BASE,
    "kling": kling.API_BASE,
    "minimax": minimax.API_BASE,
    "veo": veo.API_BASE,
}
"""What each dialect's clients append to the server URL to get their base URL."""
COUNTERS_PATH = "/_fake/counters"


def create_app(state: FakeState) -> Starlette:
    """A Starlette app serving `state.dialect`'s API, `/results/{id}.mp4` and the counters."""
    style = state.style

    async def result(request: Request, key: str) -> Response:
        task_id = request.path_params["name"].removesuffix(".mp4")
        params = request.query_params
        refused = check_link(
            state.secret, task_id, params.get("Expires"), params.get("Signature"), state.now()
        )
        if refused is not None:
            return oss_error(403, *refused)
        task = state.get(task_id)
        problem = None if task is None else state.download_problem(task)
        if state.faults.expired_results or problem == "expired":
            return oss_error(403, "AccessDenied", "Request has expired.")
        if task is None or problem is not None:
            return oss_error(404, "NoSuchKey", "The specified key does not exist.")
        return serve_bytes(request, await state.video_for(task), "video/mp4")

    async def counters(request: Request) -> Response:
        return JSONResponse(state.counters.snapshot())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        state.counters.record("unmatched", f"{request.method} {request.url.path}")
        state.counters.record_status(exc.status_code)
        code = style.not_found[0] if exc.status_code == 404 else "method_not_allowed"
        return style.response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    routes = [
        *ROUTES[state.dialect](state),
        route(state, ["GET"], RESULTS_PATH + "/{name}", "result", result, auth=False),
        Route(COUNTERS_PATH, counters, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
