"""Time in UTC: naive in the database, aware everywhere else."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["aware", "iso", "utcnow"]


def utcnow() -> datetime:
    """The current UTC time, naive, as the store keeps it."""
    return datetime.now(UTC).replace(tzinfo=None)


def aware(moment: datetime | None) -> datetime | None:
    """A stored naive UTC time, made timezone-aware for the outside world."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    """A time as ISO 8601 in UTC with a `Z`, as every API time is written."""
    found = aware(moment)
    if found is None:
        return None
    return found.astimezone(UTC).isoformat().replace("+00:00", "Z")
