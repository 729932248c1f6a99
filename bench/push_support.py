"""Plumbing for `bench/push.py`: a raw HTTP/1.1 client, the waiter load, a webhook receiver.

Imported by `bench/push.py`. Run as a script it is one of the helper processes that benchmark
starts, so that the gateway, the load and the orchestrating script each have their own
interpreter (and GIL):

    python bench/push_support.py waiters --port P --key K --tasks F --ready F --out F
        holds one SSE stream (`GET /v1/tasks/{id}/events`) or one long-poll
        (`GET /v1/tasks/{id}?wait=120`) per task listed in F, and records when each one saw its
        task's terminal status; writes the ready file once every waiter is open, and the
        results when every waiter is done (or on SIGTERM)
    python bench/push_support.py receiver --port P --out F
        a webhook receiver that records the arrival time of every POST and answers 204;
        `GET /count` answers how many arrived; writes them all to F on SIGTERM
    python bench/push_support.py submits --port P --key K --mode none|unique|replay ...
        `POST /v1/tasks` over N keep-alive connections for a warm-up and a measured window,
        without an `Idempotency-Key`, with a unique one per request, or with one key replayed;
        prints one JSON object with its measurements

Everything is written on raw asyncio protocols (uvloop when installed) rather than an HTTP
client library, so that the load costs the two-core machine as little CPU as possible, and
time stamps are taken in `data_received`, as the bytes arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

HOST = "127.0.0.1"
TERMINAL = ("completed", "failed", "cancelled")
TERMINAL_EVENTS = tuple(f"event: task.{status}\n".encode() for status in TERMINAL)
CLK_TCK = os.sysconf("SC_CLK_TCK")
LONG_POLL_WAIT = 120

T = TypeVar("T")

__all__ = [
    "HOST",
    "LONG_POLL_WAIT",
    "TERMINAL",
    "Reply",
    "WaiterRecord",
    "epoch",
    "fan_out",
    "percentile",
    "process_cpu_seconds",
    "request_bytes",
    "run_async",
    "submit_then_cancel",
]


# --------------------------------------------------------------------------------------------
# small helpers


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on uvloop when it is installed, else on the default asyncio loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def epoch(stamp: str) -> float:
    """An ISO 8601 time from the gateway (`...Z` or `...+00:00`) as seconds since the epoch."""
    return datetime.fromisoformat(stamp).timestamp()


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank percentile `q` (0-1) of an ascending sequence; NaN when empty."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 1))))
    return ordered[rank - 1]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads included (Linux /proc)."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        stat = handle.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def request_bytes(
    method: str,
    path: str,
    port: int,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
) -> bytes:
    """One HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "User-Agent: vidgate-bench"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body is not None:
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def _content_length(head: bytes) -> int:
    """The Content-Length of a response head (without its blank line); 0 when absent."""
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    stop = lowered.find(b"\r\n", at + 2)
    return int(lowered[at + 17 : stop if stop >= 0 else len(lowered)])


def _raise_nofile(wanted: int) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# --------------------------------------------------------------------------------------------
# a keep-alive request/response client


@dataclass(frozen=True)
class Reply:
    """One answered request: status, body, and when it was sent and answered (epoch seconds)."""

    status: int
    body: bytes
    sent_at: float
    received_at: float


class _KeepAlive(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection with one request in flight; Content-Length bodies."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.pending: asyncio.Future[tuple[int, bytes, float]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.pending is None or self.pending.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        total = end + 4 + _content_length(bytes(self.buffer[:end]))
        if len(self.buffer) < total:
            return
        now = time.time()
        status = int(self.buffer[9:12])
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        self.pending.set_result((status, body, now))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.pending is not None and not self.pending.done():
            self.pending.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    async def request(self, data: bytes) -> Reply:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("connection closed")
        self.pending = asyncio.get_running_loop().create_future()
        sent_at = time.time()
        self.transport.write(data)
        status, body, received_at = await self.pending
        return Reply(status, body, sent_at, received_at)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _connect(port: int) -> _KeepAlive:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(_KeepAlive, HOST, port)
    return protocol


async def fan_out(
    port: int,
    items: Sequence[T],
    make: Callable[[T], bytes],
    *,
    concurrency: int,
    rate: float = 0.0,
) -> list[Reply]:
    """Send one request per item over `concurrency` keep-alive connections, in order.

    With `rate` > 0 the i-th request is not sent before `start + i / rate`. Returns the replies
    in the order of `items`.
    """
    replies: list[Reply | None] = [None] * len(items)
    cursor = iter(range(len(items)))
    start = time.monotonic()

    async def worker() -> None:
        conn = await _connect(port)
        try:
            for index in cursor:
                if rate > 0:
                    delay = start + index / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                replies[index] = await conn.request(make(items[index]))
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items))))))
    return [reply for reply in replies if reply is not None]


