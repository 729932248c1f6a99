"""What the relay fakes (native, kik, nebula) share: flat create bodies checked the same way."""

from __future__ import annotations

from typing import Any

from vidgate.dialects import native
from vidgate.errors import InvalidRequest
from vidgate.testing.state import FakeState
from vidgate.testing.tasks import FakeTask

__all__ = ["accept"]


def accept(state: FakeState, key: str, body: dict[str, Any], task_id: str) -> FakeTask:
    """Parse a flat create body (the native shape), check its model, and accept the task."""
    video = native.parse_create(body)
    if state.models is not None and video.model not in state.models:
        raise InvalidRequest(
            f"The model {video.model!r} does not exist.", param="model", code="model_not_found"
        )
    return state.add(task_id, key, video, body)
