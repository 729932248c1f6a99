"""A fake's ASGI app also runs in-process, behind httpx's ASGI transport."""

from __future__ import annotations

import httpx

from vidgate.testing import FakeState, ManualClock, Timing, create_app


async def test_the_app_answers_without_a_socket() -> None:
    clock = ManualClock()
    state = FakeState("nebula", timing=Timing(queue_seconds=1, render_seconds=1), clock=clock)
    transport = httpx.ASGITransport(app=create_app(state))
    headers = {"Authorization": "Bearer k"}
    async with httpx.AsyncClient(transport=transport, base_url="http://fake", headers=headers) as c:
        created = (await c.post("/v1/video/generations", json={"prompt": "x"})).json()
        clock.advance(5)
        done = (await c.get(f"/v1/video/generations/{created['task_id']}")).json()
        video = await c.get(done["url"])
    assert created["status"] == "queued"
    assert done["status"] == "succeeded"
    assert done["url"].startswith("http://fake/results/")
    assert video.status_code == 200
    assert state.counters.calls() == 3
