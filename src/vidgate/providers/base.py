"""What every provider offers the engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Job", "Provider", "ProviderError", "ProviderLimits", "Rendered", "ReportProgress"]

ReportProgress = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class ProviderLimits:
    """How hard a provider may be driven, and what it can do."""

    concurrency: int
    poll_interval: float
    can_cancel_running: bool


@dataclass(frozen=True)
class Job:
    """One task, as a provider needs it: the canonical request plus its resolved shape."""

    task_id: str
    model: str
    mode: str
    prompt: str
    width: int
    height: int
    fps: int
    duration: int
    seed: int
    request: dict[str, Any]
    inputs: dict[str, list[Path]] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    """A finished video on local disk, with the facts read from it."""

    path: Path
    width: int
    height: int
    fps: int
    duration: float
    input_video_duration: float = 0.0


class ProviderError(Exception):
    """A provider's refusal or failure, with the code the task reports."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Provider(Protocol):
    """Renders jobs; cancelling the awaiting task stops a running render where it can."""

    name: str
    limits: ProviderLimits

    async def run(self, job: Job, out_path: Path, report: ReportProgress) -> Rendered: ...
