"""A gateway's task event stream (`GET /v1/tasks/{id}/events`): decoding, and events as Tasks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from vidgate.dialects import native
from vidgate.models import Status, Task

__all__ = ["Event", "EventDecoder", "apply_event", "events_path"]


def events_path(task_id: str) -> str:
    return f"{native.task_path(task_id)}/events"


@dataclass(frozen=True)
class Event:
    """One server-sent event."""

    id: str | None
    type: str
    data: Any


@dataclass
class EventDecoder:
    """Turns the lines of a `text/event-stream` into events (comments are heartbeats)."""

    _fields: dict[str, str] = field(default_factory=dict)
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> Event | None:
        """Take one line; returns the event that a blank line completes."""
        if line == "":
            if not self._data:
                self._fields.clear()
                return None
            text = "\n".join(self._data)
            try:
                data: Any = json.loads(text)
            except ValueError:
                data = text
            event = Event(self._fields.get("id"), self._fields.get("event", "message"), data)
            self._fields.clear()
            self._data.clear()
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        else:
            self._fields[name] = value
        return None


def apply_event(task_id: str, last: Task | None, event: Event) -> Task | None:
    """The task as an event leaves it: the full task on terminal events, else status/progress."""
    data = event.data if isinstance(event.data, dict) else {}
    if isinstance(data.get("task"), dict):
        return native.parse_task(data["task"])
    try:
        status = Status(str(data.get("status")))
    except ValueError:
        return None
    progress = data.get("progress")
    update: dict[str, Any] = {"status": status, "raw_status": status.value}
    if isinstance(progress, int):
        update["progress"] = progress
    if last is None:
        return Task(task_id=task_id, **update)
    return last.model_copy(update=update)
