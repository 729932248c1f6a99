"""Fair turns among runnable tasks, for stores that pick them in code (the memory store).

The SQL store asks the same of its database in one query; both follow
``LeaseStore.claim``: a task's turn is its rank among its key's runnable tasks plus the tasks
its key already runs on the provider, ties go to the older task, and a key at its
``max_in_flight`` gets no more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from vidgate.records import TaskRecord

__all__ = ["fair_turns"]


def fair_turns(
    runnable: Iterable[TaskRecord],
    running_here: Counter[str],
    running_anywhere: Counter[str],
    max_in_flight: Mapping[str, int | None],
    limit: int,
) -> list[TaskRecord]:
    """Up to ``limit`` of ``runnable`` in the order they should start."""
    ranks: Counter[str] = Counter()
    turns: list[tuple[int, str, TaskRecord]] = []
    for task in sorted(runnable, key=lambda t: t.id):
        owner = task.owner_id
        ranks[owner] += 1
        cap = max_in_flight.get(owner)
        if cap is not None and ranks[owner] + running_anywhere[owner] > cap:
            continue
        turns.append((ranks[owner] + running_here[owner], task.id, task))
    turns.sort(key=lambda turn: (turn[0], turn[1]))
    return [task for _, _, task in turns[:limit]]
