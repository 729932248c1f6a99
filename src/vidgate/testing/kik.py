"""A fake kik relay: `/video/v1/tasks`, ms timestamps, `data[{url}]`, `error`."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vidgate.dialects import kik
from vidgate.models import Status, Task
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.relay import accept
from vidgate.testing.state import FakeState

__all__ = ["CANCELLABLE", "routes"]

CANCELLABLE = frozenset({Status.QUEUED, Status.PROCESSING})
"""kik cancels pending and running tasks alike (the kik relay format's status flow)."""


def routes(state: FakeState) -> list[BaseRoute]:
    """Create, query and cancel, as the kik relay format documents them."""
    style = state.style

    def missing() -> Response:
        code, message = style.not_found
        return style.response(404, code, message)

    async def create(request: Request, key: str) -> Response:
        task = accept(state, key, await read_json(request), str(uuid.uuid4()))
        return JSONResponse(kik.render_created(Task(task_id=task.task_id, status=Status.QUEUED)))

    async def query(request: Request, key: str) -> Response:
        task = state.get(request.path_params["task_id"], key)
        if task is None:
            return missing()
        data = kik.render_task(state.view(task, base_url(request)))
        word = state.faults.take_unknown()
        if word is not None:
            data["task_status"] = word
        return JSONResponse(data)

    async def cancel(request: Request, key: str) -> Response:
        task = state.get(request.path_params["task_id"], key)
        if task is None:
            return missing()
        if not state.cancel(task, CANCELLABLE):
            return style.response(409, "task_not_cancellable", "task already finished")
        return JSONResponse(kik.render_task(state.view(task, base_url(request))))

    one = kik.task_path("{task_id}")
    return [
        route(state, ["POST"], kik.CREATE_PATH, "submit", create),
        route(state, ["GET"], one, "query", query),
        route(state, ["POST"], one + "/cancel", "cancel", cancel),
    ]
