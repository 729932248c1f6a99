"""Counters tally calls by kind and route, and statuses, exactly across threads."""

from __future__ import annotations

import threading

from vidgate.testing import Counters


def test_tallies_by_kind_route_and_status() -> None:
    counters = Counters()
    counters.record("query", "GET /v1/videos/{video_id}")
    counters.record("query", "GET /v1/videos/{video_id}")
    counters.record("submit", "POST /v1/videos")
    counters.record_status(200)
    counters.record_status(429)
    assert counters.calls() == 3
    assert counters.calls("query") == 2
    assert counters.calls("GET /v1/videos/{video_id}") == 2
    assert counters.calls("cancel") == 0
    assert (counters.responses(), counters.responses(429)) == (2, 1)
    assert counters.snapshot() == {
        "query": 2,
        "GET /v1/videos/{video_id}": 2,
        "submit": 1,
        "POST /v1/videos": 1,
        "total": 3,
        "status:200": 1,
        "status:429": 1,
    }
    counters.reset()
    assert counters.snapshot() == {"total": 0}


def test_threads_lose_no_counts() -> None:
    counters = Counters()

    def record() -> None:
        for _ in range(2000):
            counters.record("query", "GET /x")
            counters.record_status(200)

    threads = [threading.Thread(target=record) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.calls("query") == counters.calls() == 16000
    assert counters.responses(200) == 16000
