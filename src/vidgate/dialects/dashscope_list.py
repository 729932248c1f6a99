"""DashScope's task list, `GET /tasks`: filters in Beijing time, pages in two shapes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from vidgate.dialects.common import millis
from vidgate.dialects.dashscope import BEIJING, STATUS, render_task
from vidgate.errors import InvalidRequest
from vidgate.models import Task

__all__ = ["LIST_TIME_FORMAT", "parse_list_time", "render_list"]

LIST_TIME_FORMAT = "%Y%m%d%H%M%S"


def parse_list_time(value: str, name: str) -> datetime:
    """A list filter time, `YYYYMMDDhhmmss` in Beijing time."""
    try:
        return datetime.strptime(value, LIST_TIME_FORMAT).replace(tzinfo=BEIJING)
    except ValueError:
        raise InvalidRequest(
            f"{name} must be a time as YYYYMMDDhhmmss, e.g. 20250929141852.", param=name
        ) from None


def render_list(
    tasks: Sequence[Task],
    *,
    total: int,
    page_no: int,
    page_size: int,
    request_id: str,
    api_key_id: str,
) -> dict[str, Any]:
    """One page of `GET /tasks`: `data` holds each task's status, model and ms times, as
    DashScope documents; `tasks` holds each as its task query's `output` (string times, the
    result and usage), which is what the v2 SDK's `jobs.list` reads."""
    data = [
        {
            "task_id": task.task_id,
            "status": STATUS.wire(task.status),
            "model_name": task.model,
            "api_key_id": api_key_id,
            "gmt_create": millis(task.created_at),
            "start_time": millis(task.started_at),
            "end_time": millis(task.finished_at),
        }
        for task in tasks
    ]
    return {
        "request_id": request_id,
        "data": data,
        "tasks": [_listed(task, request_id) for task in tasks],
        "total": total,
        "total_page": math.ceil(total / page_size),
        "page_no": page_no,
        "page_size": page_size,
    }


def _listed(task: Task, request_id: str) -> dict[str, Any]:
    """One task of a list as the v2 SDK parses it: its query `output`, flat and nested."""
    answer = render_task(task, request_id)
    output = answer["output"]
    listed = {**output, "model_name": task.model, "output": output}
    if "usage" in answer:
        listed["usage"] = answer["usage"]
    return listed
