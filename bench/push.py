"""Push: 10,000 waiters told of completion, webhook delivery lag, and idempotent submits.

What it measures (issue 6), each on one `vidgate serve --no-access-log` process (one uvicorn
worker, SQLite store in a temporary data dir), on 127.0.0.1 only:

1. Waiters. With the engine off (`VIDGATE_RUN_ENGINE=false`), `--waiters` tasks (2 s, 480P) are
   submitted; each then gets one waiter, an SSE stream (`GET /v1/tasks/{id}/events`) or a
   long-poll (`GET /v1/tasks/{id}?wait=120`), half and half by default, held by `--load-procs`
   separate load processes. All of them wait idle for `--hold` s (longer than the 15 s SSE
   heartbeat), then every task is cancelled through the API (`POST /v1/tasks/{id}/cancel`: a
   terminal transition, as completion is, and what the waiters wait for) over
   `--cancel-concurrency` connections, as fast as the gateway goes (or at `--cancel-rate`).
   Per waiter, lag = the moment its terminal SSE event or long-poll answer arrived - the
   task's `finished_at` as the waiter was told it. `finished_at` is stamped when the cancelling
   transaction starts, before it waits for SQLite's write lock, so this lag is an upper bound;
   the lag after the cancel's own answer arrived is shown too.
   Targets: every waiter told within 1 s; gateway RSS peak (VmHWM) <= 500 MB.
2. Webhook lag. A second gateway, engine on, `VIDGATE_ALLOW_NETWORKS=127.0.0.0/8`, and a
   receiver process on loopback; every task carries `callback_url`. In turn: `--webhook-renders`
   tasks rendered to completion by the local renderer (task.completed); `--webhooks` tasks each
   submitted and cancelled at once, pair after pair, at `--webhook-rate` per second; as many
   again submitted, then cancelled in a burst over `--cancel-concurrency` connections
   (task.cancelled). The engine claims and starts rendering every queued task, as it would in
   service, so renders share the CPU throughout. Lag = arrival at the receiver - the task's
   `finished_at`. Every delivery's Standard Webhooks signature is checked against the key's
   `webhook_secret`. Target: p95 < 200 ms, at the steady rate (renders + paced cancels); the
   burst, which holds the gateway at full load, is shown against the same target as a stress
   figure.
3. Idempotency. `POST /v1/tasks` answered per second with a unique `Idempotency-Key` per
   request against without one, from a separate load process, same concurrency, same window,
   `--rounds` rounds in ABBA order, on the first gateway (engine off). Issue 6 sets no figure:
   both are shown against bench/submits.py's 300 submits/s, with their ratio.

For each phase it also reports how much of the wall time the gateway's main thread spent
runnable but waiting for a CPU (/proc/PID/task/PID/schedstat): on a machine shared with other
work that share is the first thing to read, as every latency above grows with it.

Exit status 1 when a measurement is incomplete (a waiter never told, an HTTP error, a bad
signature); a figure that misses its target is reported as MISS, not as an error. Usage:

    .venv/bin/python bench/push.py [--waiters 10000] [--sse-share 0.5] [--load-procs 2]
        [--hold 20] [--cancel-concurrency 8] [--cancel-rate 0] [--webhooks 200] [--webhook-rate 20]
        [--webhook-renders 10] [--duration 5] [--rounds 2]
        [--only waiters,webhooks,idempotency] [--max-seconds 900] [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness import (
    HOST,
    Column,
    Connection,
    Gateway,
    LoadResult,
    Process,
    Processes,
    Reply,
    bounded,
    cpu_count,
    epoch,
    fan_out,
    free_port,
    load_average,
    parse_with_quick,
    percentile,
    process_cpu_seconds,
    process_memory_kib,
    raise_fd_limit,
    request_bytes,
    run_async,
    table,
    verdict,
    wait_http,
)
from push_support import LONG_POLL_WAIT

SUPPORT = Path(__file__).resolve().parent / "push_support.py"
TASK_BODY: dict[str, Any] = {
    "prompt": "A cat running across a meadow",
    "duration": 2,
    "resolution": "480P",
}
TOLD_WITHIN_S = 1.0
RSS_TARGET_MB = 500.0
WEBHOOK_P95_TARGET_MS = 200.0
SUBMITS_REFERENCE = 300.0
STARVED = 0.25
PHASES = ("waiters", "webhooks", "idempotency")
QUICK = {
    "waiters": 200,
    "hold": 2.0,
    "webhooks": 20,
    "webhook_renders": 1,
    "duration": 1.0,
    "warmup": 0.5,
    "rounds": 1,
}


# --------------------------------------------------------------------------------------------
# what the gateway uses


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process in MB (10^6 bytes)."""
    return {name: kib * 1024 / 1e6 for name, kib in process_memory_kib(pid).items()}


