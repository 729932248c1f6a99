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
    """A stored time as ISO 8601 with its UTC offset."""
    found = aware(moment)
    return None if found is None else found.isoformat()
