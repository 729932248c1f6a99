"""Log lines as text or as JSON objects, with the task, key and request each one concerns.

What a line concerns is kept in context variables: a request's id is bound by the server's
request-id middleware, a key by authentication, a task (and its provider) by the engine for the
work it spawns, so every line logged on their way carries them.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import Context, ContextVar, copy_context
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from vidgate.records import TaskRecord

__all__ = [
    "FIELDS",
    "JsonFormatter",
    "announce",
    "bind",
    "configure",
    "task_context",
    "task_fields",
    "uvicorn_log_config",
]

FIELDS = ("task_id", "upstream_task_id", "provider", "key_id", "request_id")
"""What a JSON line may carry besides its time, level, logger and message."""
_VARS: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"vidgate_{name}", default=None) for name in FIELDS
}
_json = False


def bind(**values: str | None) -> None:
    """Say what the lines logged from here on (in this task and those it starts) concern."""
    for name, value in values.items():
        _VARS[name].set(value)


def task_fields(task: TaskRecord) -> dict[str, str | None]:
    """A task's fields, as `extra` for a line logged outside the work for it (the reaper's)."""
    return {
        "task_id": task.id,
        "provider": task.provider,
        "key_id": task.owner_id,
        "upstream_task_id": task.upstream_id,
    }


def task_context(task_id: str, provider: str) -> Context:
    """A copy of the current context that concerns one task, to run the work for it in."""
    context = copy_context()
    context.run(bind, task_id=task_id, provider=provider)
    return context


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and the fields
    of `FIELDS` that apply; an exception as `exc_info` text."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in _VARS.items():
            value = getattr(record, name, None) or var.get()
            if value:
                line[name] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: Literal["text", "json"], level: str = "info") -> None:
    """Set up the process's logging: with ``json``, every line on stderr is a JSON object.

    No line shows the caller's source line, thread or process, so records are made without
    looking them up (the logging HOWTO's optimisations).
    """
    global _json
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    _json = log_format == "json"
    if not _json:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def uvicorn_log_config(log_format: Literal["text", "json"]) -> dict[str, Any] | None:
    """uvicorn's `log_config`: its own for text; for JSON none, so its lines reach the root
    handler that `configure` set. (The access log is vidgate's own, `server/accesslog.py`.)"""
    if log_format == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG


def announce(message: str, *, error: bool = False) -> None:
    """A line for the operator on stderr: as it is, or as a JSON log line."""
    if _json:
        logging.getLogger("vidgate").log(logging.ERROR if error else logging.INFO, message)
    else:
        print(message, file=sys.stderr)