def cpu_share(pid: int, seconds: float) -> float:
    """The share of one core the process uses over the next `seconds`."""
    before = process_cpu_seconds(pid)
    time.sleep(seconds)
    return (process_cpu_seconds(pid) - before) / seconds


@dataclass(frozen=True)
class Sched:
    """A process's CPU seconds (main thread, other threads) and the main thread's wait for one."""

    run: float
    others: float
    wait: float
    at: float

    @classmethod
    def of(cls, pid: int) -> Sched:
        run = others = wait = 0.0
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                    run_ns, wait_ns, _ = handle.read().split()
            except OSError:  # the thread ended meanwhile
                continue
            if int(tid) == pid:
                run, wait = int(run_ns) / 1e9, int(wait_ns) / 1e9
            else:
                others += int(run_ns) / 1e9
        return cls(run, others, wait, time.monotonic())

    def since(self, before: Sched) -> tuple[float, float, float, float]:
        """Shares of the wall time: main thread on a CPU, other threads on a CPU (in cores),
        main thread waiting for a CPU; and the wall time. Threads that ended are not counted."""
        wall = max(1e-9, self.at - before.at)
        return (
            (self.run - before.run) / wall,
            max(0.0, self.others - before.others) / wall,
            (self.wait - before.wait) / wall,
            wall,
        )


def sched_note(label: str, shares: tuple[float, float, float, float]) -> str:
    on_cpu, others, waiting, wall = shares
    return (
        f"{label}: over {wall:.0f} s the gateway's main thread ran {on_cpu:.0%} of the time and "
        f"waited for a CPU {waiting:.0%}; its other threads used {others:.0%} of a core"
    )


# --------------------------------------------------------------------------------------------
# requests


def submit_request(gateway: Gateway, body: Mapping[str, Any]) -> bytes:
    return request_bytes(
        "POST", "/v1/tasks", gateway.port, [gateway.auth], json.dumps(body).encode()
    )


def submit_tasks(
    gateway: Gateway, count: int, body: Mapping[str, Any], concurrency: int
) -> tuple[list[str], float]:
    """Submit `count` tasks; returns their ids in order and the submits per second."""
    request = submit_request(gateway, body)

    async def submit(conn: Connection, _index: int) -> Reply:
        return await conn.request(request)

    started = time.monotonic()
    replies = run_async(fan_out(gateway.port, range(count), submit, concurrency=concurrency))
    elapsed = time.monotonic() - started
    bad = [r for r in replies if r.status != 202]
    if bad:
        raise RuntimeError(f"{len(bad)} of {count} submits failed: {bad[0].body[:300]!r}")
    return [json.loads(r.body)["task_id"] for r in replies], count / elapsed


def cancel_request(gateway: Gateway, task_id: str) -> bytes:
    path = f"/v1/tasks/{task_id}/cancel"
    return request_bytes("POST", path, gateway.port, [gateway.auth], b"")


def cancel_tasks(
    gateway: Gateway, task_ids: Sequence[str], concurrency: int, rate: float = 0.0
) -> tuple[list[Reply], float]:
    """`POST /v1/tasks/{id}/cancel` for each task; the replies in order, and cancels per second."""

    async def cancel(conn: Connection, task_id: str) -> Reply:
        return await conn.request(cancel_request(gateway, task_id))

    started = time.monotonic()
    replies = run_async(fan_out(gateway.port, task_ids, cancel, concurrency=concurrency, rate=rate))
    return replies, len(task_ids) / (time.monotonic() - started)


def submit_then_cancel(
    gateway: Gateway, body: Mapping[str, Any], count: int, *, rate: float, concurrency: int
) -> list[tuple[Reply, Reply | None]]:
    """`count` times: submit a task, then cancel it at once; the i-th pair starts at i / rate.

    Returns (submit reply, cancel reply or None when the submit failed) per pair, in order.
    """
    submit = submit_request(gateway, body)

    async def pair(conn: Connection, _index: int) -> tuple[Reply, Reply | None]:
        created = await conn.request(submit)
        if created.status != 202:
            return created, None
        task_id = json.loads(created.body)["task_id"]
        return created, await conn.request(cancel_request(gateway, task_id))

    work = fan_out(gateway.port, range(count), pair, concurrency=concurrency, rate=rate)
    return run_async(work)


# --------------------------------------------------------------------------------------------
# figures


