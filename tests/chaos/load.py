"""The client side of the chaos test: submits through two dialects, waiters on the other
gateway, and live `/v1/events` followers, each retrying as a careful client would."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

__all__ = [
    "TERMINAL",
    "WEBHOOK_EVENTS",
    "Caller",
    "Follower",
    "Frame",
    "Planned",
    "follow",
    "frames",
    "run_task",
]

TERMINAL = ("completed", "failed", "cancelled")
TERMINAL_TYPES = tuple(f"task.{status}" for status in TERMINAL)
WEBHOOK_EVENTS = ["task.queued", "task.processing", *TERMINAL_TYPES]
TRANSIENT = (502, 503, 504)
PAUSE = 0.2
SUBMIT_TIMEOUT = 120.0
"""Seconds a submit keeps being retried before the test gives up on it."""


@dataclass(frozen=True)
class Caller:
    """An API key with its quota."""

    key: str
    key_id: str
    quota: float

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Planned:
    """One task: how it is submitted and waited for, and what the client saw of it."""

    index: int
    dialect: Literal["native", "openai"]
    caller: int
    gateway: int
    """The gateway tried first; `submitted_to` is the one that took it."""
    waiter: Literal["sse", "longpoll"]
    task_id: str = ""
    submitted_to: int = -1
    submit_tries: int = 0
    final: dict[str, Any] | None = None
    streamed: list[int] = field(default_factory=list)
    """Event ids an SSE waiter saw, across its reconnects."""
    reconnects: int = 0

    def body(self, hook_url: str) -> tuple[str, dict[str, Any]]:
        """The create route and body: the cheapest render each dialect can ask for."""
        push = {"callback_url": hook_url, "webhook_events": WEBHOOK_EVENTS}
        if self.dialect == "openai":
            return "/v1/videos", {
                "model": "wan2.6-t2v",
                "prompt": f"chaos {self.index}",
                "seconds": "2",
                "size": "832x480",
                **push,
            }
        return "/v1/tasks", {
            "prompt": f"chaos {self.index}",
            "duration": 2,
            "resolution": "480P",
            "fps": 8,
            "metadata": {"index": self.index},
            **push,
        }


@dataclass(frozen=True)
class Frame:
    id: int
    event: str
    data: dict[str, Any]


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """The events of a server-sent event stream; comments and `retry:` lines are skipped."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields and "id" in fields:
                yield Frame(int(fields["id"]), fields.get("event", ""), json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def _pause() -> None:
    await asyncio.sleep(PAUSE)


async def submit(
    client: httpx.AsyncClient, gateways: Sequence[str], caller: Caller, task: Planned, hook: str
) -> None:
    """Submit with an `Idempotency-Key`; on a dropped connection or a 5xx, retry the same
    request, on the other gateway if this one is unreachable."""
    path, body = task.body(hook)
    headers = {**caller.headers, "Idempotency-Key": str(uuid.uuid4())}
    gateway = task.gateway
    deadline = time.monotonic() + SUBMIT_TIMEOUT
    while True:
        assert time.monotonic() < deadline, f"task {task.index} could not be submitted"
        task.submit_tries += 1
        try:
            response = await client.post(f"{gateways[gateway]}{path}", json=body, headers=headers)
        except httpx.TransportError:
            gateway = 1 - gateway
            await _pause()
            continue
        if response.status_code in TRANSIENT:
            await _pause()
            continue
        assert response.status_code in (200, 202), (response.status_code, response.text)
        answer = response.json()
        task.task_id = answer["id"] if task.dialect == "openai" else answer["task_id"]
        task.submitted_to = gateway
        return


async def wait_longpoll(client: httpx.AsyncClient, url: str, caller: Caller, task: Planned) -> None:
    while True:
        try:
            response = await client.get(
                f"{url}/v1/tasks/{task.task_id}", params={"wait": 10}, headers=caller.headers
            )
        except httpx.TransportError:
            task.reconnects += 1
            await _pause()
            continue
        if response.status_code in TRANSIENT:
            await _pause()
            continue
        assert response.status_code == 200, (response.status_code, response.text)
        body: dict[str, Any] = response.json()
        if body["status"] in TERMINAL:
            task.final = body
            return


async def wait_sse(client: httpx.AsyncClient, url: str, caller: Caller, task: Planned) -> None:
    """Follow the task's event stream to its terminal event, resuming after each cut."""
    last = 0
    while True:
        headers = {**caller.headers, "Last-Event-ID": str(last)}
        try:
            async with client.stream(
                "GET", f"{url}/v1/tasks/{task.task_id}/events", headers=headers
            ) as response:
                if response.status_code in TRANSIENT:
                    await _pause()
                    continue
                assert response.status_code == 200, (response.status_code, response.text)
                async for frame in frames(response):
                    assert frame.id > last, (task.task_id, frame.id, last)
                    last = frame.id
                    task.streamed.append(frame.id)
                    if frame.event in TERMINAL_TYPES:
                        task.final = frame.data["task"]
                        return
        except httpx.TransportError:
            pass
        task.reconnects += 1
        await _pause()


async def run_task(
    client: httpx.AsyncClient,
    gateways: Sequence[str],
    callers: Sequence[Caller],
    task: Planned,
    hook: str,
    start_at: float,
) -> None:
    """At ``start_at`` (loop time), submit the task, then wait for it on the other gateway."""
    await asyncio.sleep(max(0.0, start_at - asyncio.get_running_loop().time()))
    caller = callers[task.caller]
    await submit(client, gateways, caller, task, hook)
    other = gateways[1 - task.submitted_to]
    waiting = wait_sse if task.waiter == "sse" else wait_longpoll
    await waiting(client, other, caller, task)


@dataclass
class Follower:
    """A live `GET /v1/events` stream of one key on one gateway, resumed after every cut."""

    gateway: int
    caller: int
    frames: list[Frame] = field(default_factory=list)
    reconnects: int = 0

    @property
    def last_id(self) -> int:
        return self.frames[-1].id if self.frames else 0


async def follow(client: httpx.AsyncClient, url: str, caller: Caller, follower: Follower) -> None:
    """Run until cancelled."""
    while True:
        headers = {**caller.headers, "Last-Event-ID": str(follower.last_id)}
        try:
            async with client.stream("GET", f"{url}/v1/events", headers=headers) as response:
                if response.status_code == 200:
                    async for frame in frames(response):
                        follower.frames.append(frame)
        except httpx.TransportError:
            pass
        follower.reconnects += 1
        await _pause()


async def replay(client: httpx.AsyncClient, url: str, caller: Caller, until: int) -> list[Frame]:
    """Every event of the key from the start, read from `/v1/events` up to event ``until``."""
    found: list[Frame] = []
    if until == 0:
        return found
    async with client.stream(
        "GET", f"{url}/v1/events", params={"last_event_id": 0}, headers=caller.headers
    ) as response:
        assert response.status_code == 200, response.status_code
        async for frame in frames(response):
            found.append(frame)
            if frame.id >= until:
                break
    return found
