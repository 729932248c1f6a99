"""vidgate: a gateway, SDK and CLI for asynchronous video-generation tasks."""

from vidgate.errors import VidgateError
from vidgate.models import Mode, Result, Status, Task, TaskError, Usage, VideoRequest

__all__ = [
    "Mode",
    "Result",
    "Status",
    "Task",
    "TaskError",
    "Usage",
    "VideoRequest",
    "VidgateError",
    "__version__",
]

__version__ = "0.1.0"
