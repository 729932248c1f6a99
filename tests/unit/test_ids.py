"""Task ids sort by creation, so they serve as list cursors."""

from __future__ import annotations

import uuid

from vidgate.ids import new_task_id


def test_ids_made_in_one_millisecond_still_rise() -> None:
    ids = [new_task_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_are_version_7_uuids() -> None:
    parsed = uuid.UUID(new_task_id())
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
