"""A fake DashScope video-synthesis API (seeds 000 and 001), answering as the real one does."""

from __future__ import annotations

import hashlib
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vidgate.dialects import dashscope, dashscope_list
from vidgate.errors import InvalidRequest
from vidgate.models import Status, Task
from vidgate.testing.endpoint import base_url, read_json, route
from vidgate.testing.state import DAY, FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["API_BASE", "CANCEL_REFUSED", "SYNC_REFUSED", "routes"]

API_BASE = "/api/v1"
"""The path a DashScope client's base URL ends in (`https://dashscope-intl.aliyuncs.com/api/v1`)."""
SYNC_REFUSED = "current user api does not support synchronous calls"
CANCEL_REFUSED = "Failed to cancel the task, please confirm if the task status is PENDING."


def _request_id() -> str:
    return str(uuid.uuid4())


def _api_key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _whole(value: str | None, name: str, default: int, top: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= top:
        raise InvalidRequest(f"{name} must be a whole number within 1-{top}.", param=name)
    return int(value)


MAX_SNAPSHOTS = 64
SNAPSHOT_PARAMS = ("start_time", "end_time", "task_id", "model_name", "status")


def _window(state: FakeState, start: str | None, end: str | None) -> tuple[float, float]:
    """The list's time window: at most 24 h, the last day by default."""
    first = dashscope_list.parse_list_time(start, "start_time").timestamp() if start else None
    last = dashscope_list.parse_list_time(end, "end_time").timestamp() if end else None
    if last is None:
        last = first + DAY if first is not None else state.now()
    if first is None:
        first = last - DAY
    if not 0 <= last - first <= DAY:
        raise InvalidRequest("The time window must be at most 24 hours.", param="end_time")
    return first, last


def routes(state: FakeState) -> list[BaseRoute]:
    """`POST …/video-synthesis`, `GET /tasks/{id}`, `POST /tasks/{id}/cancel`, `GET /tasks`."""
    style = state.style

    async def submit(request: Request, key: str) -> Response:
        if request.headers.get("x-dashscope-async", "").lower() != "enable":
            return style.response(403, "AccessDenied", SYNC_REFUSED)
        body = await read_json(request)
        video = dashscope.parse_create(body)
        if not video.model:
            raise InvalidRequest("Required parameter model is missing.", param="model")
        if state.models is not None and video.model not in state.models:
            return style.response(404, "ModelNotFound", "Model not exist.")
        request_id = _request_id()
        task = state.add(str(uuid.uuid4()), key, video, body, request_id=request_id)
        queued = Task(task_id=task.task_id, status=Status.QUEUED)
        return JSONResponse(dashscope.render_created(queued, request_id))

    async def query(request: Request, key: str) -> Response:
        task_id = request.path_params["task_id"]
        request_id = _request_id()
        task = state.get(task_id, key)
        if task is None:
            return JSONResponse(dashscope.render_unknown(task_id, request_id))
        data = dashscope.render_task(state.view(task, base_url(request)), request_id)
        word = state.faults.take_unknown()
        if word is not None:
            data["output"]["task_status"] = word
        return JSONResponse(data)

    async def cancel(request: Request, key: str) -> Response:
        request_id = _request_id()
        task = state.get(request.path_params["task_id"], key)
        if task is None:
            status, body = dashscope.render_error("not_found", "Task not found.", request_id)
            return JSONResponse(body, status_code=status)
        if not state.cancel(task, frozenset({Status.QUEUED})):
            status, body = dashscope.render_error(
                "task_not_cancellable", CANCEL_REFUSED, request_id
            )
            return JSONResponse(body, status_code=status)
        return JSONResponse({"request_id": request_id})

    snapshots: dict[tuple[object, ...], tuple[float, list[FakeTask]]] = {}

    async def listing(request: Request, key: str) -> Response:
        params = request.query_params
        first, last = _window(state, params.get("start_time"), params.get("end_time"))
        page_no = _whole(params.get("page_no"), "page_no", 1, 10_000)
        page_size = _whole(params.get("page_size"), "page_size", 10, 100)
        wanted, now = params.get("status"), state.now()
        query = (key, *(params.get(name) for name in SNAPSHOT_PARAMS))
        taken = snapshots.get(query)
        if taken is not None and now - taken[0] < state.list_snapshot:
            found = taken[1]
        else:
            found = [
                task
                for task in state.tasks(key)
                if first <= task.submitted_at <= last
                and params.get("task_id") in (None, task.task_id)
                and params.get("model_name") in (None, task.model)
                and wanted in (None, dashscope.STATUS.wire(task.status(now)))
            ]
            if len(snapshots) >= MAX_SNAPSHOTS:
                snapshots.clear()
            snapshots[query] = (now, found)
        offset = (page_no - 1) * page_size
        data = dashscope_list.render_list(
            [state.listed(task) for task in found[offset : offset + page_size]],
            total=len(found),
            page_no=page_no,
            page_size=page_size,
            request_id=_request_id(),
            api_key_id=_api_key_id(key),
        )
        return JSONResponse(data)

    tasks = f"{API_BASE}/tasks"
    return [
        route(state, ["POST"], API_BASE + dashscope.SYNTHESIS_PATH, "submit", submit),
        route(state, ["POST"], API_BASE + dashscope.I2V_PATH, "submit", submit),
        route(state, ["GET"], tasks, "list", listing),
        route(state, ["GET"], tasks + "/{task_id}", "query", query),
        route(state, ["POST"], tasks + "/{task_id}/cancel", "cancel", cancel),
    ]
