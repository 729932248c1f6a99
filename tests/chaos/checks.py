"""What must hold after the chaos: read back through both gateways, the receiver and the
database, and compared with what the clients saw while it happened."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from standardwebhooks import Webhook

from chaos.load import TERMINAL_TYPES, WEBHOOK_EVENTS, Caller, Follower, Planned
from receiver import Received
from vidgate.records import Event, LedgerEntry, TaskRecord
from vidgate.store import open_store

__all__ = [
    "Stored",
    "check_downloads",
    "check_events",
    "check_ledger",
    "check_webhooks",
    "completed_urls",
    "read_stored",
    "wanted_webhooks",
    "webhook_id",
]


@dataclass(frozen=True)
class Stored:
    """What the database holds for the test's keys at the end."""

    tasks: dict[str, TaskRecord]
    events: dict[str, list[Event]]
    """By key id, in id order."""
    ledger: dict[str, list[LedgerEntry]]
    webhook_secrets: dict[str, str]


async def read_stored(url: str, callers: Sequence[Caller], task_ids: Sequence[str]) -> Stored:
    store = open_store(url)
    await store.open()
    try:
        tasks = {}
        for task_id in task_ids:
            found = await store.task(task_id)
            assert found is not None, task_id
            tasks[task_id] = found
        events: dict[str, list[Event]] = {}
        ledger = {}
        secrets = {}
        for caller in callers:
            key = await store.key_by_id(caller.key_id)
            assert key is not None and key.webhook_secret is not None
            secrets[caller.key_id] = key.webhook_secret
            rows: list[Event] = []
            while batch := await store.events_after(caller.key_id, rows[-1].id if rows else 0):
                rows += batch
            events[caller.key_id] = rows
            ledger[caller.key_id] = await store.ledger_for(caller.key_id)
        return Stored(tasks, events, ledger, secrets)
    finally:
        await store.close()


def webhook_id(event: Event) -> str:
    """The `webhook-id` a delivery of ``event`` carries: stable across retries."""
    return f"msg_{event.task_id.replace('-', '')[:20]}{event.id}"


async def check_ledger(
    client: httpx.AsyncClient,
    gateways: Sequence[str],
    callers: Sequence[Caller],
    plan: Sequence[Planned],
    stored: Stored,
) -> None:
    """Each key's balance is its quota less what its tasks used; each task was charged once."""
    for index, caller in enumerate(callers):
        mine = [task for task in plan if task.caller == index]
        used = sum(stored.tasks[task.task_id].usage.duration for task in mine)  # type: ignore[union-attr]
        assert used == 2 * len(mine)
        for url in gateways:
            account = (await client.get(f"{url}/v1/account", headers=caller.headers)).json()
            assert (account["quota"], account["used"], account["reserved"]) == (
                caller.quota,
                used,
                0,
            ), account
            assert account["balance"] == caller.quota - used, account
        entries = Counter((row.task_id, row.kind) for row in stored.ledger[caller.key_id])
        expected = Counter(
            {(task.task_id, kind): 1 for task in mine for kind in ("reserve", "settle")}
        )
        assert entries == expected, "a task was charged twice, or not at all"


def check_events(
    plan: Sequence[Planned],
    callers: Sequence[Caller],
    stored: Stored,
    replays: dict[tuple[int, int], list[Any]],
    followers: Sequence[Follower],
) -> None:
    """The replay from either gateway is the database's events; live followers and SSE
    waiters saw the same, with nothing skipped across their reconnects."""
    for index, caller in enumerate(callers):
        expected = [event.id for event in stored.events[caller.key_id]]
        assert expected, caller.key_id
        for gateway in (0, 1):
            assert [frame.id for frame in replays[(gateway, index)]] == expected
        for follower in followers:
            if follower.caller == index:
                seen = [frame.id for frame in follower.frames]
                assert seen == expected, (
                    f"live /v1/events on gateway {follower.gateway}: "
                    f"missing {sorted(set(expected) - set(seen))[:10]}, "
                    f"extra {sorted(set(seen) - set(expected))[:10]}"
                )
    by_task: dict[str, list[Event]] = defaultdict(list)
    for rows in stored.events.values():
        for event in rows:
            by_task[event.task_id].append(event)
    assert set(by_task) == {task.task_id for task in plan}
    for task in plan:
        kinds = [event.type for event in by_task[task.task_id]]
        assert kinds[0] == "task.queued" and kinds[-1] == "task.completed", kinds
        assert sum(kind in TERMINAL_TYPES for kind in kinds) == 1, kinds
        if task.waiter == "sse":
            assert task.streamed == [event.id for event in by_task[task.task_id]], task


