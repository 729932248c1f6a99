"""Signed URLs live at least the configured TTL, and every expires_at is written one way."""

from __future__ import annotations

import re

import httpx

from conftest import RunningGateway, png_bytes, wait_terminal

TTL = 86_400
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_a_result_url_lives_at_least_the_ttl_from_now(gateway_factory: object) -> None:
    gateway: RunningGateway = gateway_factory(result_url_ttl=TTL)  # type: ignore[operator]
    blobs = gateway.runtime.services.blobs
    just_past_the_hour = (int(blobs.clock()) // 3600 + 1) * 3600 + 1
    with gateway.client(gateway.make_key()) as api:
        body = {"prompt": "ttl", "duration": 2, "resolution": "480P"}
        task_id = api.post("/v1/tasks", json=body).json()["task_id"]
        wait_terminal(api, task_id)
        blobs.clock = lambda: just_past_the_hour
        task = api.get(f"/v1/tasks/{task_id}").json()
        expires = int(httpx.URL(task["result"]["video_url"]).params["expires"])
        assert expires - just_past_the_hour >= TTL
        assert ISO_Z.match(task["result"]["expires_at"])
        upload = api.post("/v1/files", files={"file": ("a.png", png_bytes(), "image/png")}).json()
        assert int(httpx.URL(upload["url"]).params["expires"]) - just_past_the_hour >= TTL
        assert ISO_Z.match(upload["expires_at"]), upload["expires_at"]
