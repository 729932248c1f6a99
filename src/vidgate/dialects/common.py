"""Pieces every dialect shares: status tables, time formats and input checks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from pydantic import ValidationError

from vidgate.catalog import MODELS, Shape
from vidgate.errors import InvalidRequest
from vidgate.models import Status, VideoRequest

__all__ = [
    "MAX_JSON_DEPTH",
    "PUSH_FIELDS",
    "StatusWords",
    "check_json",
    "from_millis",
    "from_unix",
    "iso_time",
    "millis",
    "parse_time",
    "push_fields",
    "require_object",
    "size_text",
    "unix",
    "validate_request",
    "validation_error",
    "whole_number",
]

MAX_JSON_DEPTH = 64
"""How deep a request body may nest; no create body needs more than a few levels."""


class StatusWords:
    """One dialect's status vocabulary, both ways; unknown words map to no status."""

    def __init__(self, words: Mapping[Status, str], extra: Mapping[str, Status] | None = None):
        self.to_wire = dict(words)
        self.from_wire = {word: status for status, word in words.items()}
        self.from_wire.update(extra or {})

    def wire(self, status: Status) -> str:
        return self.to_wire[status]

    def canonical(self, word: object) -> Status | None:
        """The canonical status of a word, or None when unknown (and so not terminal)."""
        return self.from_wire.get(word) if isinstance(word, str) else None


def validation_error(error: ValidationError, prefix: str = "") -> InvalidRequest:
    """The first pydantic error as a 400 naming its field."""
    first = error.errors()[0]
    field = prefix + ".".join(str(part) for part in first["loc"])
    message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
    return InvalidRequest(f"{field}: {message}.", param=field or None)


def validate_request(fields: Mapping[str, Any], prefix: str = "") -> VideoRequest:
    try:
        return VideoRequest.model_validate(dict(fields))
    except ValidationError as exc:
        raise validation_error(exc, prefix) from None


def iso_time(value: str | None, param: str) -> datetime | None:
    """A query parameter's ISO 8601 time (UTC when it names no zone), or a 400 naming it."""
    if not value:
        return None
    moment = parse_time(value)
    if moment is None:
        raise InvalidRequest(
            f"{param} must be an ISO 8601 time, such as 2026-01-31T12:00:00Z.", param=param
        )
    return moment


def whole_number(text: str, max_digits: int = 18) -> int | None:
    """``text`` as a non-negative integer when it is 1 to ``max_digits`` ASCII digits, else None.

    `str.isdigit` alone accepts superscripts and other digits `int` refuses, and `int` refuses
    more than 4300 digits: both would be errors where a refusal is meant.
    """
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_path(path: tuple[str | int, ...]) -> str | None:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text or None


def check_json(value: object, path: tuple[str | int, ...] = ()) -> None:
    """Refuse, naming the field, a parsed body that nests deeper than `MAX_JSON_DEPTH` or holds
    a string (a key or a value) that is not valid Unicode, such as a lone surrogate (`\\udc00`),
    which JSON can spell but nothing downstream can store or send."""
    if len(path) > MAX_JSON_DEPTH:
        field = _json_path(path[:1])
        name = field or "The request body"
        raise InvalidRequest(f"{name} is nested deeper than {MAX_JSON_DEPTH} levels.", param=field)
    if isinstance(value, str):
        if not _encodable(value):
            field = _json_path(path)
            name = field or "The request body"
            raise InvalidRequest(f"{name} is not valid Unicode text.", param=field)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not _encodable(key):
                field = _json_path(path)
                name = f"{field} has a key that" if field else "The request body has a key that"
                raise InvalidRequest(f"{name} is not valid Unicode text.", param=field)
            check_json(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json(item, (*path, index))


def require_object(body: object, name: str = "The request body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest(f"{name} must be a JSON object.")
    return body


PUSH_FIELDS = ("callback_url", "webhook_events")
"""vidgate's own create fields, accepted by every dialect: where and what to push."""


def push_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """`callback_url` and `webhook_events` (a list, or comma-separated as in a form)."""
    found: dict[str, Any] = {}
    if fields.get("callback_url") is not None:
        found["callback_url"] = fields["callback_url"]
    events = fields.get("webhook_events")
    if isinstance(events, str):
        events = [part.strip() for part in events.split(",") if part.strip()]
    if events is not None:
        found["webhook_events"] = events
    return found


def size_text(model: str | None, shape: Shape) -> str:
    """The shape's size as the model spells it (`1280x720` for Sora, else `1280*720`)."""
    spec = MODELS.get(model or "")
    sizes = spec.sizes() if spec is not None else {}
    wanted = (shape.width, shape.height)
    named = (name for name, size in sizes.items() if size == wanted)
    return next(named, f"{shape.width}*{shape.height}")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def millis(moment: datetime | None) -> int | None:
    """Milliseconds since the epoch, exactly (no float rounding); naive times are UTC."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - EPOCH) // timedelta(milliseconds=1)


def unix(moment: datetime | None) -> int | None:
    """Whole seconds since the epoch; naive times are UTC."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - EPOCH) // timedelta(seconds=1)


def from_millis(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def from_unix(value: object) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def parse_time(value: object, naive_zone: tzinfo = UTC) -> datetime | None:
    """An ISO 8601 or DashScope (`2025-09-29 14:18:52.331`) time, as UTC; a time that names
    no zone is read in ``naive_zone``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=naive_zone)).astimezone(UTC)