@dataclass
class Lags:
    """The lags (seconds) of those told, out of how many were expected."""

    values: list[float]
    expected: int

    def __post_init__(self) -> None:
        self.values = sorted(self.values)

    def within(self, seconds: float) -> float:
        if not self.expected:
            return math.nan
        return sum(1 for v in self.values if v <= seconds) / self.expected

    def ms(self, q: float) -> float:
        return percentile(self.values, q) * 1000

    @property
    def max_ms(self) -> float:
        return self.values[-1] * 1000 if self.values else math.nan

    def quartet(self) -> str:
        return "/".join(
            f"{x:.0f}" for x in (self.ms(0.5), self.ms(0.95), self.ms(0.99), self.max_ms)
        )

    def triple(self) -> str:
        return "/".join(f"{x:.0f}" for x in (self.ms(0.5), self.ms(0.95), self.max_ms))

    def summary(self) -> str:
        if not self.values:
            return "none"
        return (
            f"p50 {self.ms(0.50):.0f} / p95 {self.ms(0.95):.0f} / p99 {self.ms(0.99):.0f} / "
            f"max {self.max_ms:.0f} ms"
        )

    def figures(self) -> dict[str, float]:
        return {
            "p50_ms": self.ms(0.5),
            "p95_ms": self.ms(0.95),
            "p99_ms": self.ms(0.99),
            "max_ms": self.max_ms,
        }


def lag_figures(**lags: Lags) -> dict[str, dict[str, float]]:
    """`lag_NAME` figures for --json, one per named set of lags."""
    return {f"lag_{name}": values.figures() for name, values in lags.items()}


@dataclass
class Row:
    figure: str
    measured: str
    target: str
    ratio: float | None = None
    passed: bool | None = None

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None or math.isnan(self.ratio) else f"{self.ratio:.3f}"
        passed = "" if self.passed is None else verdict(self.passed)
        return [self.figure, self.measured, self.target, ratio, passed]


COLUMNS = (
    Column("figure", 50, "<"),
    Column("measured", 19),
    Column("target", 13),
    Column("ratio", 7),
    Column("", 4),
)


