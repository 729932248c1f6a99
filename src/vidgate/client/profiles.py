"""What the SDK knows of each kind of server: the dialect it speaks, and the extras it offers.

The calls and answers themselves belong to the dialect (`vidgate.dialects`); a profile adds only
what a client does on top: follow events or long-poll, upload files, fill in the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidgate.catalog import DEFAULT_MODELS
from vidgate.dialects import dashscope_outbound, kik, native, nebula, openai
from vidgate.dialects.outbound import Outbound
from vidgate.models import VideoRequest, detect_mode

__all__ = ["PROFILES", "Profile", "default_model"]


@dataclass(frozen=True)
class Profile:
    """One kind of server the SDK talks to (a `provider`)."""

    provider: str
    dialect: Outbound
    events: bool = False
    """`GET /v1/tasks/{id}/events` streams the task's changes as they happen."""
    long_poll: bool = False
    """`GET /v1/tasks/{id}?wait=N` holds the answer until the task changes or ends."""
    uploads: bool = False
    """`POST /v1/files` takes local files; elsewhere they travel as `data:` URLs."""
    percent_progress: bool = False
    """Whether tasks report progress in percent."""
    fills_model: bool = True
    """Whether the client must name the default model itself (the server will not)."""


PROFILES: dict[str, Profile] = {
    "vidgate": Profile(
        "vidgate",
        native.OUTBOUND,
        events=True,
        long_poll=True,
        uploads=True,
        percent_progress=True,
        fills_model=False,
    ),
    "dashscope": Profile("dashscope", dashscope_outbound.OUTBOUND),
    "kik": Profile("kik", kik.OUTBOUND),
    "nebula": Profile("nebula", nebula.OUTBOUND),
    "openai": Profile("openai", openai.OUTBOUND, percent_progress=True, fills_model=False),
}


def default_model(request: VideoRequest) -> str:
    """The model the video.py client picks for the request's mode."""
    return request.model or DEFAULT_MODELS[detect_mode(request)]