async def submit_then_cancel(
    port: int, key: str, body: bytes, count: int, *, rate: float, concurrency: int
) -> list[tuple[Reply, Reply | None]]:
    """`count` times: submit a task, then cancel it at once; the i-th pair starts at i / rate.

    Returns (submit reply, cancel reply or None when the submit failed) per pair, in order.
    """
    auth = [("Authorization", f"Bearer {key}")]
    submit = request_bytes("POST", "/v1/tasks", port, auth, body)
    pairs: list[tuple[Reply, Reply | None] | None] = [None] * count
    cursor = iter(range(count))
    start = time.monotonic()

    async def worker() -> None:
        conn = await _connect(port)
        try:
            for index in cursor:
                delay = start + index / rate - time.monotonic() if rate > 0 else 0.0
                if delay > 0:
                    await asyncio.sleep(delay)
                created = await conn.request(submit)
                cancelled = None
                if created.status == 202:
                    path = f"/v1/tasks/{json.loads(created.body)['task_id']}/cancel"
                    cancelled = await conn.request(request_bytes("POST", path, port, auth, b""))
                pairs[index] = (created, cancelled)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))
    return [pair for pair in pairs if pair is not None]


# --------------------------------------------------------------------------------------------
# the waiters (one load process)


@dataclass
class WaiterRecord:
    """What one waiter saw. Times are epoch seconds; `finished_at` is the task's, as told."""

    kind: str
    task_id: str
    opened_at: float = 0.0
    ready_at: float = 0.0
    seen_at: float = 0.0
    status: str = ""
    finished_at: str = ""
    polls: int = 0
    error: str = ""


class _Waiter(asyncio.Protocol):
    """One SSE stream or one long-poll, on its own connection, until the task is terminal."""

    def __init__(self, record: WaiterRecord, port: int, key: str, run: _WaiterRun) -> None:
        self.record = record
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.scanned = 0
        self.head_seen = False
        auth = [("Authorization", f"Bearer {key}")]
        if record.kind == "sse":
            path = f"/v1/tasks/{record.task_id}/events"
            self.request = request_bytes(
                "GET", path, port, [*auth, ("Accept", "text/event-stream")]
            )
        else:
            path = f"/v1/tasks/{record.task_id}?wait={LONG_POLL_WAIT}"
            self.request = request_bytes("GET", path, port, auth)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.record.opened_at = time.time()
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.record.polls += 1
        self.transport.write(self.request)
        if self.record.kind == "poll" and self.record.polls == 1:
            self.run.opened(self.record)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        try:
            if self.record.kind == "sse":
                self._sse(now)
            else:
                self._poll(now)
        except Exception as exc:  # a malformed answer: note it and give up on this waiter
            self._fail(f"{type(exc).__name__}: {exc}")

    def _sse(self, now: float) -> None:
        if not self.head_seen:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = int(self.buffer[9:12])
            if status != 200:
                self._fail(f"HTTP {status}: {bytes(self.buffer[end + 4 :])[:200]!r}")
                return
            self.head_seen = True
            self.scanned = end + 4
        if not self.record.ready_at and b"event: task." in self.buffer:
            self.record.ready_at = now
            self.run.opened(self.record)
        for marker in TERMINAL_EVENTS:
            at = self.buffer.find(marker, self.scanned)
            if at < 0:
                continue
            data_at = self.buffer.find(b"data: ", at)
            end = self.buffer.find(b"\n\n", data_at) if data_at >= 0 else -1
            if end < 0:
                return  # the frame is not complete yet
            event = json.loads(bytes(self.buffer[data_at + 6 : end]))
            self._done(now, event["task"])
            return
        # Nothing terminal yet: skip what was scanned, keeping a marker's length for splits.
        self.scanned = max(self.scanned, len(self.buffer) - 32)

    def _poll(self, now: float) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        total = end + 4 + _content_length(bytes(self.buffer[:end]))
        if len(self.buffer) < total:
            return
        status = int(self.buffer[9:12])
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        if status != 200:
            self._fail(f"HTTP {status}: {body[:200]!r}")
            return
        task = json.loads(body)
        if task["status"] in TERMINAL:
            self._done(now, task)
        else:  # the long-poll ran out, or the task changed without ending: ask again
            self._send()

    def _done(self, now: float, task: dict[str, Any]) -> None:
        self.record.seen_at = now
        self.record.status = str(task["status"])
        self.record.finished_at = str(task.get("finished_at") or "")
        self._close()

    def _fail(self, error: str) -> None:
        if not self.record.error:
            self.record.error = error
        self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.run.finished(self.record)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.record.seen_at and not self.record.error:
            self.record.error = f"connection lost before the terminal status: {exc!r}"
            self.run.finished(self.record)


