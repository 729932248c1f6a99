"""What every provider offers the engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from vidgate.catalog import Shape
from vidgate.errors import VidgateError
from vidgate.models import Mode, VideoRequest
from vidgate.records import MediaKind

__all__ = [
    "Job",
    "JobInput",
    "Provider",
    "ProviderError",
    "ProviderLimits",
    "Rendered",
    "ReportProgress",
]

ReportProgress = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class ProviderLimits:
    """How hard a provider may be driven, and what it can do."""

    concurrency: int
    poll_interval: float
    can_cancel_running: bool


@dataclass(frozen=True)
class JobInput:
    """One input file of a job, with the request field it came from and what it is."""

    field: str
    path: Path
    kind: MediaKind


@dataclass(frozen=True)
class Job:
    """One task, as a provider needs it: the canonical request plus its resolved shape."""

    task_id: str
    model: str
    mode: Mode
    request: VideoRequest
    shape: Shape
    seed: int
    inputs: tuple[JobInput, ...] = ()

    def files(self, *fields: str, kind: MediaKind | None = None) -> list[Path]:
        """Paths of the inputs from ``fields``, in order, optionally of one kind only."""
        return [
            item.path
            for name in fields
            for item in self.inputs
            if item.field == name and (kind is None or item.kind == kind)
        ]

    def file(self, field: str) -> Path | None:
        """The first input from ``field``, if any."""
        found = self.files(field)
        return found[0] if found else None


@dataclass(frozen=True)
class Rendered:
    """A finished video on local disk, with the facts read from it."""

    path: Path
    width: int
    height: int
    fps: int
    duration: float
    input_video_duration: float = 0.0


class ProviderError(VidgateError):
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
