"""The canonical task model that every dialect, provider and client speaks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "TERMINAL",
    "Mode",
    "Result",
    "Status",
    "Task",
    "TaskError",
    "Usage",
    "VideoRequest",
    "detect_mode",
]


class Status(StrEnum):
    """A task's lifecycle state, in the WaveAPI-style native task API's words."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})


class Mode(StrEnum):
    """What kind of generation a request asks for."""

    T2V = "t2v"
    I2V = "i2v"
    KF2V = "kf2v"
    R2V = "r2v"
    VACE = "vace"


class VideoRequest(BaseModel):
    """A generation request, independent of the wire format it arrived in."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = ""
    model: str | None = None
    action: str | None = None
    mode: Mode | None = None
    negative_prompt: str | None = None
    duration: int | None = None
    resolution: str | None = None
    size: str | None = None
    ratio: str | None = None
    fps: int | None = None
    seed: int | None = None
    img_url: str | None = None
    first_frame_url: str | None = None
    last_frame_url: str | None = None
    reference_urls: list[str] | None = None
    function: str | None = None
    video_url: str | None = None
    ref_images_url: list[str] | None = None
    mask_image_url: str | None = None
    mask_video_url: str | None = None
    vace: dict[str, Any] = Field(default_factory=dict)
    callback_url: str | None = None
    webhook_events: list[str] | None = None
    metadata: dict[str, Any] | None = None


def detect_mode(request: VideoRequest) -> Mode:
    """Return the explicit mode, else the first match of function, references, frames, image."""
    if request.mode is not None:
        return request.mode
    if request.function:
        return Mode.VACE
    if request.reference_urls:
        return Mode.R2V
    if request.first_frame_url:
        return Mode.KF2V
    if request.img_url:
        return Mode.I2V
    return Mode.T2V


class TaskError(BaseModel):
    """Why a task failed or was cancelled."""

    code: str
    message: str


class Result(BaseModel):
    """Where a completed task's video is, and what it is."""

    video_url: str
    expires_at: datetime | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: int | None = None
    format: str = "mp4"
    source_url: str | None = None


class Usage(BaseModel):
    """Billing facts, as in DashScope's task query (the DashScope task API)."""

    duration: float
    input_video_duration: float
    output_video_duration: float
    video_count: int
    SR: int
    ratio: str


class Task(BaseModel):
    """One generation task as its owner sees it."""

    task_id: str
    status: Status
    progress: int = 0
    model: str = ""
    mode: Mode | None = None
    provider: str = ""
    prompt: str = ""
    duration: int | None = None
    size: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: Result | None = None
    error: TaskError | None = None
    usage: Usage | None = None
    cost: float | None = Field(default=None, exclude=True)
    """Credits the task was charged, once it ended; the native API shows it as `usage.cost`."""
    callback_url: str | None = None
    metadata: dict[str, Any] | None = None
    raw_status: str | None = Field(default=None, exclude=True)
    """The status word of the dialect the task was read in, when that was not native."""
