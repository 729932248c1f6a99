"""The load processes of `bench/push.py`: the waiters and a webhook receiver.

Run as a script it is one of the helper processes that benchmark starts, so that the gateway,
the load and the orchestrating script each have their own interpreter (and GIL):

    python bench/push_support.py waiters --port P --key K --tasks F --ready F --out F
        holds one SSE stream (`GET /v1/tasks/{id}/events`) or one long-poll
        (`GET /v1/tasks/{id}?wait=120`) per task listed in F, and records when each one saw its
        task's terminal status; writes the ready file once every waiter is open, and the
        results when every waiter is done (or on SIGTERM)
    python bench/push_support.py receiver --port P --out F
        a webhook receiver that records the arrival time of every POST and answers 204;
        `GET /count` answers how many arrived; writes them all to F on SIGTERM

Both are written on raw asyncio protocols (uvloop when installed) rather than an HTTP client
library, so that the load costs the two-core machine as little CPU as possible, and time stamps
are taken in `data_received`, as the bytes arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from harness import (
    HOST,
    TERMINAL,
    helper_parser,
    raise_fd_limit,
    request_bytes,
    run_async,
    status_of,
    take_message,
)

TERMINAL_EVENTS = tuple(f"event: task.{status}\n".encode() for status in TERMINAL)
LONG_POLL_WAIT = 120


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
            status = status_of(bytes(self.buffer[:end]))
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
        message = take_message(self.buffer)
        if message is None:
            return
        head, body = message
        status = status_of(head)
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
        while (message := take_message(self.buffer)) is not None:
            self._answer(now, *message)

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
# entry point of the helper processes


def build_parser() -> argparse.ArgumentParser:
    parser, commands = helper_parser(
        "bench/push.py helper processes",
        waiters="hold SSE streams and long-polls",
        receiver="a webhook receiver",
    )
    add = commands["waiters"].add_argument
    add("--key", required=True)
    add("--tasks", required=True, help="JSON list of [kind, task_id]")
    add("--ready", required=True, help="written once every waiter is open")
    add("--out", required=True, help="written with the results at the end")
    add("--open-concurrency", type=int, default=64)
    add("--open-rate", type=float, default=0.0)
    commands["receiver"].add_argument("--out", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "waiters":
        records = len(json.loads(Path(args.tasks).read_text()))
        raise_fd_limit(records + 256)
        run_async(_waiters(args))
    else:
        run_async(_receiver(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