@dataclass
class Report:
    """What one phase found: table rows, notes, errors, warnings and figures for --json."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def starvation(self, label: str, shares: tuple[float, float, float, float]) -> None:
        on_cpu, others, waiting, _ = shares
        self.notes.append(sched_note(label, shares))
        self.figures["gateway_cpu"] = {
            "main_thread": on_cpu,
            "other_threads": others,
            "main_thread_waiting_for_cpu": waiting,
        }
        if waiting > STARVED:
            self.warnings.append(
                f"{label}: the gateway's main thread waited for a CPU {waiting:.0%} of the time, "
                "so its latencies are inflated by what else ran on the machine"
            )


# --------------------------------------------------------------------------------------------
# 1. waiters


def interleave(kinds: Mapping[str, int]) -> list[str]:
    """Kinds spread evenly through one list, e.g. sse, poll, sse, poll for half and half."""
    placed = [((i + 0.5) / n, kind) for kind, n in kinds.items() for i in range(n)]
    return [kind for _, kind in sorted(placed)]


def spread(items: Sequence[tuple[str, str]], parts: int) -> list[list[tuple[str, str]]]:
    """Round-robin into `parts` lists, each ending with an SSE waiter where it has one.

    A load process counts itself open once its SSE streams have had their first event; ending
    with one means the long-polls it sent before were, in all likelihood, taken in too.
    """
    lists = [list(items[i::parts]) for i in range(parts)]
    for part in lists:
        last_sse = max((i for i, (kind, _) in enumerate(part) if kind == "sse"), default=None)
        if last_sse is not None:
            part.append(part.pop(last_sse))
    return [part for part in lists if part]


@dataclass
class Load:
    """One waiter load process and its files."""

    process: Process
    ready: Path
    out: Path


def start_loads(
    args: argparse.Namespace,
    processes: Processes,
    gateway: Gateway,
    parts: list[list[tuple[str, str]]],
) -> list[Load]:
    loads = []
    workdir = processes.workdir
    for index, part in enumerate(parts):
        name = f"waiters-{index}"
        tasks_file = workdir / f"{name}.tasks.json"
        tasks_file.write_text(json.dumps(part))
        ready, out = workdir / f"{name}.ready.json", workdir / f"{name}.out.json"
        process = processes.helper(
            name,
            SUPPORT,
            "waiters",
            *("--port", str(gateway.port), "--key", gateway.key, "--tasks", str(tasks_file)),
            *("--ready", str(ready), "--out", str(out)),
            *("--open-concurrency", str(args.open_concurrency)),
        )
        loads.append(Load(process, ready, out))
    return loads


def wait_open(args: argparse.Namespace, gateway: Gateway, loads: list[Load]) -> str:
    """Wait until every load process has its waiters open; an error message if they did not."""
    deadline = time.monotonic() + args.open_timeout
    while not all(load.ready.exists() for load in loads):
        for process in [load.process for load in loads] + [gateway]:
            if not process.running():
                raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            return f"waiters not all open after {args.open_timeout:g} s: cancelled anyway"
        time.sleep(0.1)
    return ""


def run_waiters(args: argparse.Namespace, processes: Processes, gateway: Gateway) -> Report:
    report = Report()
    n = args.waiters
    print(f"[waiters] submitting {n} tasks over {args.submit_concurrency} connections...")
    ids, submit_rate = submit_tasks(gateway, n, TASK_BODY, args.submit_concurrency)
    n_sse = round(n * args.sse_share)
    kinds = interleave({"sse": n_sse, "poll": n - n_sse})
    parts = spread(list(zip(kinds, ids, strict=True)), args.load_procs)
    rss_before = memory_mb(gateway.pid)["VmRSS"]
    print(
        f"[waiters] {n} submitted at {submit_rate:.0f}/s; opening {n_sse} SSE streams + "
        f"{n - n_sse} long-polls from {len(parts)} load processes..."
    )
    opening = time.monotonic()
    loads = start_loads(args, processes, gateway, parts)
    late = wait_open(args, gateway, loads)
    if late:
        report.errors.append(late)
    open_seconds = time.monotonic() - opening
    failed_open = sum(json.loads(x.ready.read_text())["errors"] for x in loads if x.ready.exists())
    if failed_open:
        report.errors.append(f"{failed_open} waiters failed while opening")
    time.sleep(1.0)  # the last requests in flight settle
    rss_open = memory_mb(gateway.pid)["VmRSS"]
    print(
        f"[waiters] open in {open_seconds:.1f} s, gateway RSS {rss_open:.0f} MB; "
        f"letting them wait {args.hold:g} s..."
    )
    idle_cpu = cpu_share(gateway.pid, args.hold) if args.hold > 0 else math.nan

    print(
        f"[waiters] gateway used {idle_cpu:.0%} of a core meanwhile; cancelling all {n} tasks "
        f"over {args.cancel_concurrency} connections..."
    )
    order = list(ids)
    random.Random(6).shuffle(order)
    sched_before = Sched.of(gateway.pid)
    replies, cancel_rate = cancel_tasks(
        gateway, order, args.cancel_concurrency, rate=args.cancel_rate
    )
    finished: dict[str, str] = {}
    answered: dict[str, float] = {}
    for task_id, reply in zip(order, replies, strict=True):
        if reply.status == 200:
            finished[task_id] = json.loads(reply.body)["finished_at"]
            answered[task_id] = reply.received_at
        else:
            report.errors.append(f"cancel {task_id}: HTTP {reply.status} {reply.body[:200]!r}")
    cancel_ms = sorted((r.received_at - r.sent_at) * 1000 for r in replies)
    print(f"[waiters] cancelled at {cancel_rate:.0f}/s; waiting for the waiters to be told...")
    done_by = time.monotonic() + args.done_timeout
    for load in loads:
        if not load.process.wait(max(0.1, done_by - time.monotonic())):
            processes.stop(load.process, timeout=30)
    shares = Sched.of(gateway.pid).since(sched_before)
    rss_peak = memory_mb(gateway.pid)["VmHWM"]

    lags: dict[str, list[float]] = {"sse": [], "poll": []}
    after_answer: list[float] = []
    repolls = mismatched = 0
    untold: Counter[str] = Counter()
    for load in loads:
        if not load.out.exists():
            raise RuntimeError(f"{load.process.name} wrote no results:\n{load.process.log_tail()}")
        result = json.loads(load.out.read_text())
        report.errors.extend(f"{load.process.name}: {e}" for e in result["errors"])
        for record in result["records"]:
            repolls += max(0, record["polls"] - 1)
            if record["error"] or not record["seen_at"] or not record["finished_at"]:
                untold[record["error"][:120] or "never told"] += 1
                continue
            if finished.get(record["task_id"]) != record["finished_at"]:
                mismatched += 1
            lags[record["kind"]].append(record["seen_at"] - epoch(record["finished_at"]))
            if record["task_id"] in answered:
                after_answer.append(record["seen_at"] - answered[record["task_id"]])
    for reason, count in untold.most_common(5):
        report.errors.append(f"{count} waiters not told: {reason}")
    if mismatched:
        report.errors.append(f"{mismatched} waiters were told another finished_at than the cancel")
    report.errors += gateway.logged_errors()

    every = Lags(lags["sse"] + lags["poll"], n)
    sse, poll = Lags(lags["sse"], n_sse), Lags(lags["poll"], n - n_sse)
    after = Lags(after_answer, n)
    within = every.within(TOLD_WITHIN_S)
    report.rows.append(
        Row(
            f"waiters told within 1 s ({n_sse} SSE + {n - n_sse} long-poll)",
            f"{within:.2%}",
            "100 %",
            within,
            within >= 1.0,
        )
    )
    for label, kind in (("SSE", sse), ("long-poll", poll)):
        if kind.expected:
            row = Row(f"  {label} lag p50/p95/p99/max ms", kind.quartet(), "max <= 1000")
            row.ratio, row.passed = kind.max_ms / 1000, kind.within(TOLD_WITHIN_S) >= 1.0
            report.rows.append(row)
    report.rows.append(
        Row(
            "gateway RSS peak, VmHWM (MB)",
            f"{rss_peak:.0f}",
            "<= 500",
            rss_peak / RSS_TARGET_MB,
            rss_peak <= RSS_TARGET_MB,
        )
    )
    report.rows.append(
        Row(f"gateway CPU while {n} waiters wait (core)", f"{idle_cpu:.0%}", "none set")
    )
    report.notes.append(
        f"waiters: {n} tasks submitted at {submit_rate:.0f}/s; waiters opened in "
        f"{open_seconds:.1f} s; gateway RSS {rss_before:.0f} MB before them, {rss_open:.0f} MB "
        f"with all open, {rss_peak:.0f} MB at its peak; completion = POST /v1/tasks/{{id}}/cancel "
        f"at {cancel_rate:.0f}/s over {args.cancel_concurrency} connections (answered in p50 "
        f"{percentile(cancel_ms, 0.5):.0f} ms, p99 {percentile(cancel_ms, 0.99):.0f} ms)"
    )
    slow = {kind: sum(1 for v in lags[kind] if v > TOLD_WITHIN_S) for kind in lags}
    very_late = sum(1 for v in every.values if v > 10.0)
    report.notes.append(
        f"told after more than 1 s: {slow['sse']} SSE and {slow['poll']} long-poll waiters; "
        f"after more than 10 s: {very_late}; never told: {sum(untold.values())}"
    )
    report.notes.append(
        f"waiter lag from finished_at: {every.summary()}; from the cancel's answer arriving "
        f"instead: {after.summary()}; long-polls asked again {repolls} times "
        f"(wait={LONG_POLL_WAIT} ran out)"
    )
    report.starvation("waiters, from the first cancel to the last waiter told", shares)
    report.figures.update(
        waiters=n,
        sse=n_sse,
        long_polls=n - n_sse,
        told_within_1s=within,
        **lag_figures(all=every, sse=sse, long_poll=poll, after_cancel_answer=after),
        rss_mb={"before": rss_before, "open": rss_open, "peak": rss_peak},
        idle_cpu=idle_cpu,
        submit_per_s=submit_rate,
        cancel_per_s=cancel_rate,
        open_seconds=open_seconds,
        late_over_1s=slow,
        late_over_10s=very_late,
    )
    return report


# --------------------------------------------------------------------------------------------
# 2. webhooks


def standard_signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def start_receiver(processes: Processes) -> tuple[Process, Path]:
    """The webhook receiver, once it answers; and the file it writes what it received to."""
    port = free_port()
    received = processes.workdir / "received.json"
    argv = ["receiver", "--port", str(port), "--out", str(received)]
    receiver = processes.helper("receiver", SUPPORT, *argv, port=port)
    wait_http(receiver, "/count")
    return receiver, received


def wait_count(port: int, wanted: int, timeout: float) -> int:
    """Poll the receiver until it has `wanted` deliveries or `timeout` passes; its count."""
    deadline = time.monotonic() + timeout
    while True:
        count = int(httpx.get(f"http://{HOST}:{port}/count", timeout=5).json()["count"])
        if count >= wanted or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def webhook_row(figure: str, lags: Lags, all_told: bool) -> Row:
    """A row for a webhook lag p95 against its target."""
    p95 = lags.ms(0.95)
    ratio = p95 / WEBHOOK_P95_TARGET_MS
    return Row(figure, f"{p95:.0f}", "< 200", ratio, p95 < WEBHOOK_P95_TARGET_MS and all_told)


def run_webhooks(args: argparse.Namespace, processes: Processes) -> Report:
    report = Report()
    gateway = processes.gateway("gateway-webhooks", run_engine=True, allow_loopback=True)
    receiver, received_file = start_receiver(processes)
    port = receiver.port
    with gateway.client() as client:
        secret = client.get("/v1/account").raise_for_status().json()["webhook_secret"]
    body = {**TASK_BODY, "callback_url": f"http://{HOST}:{port}/hook"}
    renders, each = args.webhook_renders, args.webhooks
    paced_label = f"cancelled, {args.webhook_rate:g}/s"
    sched_before = Sched.of(gateway.pid)

    # 1. Rendered to completion by the local renderer (two at a time, the default).
    print(f"[webhooks] rendering {renders} tasks...")
    submit_tasks(gateway, renders, body, 2)
    wait_count(port, renders, args.webhook_timeout)
    # 2. Submitted and cancelled at once, pair after pair, at a steady rate.
    print(f"[webhooks] submitting and cancelling {each} tasks at {args.webhook_rate:g}/s...")
    started = time.monotonic()
    pairs = submit_then_cancel(gateway, body, each, rate=args.webhook_rate, concurrency=4)
    paced_rate = each / (time.monotonic() - started)
    paced_ids = {
        json.loads(created.body)["task_id"] for created, _ in pairs if created.status == 202
    }
    # 3. Submitted first, then all cancelled as fast as the gateway goes.
    print(f"[webhooks] submitting {each} tasks, then cancelling them in a burst...")
    burst_ids, _ = submit_tasks(gateway, each, body, 4)
    burst, burst_rate = cancel_tasks(gateway, burst_ids, args.cancel_concurrency)

    replies = [created for created, _ in pairs] + [c for _, c in pairs if c is not None] + burst
    # 409 on cancel: the engine had already rendered that one, so it reports task.completed.
    rendered_first = sum(1 for r in replies if r.status == 409)
    for reply in replies:
        if reply.status not in (200, 202, 409):
            report.errors.append(f"submit/cancel: HTTP {reply.status} {reply.body[:200]!r}")
    expected = renders + len(paced_ids) + len(burst_ids)  # each task ends once: one delivery
    wait_count(port, expected, args.webhook_timeout)
    time.sleep(0.5)  # room for duplicates, which would show below
    shares = Sched.of(gateway.pid).since(sched_before)
    processes.stop(receiver)
    processes.stop(gateway)
    report.errors += gateway.logged_errors()

    seen: set[str] = set()
    duplicates = bad = 0
    groups: dict[str, list[float]] = {
        "completed (rendered)": [],
        paced_label: [],
        "cancelled, burst": [],
    }
    for item in json.loads(received_file.read_text()):
        headers, raw = item["headers"], item["body"].encode()
        message_id = headers.get("webhook-id", "")
        wanted = standard_signature(secret, message_id, headers.get("webhook-timestamp", ""), raw)
        if not any(
            hmac.compare_digest(wanted, given)
            for given in headers.get("webhook-signature", "").split()
        ):
            bad += 1
        if message_id in seen:
            duplicates += 1
            continue
        seen.add(message_id)
        payload = json.loads(raw)
        task = payload["data"]
        lag = item["arrived_at"] - epoch(task["finished_at"])
        if payload["type"] == "task.completed":
            groups["completed (rendered)"].append(lag)
        elif payload["type"] == "task.cancelled":
            paced = task["task_id"] in paced_ids
            groups[paced_label if paced else "cancelled, burst"].append(lag)
        else:
            report.errors.append(f"delivery {message_id}: unexpected {payload['type']}")
    if len(seen) < expected:
        report.errors.append(f"{expected - len(seen)} of {expected} deliveries never arrived")
    if bad:
        report.errors.append(f"{bad} deliveries with a bad signature")

    every = Lags([lag for values in groups.values() for lag in values], expected)
    steady_values = groups["completed (rendered)"] + groups[paced_label]
    steady = Lags(steady_values, renders + len(paced_ids))
    burst_lags = Lags(groups["cancelled, burst"], len(burst_ids))
    all_told = len(seen) == expected
    steady_figure = f"webhook lag p95 ms, steady: rendered + {args.webhook_rate:g}/s"
    report.rows.append(webhook_row(steady_figure, steady, all_told))
    for label in ("completed (rendered)", paced_label):
        lags = Lags(groups[label], len(groups[label]))
        if lags.values:
            figure = f"  {label} (n={len(lags.values)}) p50/p95/max ms"
            report.rows.append(Row(figure, lags.triple(), ""))
    if burst_lags.values:
        burst_figure = f"webhook lag p95 ms, burst of {len(burst_ids)} cancels (stress)"
        report.rows.append(webhook_row(burst_figure, burst_lags, all_told))
        report.rows.append(Row("  p50/p95/max ms", burst_lags.triple(), ""))
    report.notes.append(
        f"webhooks: {len(seen)} of {expected} delivered, lag of all {every.summary()}; "
        f"submit+cancel pairs at {paced_rate:.0f}/s "
        f"({args.webhook_rate:g}/s asked), burst cancels at {burst_rate:.0f}/s over "
        f"{args.cancel_concurrency} connections; {rendered_first} tasks were rendered before "
        f"their cancel; {duplicates} duplicate deliveries; {bad} bad signatures"
    )
    report.starvation("webhooks, from the first submit to the last delivery", shares)
    report.figures |= {
        "expected": expected,
        "delivered": len(seen),
        "duplicates": duplicates,
        "bad_signatures": bad,
        **lag_figures(all=every, steady=steady, burst=burst_lags),
        "groups": {label: Lags(v, len(v)).figures() for label, v in groups.items() if v},
        "cancel_per_s": {"paced": paced_rate, "burst": burst_rate},
    }
    return report


# --------------------------------------------------------------------------------------------
# 3. idempotency


@dataclass
class Submits:
    """`POST /v1/tasks` runs of one mode, added up."""

    mode: str
    answered: int = 0
    seconds: float = 0.0
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """Gateway CPU (all threads) per answered submit: steadier than the rate on a busy box."""
        return self.cpu_seconds / self.answered * 1000 if self.answered else math.nan

    def add(self, one: LoadResult) -> None:
        self.answered += one.count(202)
        self.seconds += one.seconds
        self.p50_ms.append(percentile(one.latencies, 0.50) * 1000)
        self.p99_ms.append(percentile(one.latencies, 0.99) * 1000)
        self.server_cpu.append(one.server_cpu)
        self.cpu_seconds += one.server_cpu * one.seconds
        self.statuses.update(one.statuses_total)

    def describe(self) -> str:
        return (
            f"{self.mode}: {self.rate:.0f}/s, p50 {'/'.join(f'{x:.0f}' for x in self.p50_ms)} ms, "
            f"p99 {'/'.join(f'{x:.0f}' for x in self.p99_ms)} ms, gateway CPU "
            f"{'/'.join(f'{x:.0%}' for x in self.server_cpu)} of a core, "
            f"{self.cpu_ms:.2f} ms of it per submit"
        )


def submit_load(
    args: argparse.Namespace, processes: Processes, gateway: Gateway, mode: str
) -> LoadResult:
    """One run of the submit load: no `Idempotency-Key`, a unique one per request, or a replayed
    one (its first request, alone, creates the task)."""
    body = json.dumps(TASK_BODY).encode()
    headers = [gateway.auth]
    tag = f"{os.getpid()}-{time.time_ns()}"
    if mode == "replay":
        headers.append(("Idempotency-Key", f"bench-replay-{tag}"))
        request = request_bytes("POST", "/v1/tasks", gateway.port, headers, body)
        first = run_async(Connection(gateway.port).request(request))
        if first.status != 202:
            raise RuntimeError(f"first replay submit answered {first.status}: {first.body!r}")
    return processes.run_load(
        gateway,
        method="POST",
        path="/v1/tasks",
        headers=headers,
        body=body,
        concurrency=args.submit_concurrency,
        duration=args.duration,
        warmup=args.warmup,
        sequence_header=("Idempotency-Key", f"bench-{tag}-") if mode == "unique" else None,
        count_tasks=True,
    )


def run_idempotency(args: argparse.Namespace, processes: Processes, gateway: Gateway) -> Report:
    report = Report()
    runs = {mode: Submits(mode) for mode in ("none", "unique", "replay")}
    sched_before = Sched.of(gateway.pid)
    # ABBA order (none, unique, unique, none, ...): a drift over time, as the store grows,
    # then weighs on both modes alike.
    pairs = [("none", "unique") if r % 2 == 0 else ("unique", "none") for r in range(args.rounds)]
    for mode in [m for pair in pairs for m in pair] + ["replay"]:
        print(f"[idempotency] {mode}: {args.warmup:g} s warm-up + {args.duration:g} s...")
        one = submit_load(args, processes, gateway, mode)
        runs[mode].add(one)
        if mode == "replay" and one.distinct_tasks != 1:
            report.errors.append(f"replays answered {one.distinct_tasks} tasks, not 1")
    shares = Sched.of(gateway.pid).since(sched_before)
    for run in runs.values():
        report.errors += [
            f"submits ({run.mode}): {n} answers with HTTP {code}"
            for code, n in run.statuses.items()
            if code != "202"
        ]
    without, unique, replay = runs["none"], runs["unique"], runs["replay"]
    for label, run in (
        ("submits/s without Idempotency-Key", without),
        ("submits/s with a unique Idempotency-Key", unique),
    ):
        report.rows.append(
            Row(
                label,
                f"{run.rate:.0f}",
                ">= 300 (a)",
                run.rate / SUBMITS_REFERENCE,
                run.rate >= SUBMITS_REFERENCE,
            )
        )
    ratio = unique.rate / without.rate if without.rate else math.nan
    cpu_ratio = unique.cpu_ms / without.cpu_ms
    report.rows.append(Row("  with key / without, same load", f"{ratio:.3f}", "none set"))
    report.rows.append(
        Row(
            "  gateway CPU ms per submit, without / with key",
            f"{without.cpu_ms:.2f} / {unique.cpu_ms:.2f}",
            "",
        )
    )
    report.rows.append(Row("  replays/s (one key sent again and again)", f"{replay.rate:.0f}", ""))
    report.notes.append(
        f"idempotency ({args.rounds} rounds of {args.duration:g} s per mode, in ABBA order, "
        f"{args.submit_concurrency} connections; (a) bench/submits.py's target, issue 6 sets "
        "none): " + "; ".join(run.describe() for run in (without, unique, replay))
    )
    report.starvation("idempotency, all rounds", shares)
    report.figures.update(
        {
            run.mode: {
                "per_s": run.rate,
                "p50_ms": run.p50_ms,
                "p99_ms": run.p99_ms,
                "cpu_ms_per_submit": run.cpu_ms,
            }
            for run in (without, unique, replay)
        },
        ratio=ratio,
        cpu_ratio=cpu_ratio,
    )
    return report


# --------------------------------------------------------------------------------------------
# main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--waiters", type=int, default=10_000, help="waiters (and tasks) in phase 1")
    add("--sse-share", type=float, default=0.5, help="share of the waiters that use SSE")
    add("--load-procs", type=int, default=2, help="load processes holding the waiters")
    add("--open-concurrency", type=int, default=64, help="SSE opens in flight per load process")
    add("--open-timeout", type=float, default=180.0, help="seconds for all waiters to open")
    add("--hold", type=float, default=20.0, help="seconds the open waiters wait idle")
    add("--done-timeout", type=float, default=30.0, help="seconds after the last cancel")
    add("--submit-concurrency", type=int, default=16, help="connections for submits")
    add("--cancel-concurrency", type=int, default=8, help="connections for cancels")
    add("--cancel-rate", type=float, default=0.0, help="waiter-phase cancels/s (0: flat out)")
    add("--webhooks", type=int, default=200, help="tasks cancelled paced (as many in a burst)")
    add("--webhook-rate", type=float, default=20.0, help="paced cancels per second")
    add("--webhook-renders", type=int, default=10, help="tasks rendered to completion")
    add("--webhook-timeout", type=float, default=120.0, help="seconds to wait for deliveries")
    add("--duration", type=float, default=5.0, help="measured seconds per submit round")
    add("--warmup", type=float, default=1.0, help="warm-up seconds per submit round")
    add("--rounds", type=int, default=2, help="rounds per mode, ABBA order")
    add("--only", default=",".join(PHASES), help="comma-separated phases to run")
    add("--max-seconds", type=int, default=900, help="give up (and clean up) after this")
    add("--json", type=Path, help="also write the figures to this JSON file")
    args = parse_with_quick(parser, QUICK, argv)
    args.phases = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"--only: unknown phase(s) {', '.join(sorted(unknown))}")
    if not 0 <= args.sse_share <= 1:
        parser.error("--sse-share must be within 0-1")
    if args.waiters < 1 or args.load_procs < 1 or args.webhooks < 0 or args.rounds < 1:
        parser.error("--waiters, --load-procs and --rounds must be >= 1, --webhooks >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    fd_limit = raise_fd_limit(args.waiters + 1024)
    if "waiters" in args.phases and fd_limit < args.waiters + 512:
        print(f"RLIMIT_NOFILE is {fd_limit}: too low for {args.waiters} waiters", file=sys.stderr)
        return 2
    cores = cpu_count()
    print(
        f"vidgate push benchmark: {cores} cores, load average {load_average()} (1/5/15 min), "
        f"fd limit {fd_limit}, 127.0.0.1; task {json.dumps(TASK_BODY)}"
    )
    reports: dict[str, Report] = {}
    with bounded(args.max_seconds), Processes("vidgate-bench-push-") as processes:
        if "waiters" in args.phases or "idempotency" in args.phases:
            first = processes.gateway("gateway-waiters", run_engine=False, allow_loopback=True)
            if "waiters" in args.phases:
                reports["waiters"] = run_waiters(args, processes, first)
            if "idempotency" in args.phases:
                reports["idempotency"] = run_idempotency(args, processes, first)
            processes.stop(first)
        if "webhooks" in args.phases:
            reports["webhooks"] = run_webhooks(args, processes)

    print(f"\nload average at the end: {load_average()}\n")
    rows = [row.cells() for name in PHASES if name in reports for row in reports[name].rows]
    print("\n".join(table(COLUMNS, rows)))
    print("\nratio = measured / target ('told within 1 s': the share told; lags: max / 1 s)")
    for report in reports.values():
        for note in report.notes:
            print(f"- {note}")
    warnings = [w for report in reports.values() for w in report.warnings]
    errors = [e for report in reports.values() for e in report.errors]
    for title, lines in (("WARNINGS", warnings), ("ERRORS", errors)):
        if lines:
            print(f"\n{title}:")
            for line in lines[:20]:
                print(f"- {line}")
    if args.json is not None:
        figures: dict[str, Any] = {name: report.figures for name, report in reports.items()}
        figures.update(args=sys.argv[1:], cores=cores, errors=errors, warnings=warnings)
        args.json.write_text(json.dumps(figures, indent=2))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
