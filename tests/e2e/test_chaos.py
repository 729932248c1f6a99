"""Two gateways and two workers on one PostgreSQL, under a few hundred tasks while processes
are killed, connections cut and the database restarted: nothing is lost, failed or doubled.

The gateways run no engine; the workers render (and send webhooks). Tasks go through the
native and the OpenAI videos API; each is waited for on the gateway that did not take it, by
its event stream or by long-poll, and every key's `/v1/events` is followed live on both."""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from chaos.checks import (
    check_downloads,
    check_events,
    check_ledger,
    check_webhooks,
    completed_urls,
    read_stored,
    wanted_webhooks,
)
from chaos.load import Caller, Follower, Planned, follow, replay, run_task
from chaos.nodes import Node, SharedSetup, node_env, terminate_connections
from conftest import free_port
from postgres import PostgresCluster, find_bin_dir, start_cluster
from receiver import Receiver, start_receiver
from vidgate.service.keys import create_key
from vidgate.store import open_store

if TYPE_CHECKING:
    from seaweed import S3Target

pytest_plugins = ["seaweed"]  # the s3_server and s3_blob_url fixtures

pytestmark = pytest.mark.timeout(600)

TASKS = 200
SUBMIT_SPAN = 30.0
"""Seconds over which the tasks are submitted; the faults fall inside it."""
KEYS = 3
QUOTA = 1000.0
SETTLE_TIMEOUT = 400.0
"""Seconds after the last submit within which every task must have ended: a safety net for a
crowded machine; on two free cores they all end within about a minute."""
STATUS_COUNTS = (
    "SELECT string_agg(status || '=' || n, ' ') FROM "
    "(SELECT status, count(*) n FROM tasks GROUP BY status ORDER BY status) c"
)


@dataclass
class Deployment:
    cluster: PostgresCluster
    database_url: str
    gateways: list[Node]
    workers: list[Node]
    callers: list[Caller]
    server_thread: concurrent.futures.ThreadPoolExecutor
    """Where PostgreSQL is restarted: the server ends with the thread that started it."""
    faults: list[str] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    """Exit statuses of the nodes stopped by SIGTERM."""

    @property
    def urls(self) -> list[str]:
        return [gateway.url for gateway in self.gateways]

    def nodes(self) -> list[Node]:
        return [*self.gateways, *self.workers]

    def psql(self, sql: str) -> str:
        return self.cluster.psql(sql, self.database_url.rsplit("/", 1)[1])


async def _make_callers(url: str) -> list[Caller]:
    store = open_store(url)
    await store.open()
    try:
        made = [await create_key(store, f"chaos-{n}", QUOTA) for n in range(KEYS)]
        return [Caller(key.key, key.key_id, QUOTA) for key in made]
    finally:
        await store.close()


@pytest.fixture
def deployment(tmp_path: Path, s3_blob_url: S3Target) -> Iterator[Deployment]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found; install them or set VIDGATE_PG_BIN")
    cluster = start_cluster(bin_dir)  # its own server: the test restarts it
    server_thread = concurrent.futures.ThreadPoolExecutor(1)
    nodes: list[Node] = []
    try:
        url = cluster.create_database()
        callers = asyncio.run(_make_callers(url))
        ports = [free_port(), free_port()]
        shared = SharedSetup(
            database_url=url,
            secret_key=secrets.token_urlsafe(32),
            root=tmp_path / "nodes",
            public_url=f"http://127.0.0.1:{ports[0]}",
            blob_env=s3_blob_url.env,  # {} for blobs on a data dir the nodes share
        )
        gateways = [
            Node(
                f"gateway{n}",
                node_env(shared, f"gateway{n}", port=port),
                tmp_path / f"g{n}.log",
                port,
            )
            for n, port in enumerate(ports)
        ]
        workers = [
            Node(f"worker{n}", node_env(shared, f"worker{n}", port=None), tmp_path / f"w{n}.log")
            for n in range(2)
        ]
        nodes = [*gateways, *workers]
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_ready()
        yield Deployment(cluster, url, gateways, workers, callers, server_thread)
    finally:
        for node in nodes:
            node.ask_to_stop()
        for node in nodes:
            node.reap(timeout=15)
        for node in nodes:
            print(f"--- {node.name} ({node.starts} starts) ---\n{node.tail(1500)}")
        cluster.stop()
        server_thread.shutdown()


