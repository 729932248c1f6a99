"""Server-sent events: replay from Last-Event-ID, heartbeats, and the end after the last event."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx

from conftest import RunningGateway

SMALL = {"prompt": "stream", "duration": 2, "resolution": "480P"}


def read_events(response: httpx.Response, stop_after: int | None = None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line == "":
            if "data" in fields:
                events.append(
                    {
                        "id": int(fields["id"]),
                        "event": fields["event"],
                        "data": json.loads(fields["data"]),
                    }
                )
                if stop_after is not None and len(events) >= stop_after:
                    break
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return events


def test_task_stream_replays_and_ends_after_the_terminal_event(api: httpx.Client) -> None:
    task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
    with api.stream("GET", f"/v1/tasks/{task_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "task.queued"
    assert kinds[-1] == "task.completed"
    assert "task.processing" in kinds
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    progress = [e["data"]["progress"] for e in events if e["event"] == "task.progress"]
    assert progress == sorted(progress)
    final = events[-1]["data"]["task"]
    assert final["status"] == "completed" and final["result"]["video_url"]

    with api.stream(
        "GET", f"/v1/tasks/{task_id}/events", headers={"Last-Event-ID": str(ids[1])}
    ) as response:
        replayed = read_events(response)
    assert [e["id"] for e in replayed] == ids[2:]


def test_key_stream_sees_only_its_own_tasks_and_heartbeats(gateway_factory: Any) -> None:
    gateway: RunningGateway = gateway_factory(sse_heartbeat=0.2, run_engine=False)
    with (
        gateway.client(gateway.make_key("a")) as mine,
        gateway.client(gateway.make_key("b")) as other,
    ):
        other_task = other.post("/v1/tasks", json=SMALL).json()["task_id"]
        my_task = mine.post("/v1/tasks", json=SMALL).json()["task_id"]
        mine.post(f"/v1/tasks/{my_task}/cancel")
        with mine.stream("GET", "/v1/events") as response:
            lines = []
            for line in response.iter_lines():
                lines.append(line)
                if line == ": heartbeat":
                    break
        data = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
        assert {d["task_id"] for d in data} == {my_task}
        assert [d["type"] for d in data] == ["task.queued", "task.cancelled"]
        assert other_task not in "\n".join(lines)
        assert other.get(f"/v1/tasks/{my_task}/events").status_code == 404


def test_a_listing_says_where_to_follow_from_without_replaying_history(api: httpx.Client) -> None:
    old = api.post("/v1/tasks", json=SMALL).json()["task_id"]
    with api.stream("GET", f"/v1/tasks/{old}/events") as response:
        read_events(response)  # ends with the old task's terminal event
    listing = api.get("/v1/tasks").json()
    assert [t["task_id"] for t in listing["data"]] == [old]
    new = api.post("/v1/tasks", json=SMALL).json()["task_id"]
    params = {"last_event_id": listing["last_event_id"]}
    with api.stream("GET", "/v1/events", params=params) as response:
        first = read_events(response, stop_after=1)
    assert int(listing["last_event_id"]) > 0
    assert [(e["event"], e["data"]["task_id"]) for e in first] == [("task.queued", new)]


def test_heartbeats_keep_their_interval_and_a_change_between_them_arrives_at_once(
    gateway_factory: Any,
) -> None:
    gateway: RunningGateway = gateway_factory(sse_heartbeat=0.3, run_engine=False)
    with gateway.client(gateway.make_key("a")) as api, api.stream("GET", "/v1/events") as stream:
        lines = stream.iter_lines()
        beats: list[float] = []
        while len(beats) < 4:
            if next(lines) == ": heartbeat":
                beats.append(time.monotonic())
        gaps = [later - earlier for earlier, later in itertools.pairwise(beats)]
        assert all(gap <= 0.3 + 0.2 for gap in gaps), gaps
        task_id = api.post("/v1/tasks", json=SMALL).json()["task_id"]
        submitted = time.monotonic()
        for line in lines:
            if line.startswith("data: ") and json.loads(line[6:])["task_id"] == task_id:
                break
        assert time.monotonic() - submitted < 0.25