def wanted_webhooks(stored: Stored) -> dict[str, Event]:
    """The events the tasks asked webhooks for, by the `webhook-id` their delivery carries."""
    return {
        webhook_id(event): event
        for rows in stored.events.values()
        for event in rows
        if event.type in WEBHOOK_EVENTS
    }


def completed_urls(received: Sequence[Received]) -> dict[str, str]:
    """The result URL each `task.completed` webhook carried, by task id."""
    urls = {}
    for delivery in received:
        body = json.loads(delivery.body)
        if body["type"] == "task.completed":
            urls[body["data"]["task_id"]] = body["data"]["result"]["video_url"]
    return urls


def check_webhooks(received: Sequence[Received], stored: Stored) -> dict[str, int]:
    """Every wanted event arrived, signed, at least once; a repeat carries the same
    `webhook-id` and the same event. Returns the deliveries per webhook-id."""
    wanted = wanted_webhooks(stored)
    verifiers = {key_id: Webhook(secret) for key_id, secret in stored.webhook_secrets.items()}
    counts: Counter[str] = Counter()
    for delivery in received:
        message = delivery.headers["webhook-id"]
        assert message in wanted, f"a delivery for no wanted event: {message}"
        event = wanted[message]
        body = json.loads(delivery.body)
        assert (body["type"], body["data"]["task_id"]) == (event.type, event.task_id)
        verifiers[event.owner_id].verify(delivery.body, delivery.headers)
        counts[message] += 1
    missing = sorted(set(wanted) - set(counts))
    assert not missing, f"{len(missing)} webhook events never delivered: {missing[:5]}"
    return dict(counts)


async def check_downloads(
    client: httpx.AsyncClient,
    gateways: Sequence[str],
    caller_of: dict[str, Caller],
    plan: Sequence[Planned],
    hooked_urls: dict[str, str],
    public_url: str,
) -> int:
    """Each result downloads from both gateways (the OpenAI ones by their content route too),
    by URLs either signed, and by the URL its webhook carried; all the same bytes. Signed URLs
    start with the public URL; each is fetched from both gateways."""
    limit = asyncio.Semaphore(8)

    async def fetch(url: str, headers: dict[str, str] | None = None) -> bytes:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.text[:200])
        return response.content

    async def one(task: Planned) -> int:
        caller = caller_of[task.task_id]
        async with limit:
            bodies = []
            for url in gateways:
                read = await client.get(f"{url}/v1/tasks/{task.task_id}", headers=caller.headers)
                assert read.status_code == 200 and read.json()["status"] == "completed"
                signed = httpx.URL(read.json()["result"]["video_url"])
                assert str(signed).startswith(f"{public_url}/"), signed
                for other in gateways:
                    bodies.append(
                        await fetch(str(signed.copy_with(netloc=httpx.URL(other).netloc)))
                    )
                if task.dialect == "openai":
                    content = f"{url}/v1/videos/{task.task_id}/content"
                    bodies.append(await fetch(content, caller.headers))
            hooked = hooked_urls[task.task_id]
            assert hooked.startswith(f"{public_url}/"), hooked
            bodies.append(await fetch(hooked))
        assert bodies[0][4:8] == b"ftyp", "not an MP4"
        assert all(body == bodies[0] for body in bodies), task.task_id
        return len(bodies)

    return sum(await asyncio.gather(*(one(task) for task in plan)))
