"""A fake WaveAPI-style native gateway: `/v1/tasks`, its sync wait, long-poll, cancel and list."""

from __future__ import annotations

import asyncio
import math

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vidgate.dialects import native
from vidgate.errors import InvalidRequest
from vidgate.ids import new_task_id
from vidgate.models import Status, Task
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.relay import accept
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["MAX_SYNC_WAIT", "MAX_WAIT", "routes"]

MAX_WAIT = 120.0
MAX_SYNC_WAIT = 300.0
TICK = 0.02


def _seconds(value: object, name: str, top: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= top:
        raise InvalidRequest(f"{name} must be a number of seconds within 0-{top:.0f}.", param=name)
    return float(value)


def routes(state: FakeState) -> list[BaseRoute]:
    """The native task API, answering exactly as a vidgate gateway does."""
    style = state.style

    def hint_headers(task: FakeTask, view: Task) -> dict[str, str]:
        if view.status.terminal:
            return {}
        hint = min(5.0, max(0.1, task.end_at()[0] - state.now()))
        return {
            "Retry-After": str(max(1, math.ceil(hint))),
            "openai-poll-after-ms": str(int(hint * 1000)),
        }

    def answer(task: FakeTask, request: Request, status_code: int = 200) -> Response:
        view = state.view(task, base_url(request))
        data = native.render_task(view)
        if status_code == 200:
            word = state.faults.take_unknown()
            if word is not None:
                data["status"] = word
        return JSONResponse(data, status_code=status_code, headers=hint_headers(task, view))

    def missing() -> Response:
        code, message = style.not_found
        return style.response(404, code, message)

    async def settle(task: FakeTask, seconds: float, until_change: bool) -> None:
        """Wait until the task ends (or changes status), at most `seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        first = task.status(state.now())
        while loop.time() < deadline and not state.closing.is_set():
            status = task.status(state.now())
            if status.terminal or (until_change and status is not first):
                return
            await asyncio.sleep(TICK)

    async def create(request: Request, key: str) -> Response:
        return answer(accept(state, key, await read_json(request), new_task_id()), request, 202)

    async def create_sync(request: Request, key: str) -> Response:
        body = await read_json(request)
        timeout = _seconds(body.pop("timeout", 60.0), "timeout", MAX_SYNC_WAIT)
        task = accept(state, key, body, new_task_id())
        await settle(task, timeout, until_change=False)
        view = state.view(task, base_url(request))
        if view.status.terminal:
            return answer(task, request)
        poll_url = f"{base_url(request)}/v1/tasks/{task.task_id}"
        headers = {**hint_headers(task, view), "Location": poll_url}
        headers.pop("openai-poll-after-ms")
        return JSONResponse(
            {"task_id": task.task_id, "status": view.status.value, "poll_url": poll_url},
            status_code=202,
            headers=headers,
        )

    async def get(request: Request, key: str) -> Response:
        task = state.get(request.path_params["task_id"], key)
        if task is None:
            return missing()
        try:
            wait = float(request.query_params.get("wait", "0"))
        except ValueError:
            wait = -1.0
        await settle(task, _seconds(wait, "wait", MAX_WAIT), until_change=True)
        return answer(task, request)

    async def cancel(request: Request, key: str) -> Response:
        task = state.get(request.path_params["task_id"], key)
        if task is None:
            return missing()
        if not state.cancel(task, frozenset({Status.QUEUED})):
            status = task.status(state.now()).value
            message = f"Only queued tasks can be cancelled; this one is {status}."
            return style.response(409, "task_not_cancellable", message)
        return answer(task, request)

    async def listing(request: Request, key: str) -> Response:
        params = request.query_params
        limit = params.get("limit", "20")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise InvalidRequest("limit must be within 1-100.", param="limit")
        now = state.now()
        tasks = [
            t
            for t in state.tasks(key)
            if params.get("status") in (None, t.status(now).value)
            and params.get("model") in (None, t.model)
        ]
        after = params.get("after")
        if after is not None:
            ids = [t.task_id for t in tasks]
            tasks = tasks[ids.index(after) + 1 :] if after in ids else []
        page = tasks[: int(limit)]
        data = [native.render_task(state.view(t, base_url(request))) for t in page]
        more = len(tasks) > len(page)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "has_more": more,
                "next_after": data[-1]["task_id"] if more and data else None,
            }
        )

    return [
        route(state, ["POST"], native.CREATE_PATH, "submit", create),
        route(state, ["POST"], native.CREATE_PATH + "/sync", "submit", create_sync),
        route(state, ["GET"], native.CREATE_PATH, "list", listing),
        route(state, ["GET"], native.task_path("{task_id}"), "query", get),
        route(state, ["POST"], native.task_path("{task_id}") + "/cancel", "cancel", cancel),
    ]
