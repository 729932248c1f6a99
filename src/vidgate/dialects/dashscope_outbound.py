"""The calling side of DashScope's dialect (beside `dashscope`, which would pass 400 lines)."""

from __future__ import annotations

from typing import Any

from vidgate.catalog import Shape
from vidgate.dialects import dashscope
from vidgate.dialects.outbound import Call, Outbound, RunningPage, TaskPage, text
from vidgate.models import Status, Task, VideoRequest

__all__ = ["ASYNC_HEADER", "LIST_PATH", "OUTBOUND", "DashScopeOutbound"]

ASYNC_HEADER = {"X-DashScope-Async": "enable"}
"""Video synthesis is asynchronous only; DashScope refuses a create without this header."""
LIST_PATH = "/tasks"


class DashScopeOutbound(Outbound):
    """DashScope's task API: image2video for kf2v, `{output: …}` answers, cancel while PENDING
    (the server refuses later ones)."""

    name = "dashscope"
    status = dashscope.STATUS
    running_statuses = (Status.QUEUED, Status.PROCESSING)

    def create(self, request: VideoRequest, shape: Shape | None = None) -> Call:
        path, body = dashscope.build_create(request, shape)
        return Call("POST", path, body, headers=ASYNC_HEADER)

    def submitted_id(self, data: object) -> str | None:
        output = data.get("output") if isinstance(data, dict) else None
        return text(output.get("task_id")) if isinstance(output, dict) else None

    def created(self, data: object, request: VideoRequest) -> Task:
        return self.parse(data).model_copy(update={"model": request.model or ""})

    def retrieve(self, task_id: str) -> Call:
        return Call("GET", dashscope.task_path(task_id))

    def parse(self, data: object) -> Task:
        return dashscope.parse_task(data)

    def cancel(self, task_id: str) -> Call | None:
        return Call("POST", f"{dashscope.task_path(task_id)}/cancel")

    def list(
        self, *, limit: int, after: str | None, status: Status | None, model: str | None
    ) -> Call | None:
        """Pages are numbered: `after` is the number of the page to read."""
        params: dict[str, str | int] = {"page_size": limit, "page_no": int(after or 1)}
        if status is not None:
            params["status"] = dashscope.STATUS.wire(status)
        if model:
            params["model_name"] = model
        return Call("GET", LIST_PATH, params=params)

    def page(self, data: Any, status: Status | None) -> TaskPage:
        tasks = [
            self.parse(
                {"output": {"task_id": item.get("task_id"), "task_status": item.get("status")}}
            ).model_copy(update={"model": str(item.get("model_name") or "")})
            for item in data.get("data", [])
        ]
        page_no, pages = int(data.get("page_no") or 1), int(data.get("total_page") or 1)
        more = page_no < pages
        return TaskPage(tasks, more, str(page_no + 1) if more else None)

    def running_page(self, data: Any, status: Status) -> RunningPage:
        """The ids straight from the JSON: a sweep reads thousands of items a second."""
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ValueError("the listing has no data")
        ids = []
        for item in items:
            if isinstance(item, dict) and item.get("task_id"):
                found = self.status.canonical(item.get("status"))
                if found is None or not found.terminal:
                    ids.append(str(item["task_id"]))
        page_no, pages = int(data.get("page_no") or 1), int(data.get("total_page") or 1)
        return RunningPage(ids, str(page_no + 1) if page_no < pages else None)


OUTBOUND = DashScopeOutbound()
