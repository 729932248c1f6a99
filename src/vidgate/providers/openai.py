"""OpenAI-style videos as an upstream: base URL ends in /v1, as the OpenAI SDK's does."""

from __future__ import annotations

from typing import Any

from vidgate.dialects import openai
from vidgate.models import Task, VideoRequest
from vidgate.providers.upstream import Call

__all__ = ["OpenAIAdapter"]


class OpenAIAdapter:
    """`POST /videos`, `GET /videos/{id}`, `GET /videos/{id}/content`, `DELETE /videos/{id}`."""

    def submit(self, request: VideoRequest) -> Call:
        return Call("POST", "/videos", openai.build_create(request))

    def submitted_id(self, data: Any) -> str | None:
        video_id = data.get("id") if isinstance(data, dict) else None
        return str(video_id) if video_id else None

    def poll(self, upstream_id: str) -> Call:
        return Call("GET", f"/videos/{upstream_id}")

    def parse(self, data: Any) -> Task:
        return openai.parse_task(data)

    def cancel(self, upstream_id: str) -> Call | None:
        return Call("DELETE", f"/videos/{upstream_id}")

    def content(self, upstream_id: str) -> Call | None:
        return Call("GET", f"/videos/{upstream_id}/content")

    def error(self, data: Any) -> tuple[str | None, str | None]:
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            return None, None
        code = error.get("code") or error.get("type")
        return (str(code) if code else None), (str(error.get("message") or "") or None)
