"""Retention: a finished task's video and previews are deleted once they are kept long enough.

The task stays on record; its result URL answers 410 afterwards, as for a deleted video.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from vidgate.blobs import BlobStore
from vidgate.blobs.results import result_blob_names
from vidgate.clock import utcnow
from vidgate.store import Store

__all__ = ["purge_expired_results"]

log = logging.getLogger("vidgate.engine")
BATCH = 100


async def purge_expired_results(store: Store, blobs: BlobStore, retention: int) -> int:
    """Delete the result blobs of tasks finished over ``retention`` s ago; returns how many
    tasks were purged. Safe to run on every node at once: deleting twice is harmless."""
    purged = 0
    cutoff = utcnow() - timedelta(seconds=retention)
    while True:
        found = await store.results_to_purge(cutoff, BATCH)
        for task in found:
            if task.result is not None:
                for name in result_blob_names(task.result.blob):
                    await blobs.delete(name)
            await store.mark_results_purged(task.id)
            purged += 1
        if len(found) < BATCH:
            break
    if purged:
        log.info("deleted the results of %d tasks past their retention", purged)
    return purged