@dataclass
class _WaiterRun:
    records: list[WaiterRecord]
    opening: asyncio.Semaphore
    pending_open: set[int] = field(default_factory=set)
    pending_done: set[int] = field(default_factory=set)
    all_open: asyncio.Event = field(default_factory=asyncio.Event)
    all_done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.pending_open = {id(r) for r in self.records}
        self.pending_done = {id(r) for r in self.records}

    def opened(self, record: WaiterRecord) -> None:
        if id(record) in self.pending_open:
            self.pending_open.discard(id(record))
            self.opening.release()
            if not self.pending_open:
                self.all_open.set()

    def finished(self, record: WaiterRecord) -> None:
        self.opened(record)
        self.pending_done.discard(id(record))
        if not self.pending_done:
            self.all_done.set()


async def _waiters(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    listed = json.loads(Path(args.tasks).read_text())
    records = [WaiterRecord(kind, task_id) for kind, task_id in listed]
    run = _WaiterRun(records, asyncio.Semaphore(args.open_concurrency))
    errors: list[str] = []
    started = time.time()
    try:
        for index, record in enumerate(records):
            if stop.is_set():
                break
            if args.open_rate > 0:
                delay = started + index / args.open_rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await run.opening.acquire()
            try:
                factory = functools.partial(_Waiter, record, args.port, args.key, run)
                await loop.create_connection(factory, HOST, args.port)
            except OSError as exc:
                record.error = f"connect failed: {exc!r}"
                run.finished(record)
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait(
            [asyncio.create_task(run.all_open.wait()), stopped],
            return_when=asyncio.FIRST_COMPLETED,
        )
        Path(args.ready).write_text(
            json.dumps(
                {
                    "opened": sum(1 for r in records if r.opened_at),
                    "errors": sum(1 for r in records if r.error),
                    "seconds": time.time() - started,
                }
            )
        )
        await asyncio.wait(
            [asyncio.create_task(run.all_done.wait()), stopped],
            return_when=asyncio.FIRST_COMPLETED,
        )
        stopped.cancel()
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    Path(args.out).write_text(
        json.dumps({"records": [asdict(r) for r in records], "errors": errors})
    )


# --------------------------------------------------------------------------------------------
# the webhook receiver


class _Receiver(asyncio.Protocol):
    """Records each POST as it completes and answers 204; keep-alive."""

    def __init__(self, received: list[dict[str, Any]]) -> None:
        self.received = received
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            total = end + 4 + _content_length(head)
            if len(self.buffer) < total:
                return
            body = bytes(self.buffer[end + 4 : total])
            del self.buffer[:total]
            self._answer(now, head, body)

    def _answer(self, now: float, head: bytes, body: bytes) -> None:
        assert self.transport is not None
        request_line, *lines = head.decode("latin-1").split("\r\n")
        if request_line.startswith("GET /count"):
            payload = json.dumps({"count": len(self.received)}).encode()
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            return
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.received.append({"arrived_at": now, "headers": headers, "body": body.decode()})
        self.transport.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


async def _receiver(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    received: list[dict[str, Any]] = []
    server = await loop.create_server(lambda: _Receiver(received), HOST, args.port)
    try:
        await stop.wait()
    finally:
        server.close()
        Path(args.out).write_text(json.dumps(received))


# --------------------------------------------------------------------------------------------
# the submit load (idempotency comparison)


async def _submits(args: argparse.Namespace) -> dict[str, Any]:
    body = Path(args.body_file).read_bytes()
    auth = ("Authorization", f"Bearer {args.key}")
    run_tag = f"{os.getpid()}-{time.time_ns()}"
    sequence = iter(range(1 << 62))

    def make() -> bytes:
        headers = [auth]
        if args.mode == "unique":
            headers.append(("Idempotency-Key", f"bench-{run_tag}-{next(sequence)}"))
        elif args.mode == "replay":
            headers.append(("Idempotency-Key", f"bench-replay-{run_tag}"))
        return request_bytes("POST", "/v1/tasks", args.port, headers, body)

    window_start = time.time() + args.warmup
    window_end = window_start + args.duration
    statuses_window: Counter[int] = Counter()
    statuses_total: Counter[int] = Counter()
    latencies: list[float] = []
    task_ids: set[str] = set()

    async def worker() -> None:
        conn = await _connect(args.port)
        try:
            while time.time() < window_end:
                reply = await conn.request(make())
                statuses_total[reply.status] += 1
                if window_start <= reply.received_at < window_end:
                    statuses_window[reply.status] += 1
                    latencies.append(reply.received_at - reply.sent_at)
                    if reply.status in (200, 202):
                        task_ids.add(json.loads(reply.body)["task_id"])
        finally:
            conn.close()

    if args.mode == "replay":  # the first request creates the task; the rest replay it
        conn = await _connect(args.port)
        try:
            first = await conn.request(make())
        finally:
            conn.close()
        if first.status != 202:
            raise RuntimeError(f"first replay submit answered {first.status}: {first.body!r}")
    workers = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
    await asyncio.sleep(max(0.0, window_start - time.time()))
    server_cpu0 = process_cpu_seconds(args.server_pid)
    own_cpu0 = time.process_time()
    await asyncio.sleep(max(0.0, window_end - time.time()))
    server_cpu = process_cpu_seconds(args.server_pid) - server_cpu0
    own_cpu = time.process_time() - own_cpu0
    await asyncio.gather(*workers)
    ordered = sorted(latencies)
    return {
        "mode": args.mode,
        "requests": sum(statuses_window.values()),
        "seconds": args.duration,
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "statuses_window": {str(k): v for k, v in sorted(statuses_window.items())},
        "statuses_total": {str(k): v for k, v in sorted(statuses_total.items())},
        "distinct_tasks": len(task_ids),
        "server_cpu": server_cpu / args.duration,
        "loadgen_cpu": own_cpu / args.duration,
    }


# --------------------------------------------------------------------------------------------
# entry point of the helper processes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="bench/push.py helper processes")
    commands = parser.add_subparsers(dest="command", required=True)
    waiters = commands.add_parser("waiters", help="hold SSE streams and long-polls")
    waiters.add_argument("--port", type=int, required=True)
    waiters.add_argument("--key", required=True)
    waiters.add_argument("--tasks", required=True, help="JSON list of [kind, task_id]")
    waiters.add_argument("--ready", required=True, help="written once every waiter is open")
    waiters.add_argument("--out", required=True, help="written with the results at the end")
    waiters.add_argument("--open-concurrency", type=int, default=64)
    waiters.add_argument("--open-rate", type=float, default=0.0)
    receiver = commands.add_parser("receiver", help="a webhook receiver")
    receiver.add_argument("--port", type=int, required=True)
    receiver.add_argument("--out", required=True)
    submits = commands.add_parser("submits", help="POST /v1/tasks load, printed as JSON")
    submits.add_argument("--port", type=int, required=True)
    submits.add_argument("--key", required=True)
    submits.add_argument("--mode", choices=("none", "unique", "replay"), required=True)
    submits.add_argument("--body-file", required=True)
    submits.add_argument("--concurrency", type=int, default=16)
    submits.add_argument("--duration", type=float, default=5.0)
    submits.add_argument("--warmup", type=float, default=1.0)
    submits.add_argument("--server-pid", type=int, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "waiters":
        records = len(json.loads(Path(args.tasks).read_text()))
        _raise_nofile(records + 256)
        run_async(_waiters(args))
    elif args.command == "receiver":
        run_async(_receiver(args))
    else:
        with contextlib.suppress(BrokenPipeError):
            print(json.dumps(run_async(_submits(args))))
    sys.exit(0)


if __name__ == "__main__":
    main()