def make_plan() -> list[Planned]:
    """Every mix of dialect, first gateway and waiter, spread over the keys."""
    return [
        Planned(
            index=i,
            dialect="openai" if i % 5 == 4 else "native",
            caller=i % KEYS,
            gateway=(i // 10) % 2,
            waiter="sse" if (i // 5) % 2 == 0 else "longpoll",
        )
        for i in range(TASKS)
    ]


async def inject_faults(deployment: Deployment, start: float) -> None:
    """The faults, each at its time after ``start`` (loop time). A supervisor restarts each
    node it stops, while the next faults go on."""
    loop = asyncio.get_running_loop()
    log = deployment.faults
    restarts: list[asyncio.Task[None]] = []

    async def at(seconds: float, what: str) -> None:
        await asyncio.sleep(max(0.0, start + seconds - loop.time()))
        log.append(f"{loop.time() - start:.1f}s {what}")

    async def then_restart(node: Node, stop: Callable[[], object]) -> None:
        await asyncio.to_thread(stop)
        restarts.append(asyncio.create_task(asyncio.to_thread(node.restart)))

    worker, gateway, drained = deployment.workers[0], deployment.gateways[1], deployment.workers[1]
    await at(4, "kill -9 worker0")
    await then_restart(worker, worker.kill)
    await at(8, "kill -9 gateway1")
    await then_restart(gateway, gateway.kill)
    await at(12, "SIGTERM worker1")
    await then_restart(drained, lambda: deployment.exits.append(drained.terminate()))
    await at(17, "terminate every connection")
    first = await asyncio.to_thread(terminate_connections, deployment.cluster)
    await at(18, "terminate every connection again")
    second = await asyncio.to_thread(terminate_connections, deployment.cluster)
    assert first > 0 and second > 0, (first, second)
    await at(23, "restart PostgreSQL")
    await loop.run_in_executor(deployment.server_thread, deployment.cluster.restart)
    log.append(f"{loop.time() - start:.1f}s PostgreSQL is back")
    await asyncio.gather(*restarts)
    log.append(f"{loop.time() - start:.1f}s every node is back")


async def monitor(deployment: Deployment, start: float) -> None:
    """A line of task counts and CPU seconds every few seconds, for the log of a failed run."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(5)
        try:
            counts = await asyncio.to_thread(deployment.psql, STATUS_COUNTS)
        except RuntimeError as exc:
            counts = str(exc)[:80]
        cpu = " ".join(f"{n.name}={n.cpu_seconds():.1f}" for n in deployment.nodes())
        print(f"{loop.time() - start:6.1f}s {counts} | cpu {cpu} test={time.process_time():.1f}")


@dataclass
class Outcome:
    plan: list[Planned]
    followers: list[Follower]
    replays: dict[tuple[int, int], list[Any]]
    settled_after: float


async def drive(deployment: Deployment, receiver: Receiver) -> Outcome:
    plan = make_plan()
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    timeout = httpx.Timeout(30.0, connect=5.0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        followers = [Follower(g, c) for g in (0, 1) for c in range(KEYS)]
        following = [
            asyncio.create_task(
                follow(client, deployment.urls[f.gateway], deployment.callers[f.caller], f)
            )
            for f in followers
        ]
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        spacing = SUBMIT_SPAN / TASKS
        runs = [
            asyncio.create_task(
                run_task(
                    client,
                    deployment.urls,
                    deployment.callers,
                    task,
                    receiver.url,
                    start + task.index * spacing,
                )
            )
            for task in plan
        ]
        faults = asyncio.create_task(inject_faults(deployment, start))
        watching = asyncio.create_task(monitor(deployment, start))
        done, pending = await asyncio.wait([*runs, faults], timeout=SUBMIT_SPAN + SETTLE_TIMEOUT)
        watching.cancel()
        for task in pending:
            task.cancel()
        for task in done:
            task.result()
        if pending:
            unfinished = [p for p in plan if p.final is None]
            ids = ", ".join(f"'{p.task_id}'" for p in unfinished[:5] if p.task_id)
            states = deployment.psql(
                "SELECT id, status, progress, attempts, lease_owner, lease_expires_at, now() "
                f"FROM tasks WHERE id IN ({ids or 'NULL'})"
            )
            raise AssertionError(
                f"{len(unfinished)} tasks never ended, e.g. {unfinished[:3]}\n{states}"
            )
        settled_after = loop.time() - start
        stored = await read_stored(deployment.database_url, deployment.callers, [])
        lasts = {
            c: max((e.id for e in stored.events[caller.key_id]), default=0)
            for c, caller in enumerate(deployment.callers)
        }
        for _ in range(300):  # up to 30 s for the live streams to catch up
            if all(f.last_id >= lasts[f.caller] for f in followers):
                break
            await asyncio.sleep(0.1)
        for task in following:
            task.cancel()
        await asyncio.gather(*following, return_exceptions=True)
        replays = {
            (g, c): await replay(client, deployment.urls[g], deployment.callers[c], lasts[c])
            for g in (0, 1)
            for c in range(KEYS)
        }
    return Outcome(plan, followers, replays, settled_after)


def test_nothing_is_lost_failed_or_doubled_across_nodes_under_faults(
    deployment: Deployment,
) -> None:
    receiver = start_receiver()
    began = time.monotonic()
    try:
        outcome = asyncio.run(drive(deployment, receiver))
        plan = outcome.plan
        callers = deployment.callers
        assert [task.final["status"] for task in plan if task.final] == ["completed"] * TASKS, [
            (task.task_id, task.final.get("error"))
            for task in plan
            if task.final and task.final["status"] != "completed"
        ]
        assert {task.submitted_to for task in plan} == {0, 1}
        assert deployment.exits == [0], "a SIGTERM'd worker did not drain and exit cleanly"
        stored = asyncio.run(
            read_stored(deployment.database_url, callers, [task.task_id for task in plan])
        )
        assert all(t.status.value == "completed" for t in stored.tasks.values())
        check_events(plan, callers, stored, outcome.replays, outcome.followers)
        wanted = set(wanted_webhooks(stored))
        deadline = time.monotonic() + 30
        while not wanted <= {d.headers["webhook-id"] for d in list(receiver.received)}:
            if time.monotonic() > deadline:
                break  # check_webhooks names what is missing
            time.sleep(0.1)
        per_message = check_webhooks(receiver.received, stored)
        hooked = completed_urls(receiver.received)
        caller_of = {task.task_id: callers[task.caller] for task in plan}

        async def ledger_and_downloads() -> int:
            async with httpx.AsyncClient(timeout=30) as client:
                await check_ledger(client, deployment.urls, callers, plan, stored)
                return await check_downloads(
                    client, deployment.urls, caller_of, plan, hooked, deployment.urls[0]
                )

        downloads = asyncio.run(ledger_and_downloads())
    finally:
        receiver.close()
    attempts = Counter(task.attempts for task in stored.tasks.values())
    print(
        f"chaos: {TASKS} tasks settled {outcome.settled_after:.1f}s after the first submit; "
        f"{time.monotonic() - began:.1f}s in all\n  faults: {deployment.faults}\n"
        f"  attempts per task: {dict(attempts)}\n"
        f"  submit retries: {sum(t.submit_tries - 1 for t in plan)}, waiter reconnects: "
        f"{sum(t.reconnects for t in plan)}, follower reconnects: "
        f"{[f.reconnects for f in outcome.followers]}\n"
        f"  webhooks: {len(per_message)} events, {sum(per_message.values())} deliveries; "
        f"{downloads} downloads"
    )
