"""One fake route: count the call, apply faults, check the key, answer in the dialect's words."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vidgate.dialects.common import require_object
from vidgate.errors import ApiError, InvalidRequest
from vidgate.testing.credentials import KEY_READERS
from vidgate.testing.errors import retry_after_header
from vidgate.testing.state import FakeState

__all__ = ["Handler", "base_url", "bearer_key", "malformed", "read_json", "route"]

Handler = Callable[[Request, str], Awaitable[Response]]
"""An endpoint body: the request and the caller's key (empty on unauthenticated routes)."""

TICK = 0.02


AUTH_SCHEMES = {"fal": "key"}
"""The `Authorization` scheme of each dialect that does not use `Bearer`."""


def bearer_key(request: Request, expected: str = "bearer") -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != expected:
        return None
    return token.strip() or None


def base_url(request: Request) -> str:
    """Where the client reached this server, for links it can follow back."""
    return str(request.base_url).rstrip("/")


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 in the dialect's words."""
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest("The request body is not valid JSON.") from None
    return require_object(body)


def malformed(response: Response) -> Response:
    """The same answer with its JSON cut in half."""
    body = bytes(response.body)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(body[: len(body) // 2], status_code=response.status_code, headers=headers)


async def _pause(state: FakeState, request: Request, seconds: float) -> bool:
    """Wait; False when the client left or the server is stopping first."""
    if seconds <= 0:
        return True
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        if state.closing.is_set() or await request.is_disconnected():
            return False
        await asyncio.sleep(min(TICK, left))
    return True


async def _hang(state: FakeState, request: Request) -> bool:
    """Hold the call while `faults.hang` is set; False when the client left or the server stops."""
    while state.faults.hang:
        if state.closing.is_set() or await request.is_disconnected():
            return False
        await asyncio.sleep(TICK)
    return True


async def _request_faults(state: FakeState, request: Request) -> Response | None:
    """The early answer a request fault calls for, if any."""
    faults, style = state.faults, state.style
    gone = Response(b"", status_code=503)
    if faults.hang or faults.delay > 0:
        # Read the body first: watching for a disconnect would otherwise swallow it.
        await request.body()
    if faults.hang and not await _hang(state, request):
        return gone
    if not await _pause(state, request, faults.delay):
        return gone
    retry_after = faults.take_throttle()
    if retry_after is not None:
        code, message = style.throttled
        headers = {"Retry-After": retry_after_header(retry_after)}
        return style.response(429, code, message, headers=headers)
    status = faults.take_error()
    if status is not None:
        code, message = style.server_error
        return style.response(status, code, message)
    return None


async def _answer(
    state: FakeState, kind: str, handler: Handler, request: Request, auth: bool
) -> Response:
    faults, style = state.faults, state.style
    faulty = faults.applies_to(kind)
    if faulty:
        early = await _request_faults(state, request)
        if early is not None:
            return early
    reader = KEY_READERS.get(state.dialect)
    if reader is not None:
        key, problem = reader(request, state)
    else:
        key = bearer_key(request, AUTH_SCHEMES.get(state.dialect, "bearer"))
        problem = state.key_problem(key)
    if auth and problem is not None:
        code, missing, wrong = style.unauthorized
        status = style.unauthorized_status[problem != "missing"]
        return style.response(status, code, missing if problem == "missing" else wrong)
    if kind == "submit":
        failure = faults.take_submit_failure()
        if failure is not None:
            return style.submit_error(failure, faults.retry_after)
    try:
        response = await handler(request, key or "")
    except ApiError as exc:
        response = style.api_error(exc)
    if faulty and response.media_type == "application/json" and faults.take_malformed():
        return malformed(response)
    return response


def route(
    state: FakeState,
    methods: Sequence[str],
    path: str,
    kind: str,
    handler: Handler,
    *,
    auth: bool = True,
) -> Route:
    """A Starlette route that counts each call as `kind` and `METHOD path`."""

    async def endpoint(request: Request) -> Response:
        state.counters.record(kind, f"{request.method} {path}")
        response = await _answer(state, kind, handler, request, auth)
        state.counters.record_status(response.status_code)
        return response

    return Route(path, endpoint, methods=list(methods), name=f"{kind}:{path}")
