"""A fake nebula relay: `/v1/video/generations`, `url` or a separate download."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vidgate.dialects import nebula
from vidgate.models import Status, Task
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.relay import accept
from vidgate.testing.results import serve_bytes
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["DOWNLOAD_ONLY_PREFIX", "routes"]

DOWNLOAD_ONLY_PREFIX = "sora"
"""Models whose results have no `url`: fetch `GET …/{task_id}/content` instead."""


def _download_only(task: FakeTask) -> bool:
    return task.model.startswith(DOWNLOAD_ONLY_PREFIX)


def routes(state: FakeState) -> list[BaseRoute]:
    """Submit, query and download, as the nebula relay format documents them."""
    style = state.style

    def missing() -> Response:
        code, message = style.not_found
        return style.response(404, code, message)

    def view(task: FakeTask, request: Request) -> Task:
        seen = state.view(task, base_url(request))
        return seen.model_copy(update={"result": None}) if _download_only(task) else seen

    async def create(request: Request, key: str) -> Response:
        task = accept(state, key, await read_json(request), f"video_{uuid.uuid4().hex}")
        return JSONResponse(nebula.render_task(Task(task_id=task.task_id, status=Status.QUEUED)))

    async def query(request: Request, key: str) -> Response:
        task = state.get(request.path_params["task_id"], key)
        if task is None:
            return missing()
        data = nebula.render_task(view(task, request))
        word = state.faults.take_unknown()
        if word is not None:
            data["status"] = word
        return JSONResponse(data)

    async def content(request: Request, key: str) -> Response:
        task = state.get(request.path_params["task_id"], key)
        if task is None:
            return missing()
        problem = state.download_problem(task)
        if problem == "not_ready":
            return style.response(404, "video_not_ready", "The video is not ready yet.")
        if problem == "expired":
            return style.response(404, "video_expired", "The video has expired.")
        return serve_bytes(request, await state.video_for(task), "video/mp4")

    one = nebula.task_path("{task_id}")
    return [
        route(state, ["POST"], nebula.CREATE_PATH, "submit", create),
        route(state, ["GET"], one, "query", query),
        route(state, ["GET"], one + "/content", "content", content),
    ]
